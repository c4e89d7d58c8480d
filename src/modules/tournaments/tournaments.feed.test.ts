import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLeaderboardFeed } from './tournaments.feed.js';
import type { LeaderboardUpdateDto, LiveRatingDto } from './tournaments.schemas.js';

const row = (image_id: number, games: number): LiveRatingDto => ({ image_id, rating: 1500 + games, rd: 300, wins: games, losses: 0, votes: games, championships: 0, events_played: 0, games });

describe('leaderboard feed (board-wide throttle)', () => {
  let pushed: LeaderboardUpdateDto[];
  beforeEach(() => {
    vi.useFakeTimers();
    pushed = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('pushes the first change at once, then at most one merged push per window, and goes quiet', () => {
    const feed = createLeaderboardFeed({ windowMs: 100, push: (u) => pushed.push(u) });
    feed.changed([row(1, 1), row(2, 1)]);
    expect(pushed).toEqual([{ reason: 'vote', items: [row(1, 1), row(2, 1)] }]);
    for (let g = 2; g <= 20; g++) {
      feed.changed([row(1, g), row(3, g)]);
      vi.advanceTimersByTime(10);
    }
    vi.advanceTimersByTime(1000);
    // 190 ms of changes: trailing pushes at 100 and 200 ms, nothing after.
    expect(pushed).toHaveLength(3);
    expect(pushed[2]!.items).toEqual([row(1, 20), row(3, 20)]);
    expect(feed.pending).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps the row with more games when changes arrive out of order', () => {
    const feed = createLeaderboardFeed({ windowMs: 100, push: (u) => pushed.push(u) });
    feed.changed([row(1, 1)]);
    feed.changed([row(1, 5)]);
    feed.changed([row(1, 4)]);
    vi.advanceTimersByTime(100);
    expect(pushed.map((u) => u.items)).toEqual([[row(1, 1)], [row(1, 5)]]);
  });

  it('window 0 pushes every change; close() flushes and stops the timer', () => {
    const every = createLeaderboardFeed({ windowMs: 0, push: (u) => pushed.push(u) });
    every.changed([row(1, 1)]);
    every.changed([row(1, 2)]);
    expect(pushed).toHaveLength(2);
    pushed = [];
    const feed = createLeaderboardFeed({ windowMs: 10_000, push: (u) => pushed.push(u) });
    feed.changed([row(1, 1)]);
    feed.changed([row(2, 1)]);
    feed.close();
    expect(pushed.map((u) => u.items)).toEqual([[row(1, 1)], [row(2, 1)]]);
    expect(vi.getTimerCount()).toBe(0);
    feed.changed([]);
    expect(pushed).toHaveLength(2);
  });

  it('a fit is announced at once', () => {
    const feed = createLeaderboardFeed({ windowMs: 100, push: (u) => pushed.push(u) });
    feed.fitted();
    expect(pushed).toEqual([{ reason: 'fit', items: [] }]);
  });
});
