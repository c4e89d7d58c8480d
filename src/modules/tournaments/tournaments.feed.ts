import type { LeaderboardUpdateDto, LiveRatingDto } from './tournaments.schemas.js';

export interface LeaderboardFeedDeps {
  /** At most one `leaderboard:update` per window per node; 0 pushes every change at once. */
  windowMs: number;
  /** Sends one update to the leaderboard room (every node, through the adapter). */
  push: (update: LeaderboardUpdateDto) => void;
}

export interface LeaderboardFeed {
  /** Committed live numbers after a game on this node. */
  changed(rows: readonly LiveRatingDto[]): void;
  /** A Bradley-Terry fit finished: watchers refetch. Sent at once, it is rare. */
  fitted(): void;
  /** Pushes what is pending now and stops the timer; later changes go out at once. */
  close(): void;
  /** Images waiting for the next push (tests, metrics). */
  readonly pending: number;
}

/**
 * Throttle for `leaderboard:update`, one for the whole board: a change on a quiet board goes out at once,
 * changes inside the following window are merged (per image, the row with the most games is the newest)
 * into one trailing push, and the window closes after a window with nothing to send. Votes arriving at any
 * rate cost watchers at most one push per window from each node.
 */
export function createLeaderboardFeed(deps: LeaderboardFeedDeps): LeaderboardFeed {
  const pending = new Map<number, LiveRatingDto>();
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  function flush(): void {
    if (pending.size === 0) return;
    const items = [...pending.values()];
    pending.clear();
    deps.push({ reason: 'vote', items });
  }

  function tick(): void {
    if (pending.size === 0) {
      timer = null;
      return;
    }
    flush();
    arm();
  }

  function arm(): void {
    timer = setTimeout(tick, deps.windowMs);
    // Pending rows must not keep a stopping process alive; close() flushes them instead.
    timer.unref();
  }

  function merge(rows: readonly LiveRatingDto[]): void {
    for (const row of rows) {
      const had = pending.get(row.image_id);
      if (!had || row.games >= had.games) pending.set(row.image_id, row);
    }
  }

  return {
    changed(rows) {
      if (rows.length === 0) return;
      merge(rows);
      if (closed || deps.windowMs <= 0) return flush();
      if (timer) return;
      flush();
      arm();
    },
    fitted() {
      deps.push({ reason: 'fit', items: [] });
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      flush();
    },
    get pending() {
      return pending.size;
    },
  };
}
