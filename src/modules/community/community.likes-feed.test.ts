import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLikesFeed } from './community.likes-feed.js';
import type { LikesChange } from './community.schemas.js';

const change = (imageId: number, seq: number, like_count = seq): LikesChange => ({ imageId, like_count, seq });

describe('likes feed (per-image throttle)', () => {
  let pushed: LikesChange[];
  beforeEach(() => {
    vi.useFakeTimers();
    pushed = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('pushes a lone change at once and closes the quiet window afterwards', () => {
    const feed = createLikesFeed({ windowMs: 250, push: (c) => pushed.push(c) });
    feed.changed(change(1, 1));
    expect(pushed).toEqual([change(1, 1)]);
    expect(feed.open).toBe(1);
    vi.advanceTimersByTime(250);
    expect(pushed).toHaveLength(1);
    expect(feed.open).toBe(0);
    feed.changed(change(1, 2));
    expect(pushed).toEqual([change(1, 1), change(1, 2)]);
  });

  it('collapses a burst into one push per window, ending on the newest value', () => {
    const feed = createLikesFeed({ windowMs: 250, push: (c) => pushed.push(c) });
    for (let seq = 1; seq <= 50; seq++) {
      feed.changed(change(7, seq));
      vi.advanceTimersByTime(10); // 50 changes over 500 ms
    }
    vi.advanceTimersByTime(1000);
    // Leading push at 0 ms, trailing pushes at 250 and 500 ms; nothing after the burst ends.
    expect(pushed.map((c) => c.seq)).toEqual([1, 25, 50]);
    expect(feed.open).toBe(0);
  });

  it('keeps the highest seq when commits are reported out of order', () => {
    const feed = createLikesFeed({ windowMs: 100, push: (c) => pushed.push(c) });
    feed.changed(change(3, 5));
    feed.changed(change(3, 8, 6));
    feed.changed(change(3, 7, 5)); // older than the pending one
    feed.changed(change(3, 4)); // older than the one already pushed
    vi.advanceTimersByTime(100);
    expect(pushed).toEqual([change(3, 5), change(3, 8, 6)]);
    feed.changed(change(3, 6)); // older than what watchers already saw: dropped
    vi.advanceTimersByTime(100);
    expect(pushed).toHaveLength(2);
  });

  it('throttles each image on its own', () => {
    const feed = createLikesFeed({ windowMs: 100, push: (c) => pushed.push(c) });
    feed.changed(change(1, 1));
    feed.changed(change(2, 1));
    feed.changed(change(1, 2));
    feed.changed(change(2, 2));
    expect(pushed).toEqual([change(1, 1), change(2, 1)]);
    vi.advanceTimersByTime(100);
    expect(pushed.slice(2)).toEqual([change(1, 2), change(2, 2)]);
  });

  it('window 0 pushes every change, in arrival order (the uncoalesced baseline)', () => {
    const feed = createLikesFeed({ windowMs: 0, push: (c) => pushed.push(c) });
    for (const seq of [1, 2, 4, 3]) feed.changed(change(1, seq));
    expect(pushed.map((c) => c.seq)).toEqual([1, 2, 4, 3]);
    expect(feed.open).toBe(0);
  });

  it('close() flushes pending counts at once, stops timers, then passes changes straight through', () => {
    const feed = createLikesFeed({ windowMs: 10_000, push: (c) => pushed.push(c) });
    feed.changed(change(1, 1));
    feed.changed(change(1, 2));
    feed.changed(change(2, 1));
    feed.close();
    expect(pushed).toEqual([change(1, 1), change(2, 1), change(1, 2)]);
    expect(vi.getTimerCount()).toBe(0);
    feed.changed(change(1, 3));
    expect(pushed.at(-1)).toEqual(change(1, 3));
  });
});
