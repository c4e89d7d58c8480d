import type { LikesChange } from './community.schemas.js';

export interface LikesFeedDeps {
  /**
   * Coalescing window per image in ms. 0 pushes every change at once (one push per like per watcher,
   * the behaviour before coalescing; benchmarks use it as the baseline).
   */
  windowMs: number;
  /** Sends one `image:likes` to the image's room (on every node, through the adapter). */
  push: (change: LikesChange) => void;
}

export interface LikesFeed {
  /** A committed like or unlike on this node. */
  changed(change: LikesChange): void;
  /** Pushes every pending count now and stops the timers; later changes are pushed at once. */
  close(): void;
  /** Images with a window open (pending or just pushed); for tests and metrics. */
  readonly open: number;
}

interface Window {
  timer: NodeJS.Timeout;
  /** Highest seq pushed for this image in the current run of windows. */
  pushedSeq: number;
  pending: LikesChange | null;
}

/**
 * Per-image throttle for `image:likes`: the first change of a quiet image is pushed at once, changes
 * inside the following window collapse into one trailing push of the newest value, and a new window
 * starts only when that push happens. So an image sends at most one push per window however fast it
 * is liked, and a lone like still arrives without delay.
 *
 * Newest means highest `seq` (likes_seq, bumped in the same statement as the count), not last
 * arrival: two requests on one node may report their commits out of order. Each node coalesces only
 * its own likes; with several nodes a watcher may get one push per node per window, and since their
 * order across nodes is not guaranteed clients keep the highest seq (documented on ImageLikesPush).
 */
export function createLikesFeed(deps: LikesFeedDeps): LikesFeed {
  const windows = new Map<number, Window>();
  let closed = false;

  function arm(imageId: number): NodeJS.Timeout {
    const timer = setTimeout(() => tick(imageId), deps.windowMs);
    // A pending count must not keep a stopping process alive; close() flushes it instead.
    timer.unref();
    return timer;
  }

  function tick(imageId: number): void {
    const w = windows.get(imageId);
    if (!w) return;
    if (!w.pending) {
      windows.delete(imageId);
      return;
    }
    deps.push(w.pending);
    w.pushedSeq = w.pending.seq;
    w.pending = null;
    w.timer = arm(imageId);
  }

  return {
    changed(change) {
      if (closed || deps.windowMs <= 0) {
        deps.push(change);
        return;
      }
      const w = windows.get(change.imageId);
      if (!w) {
        deps.push(change);
        windows.set(change.imageId, { timer: arm(change.imageId), pushedSeq: change.seq, pending: null });
        return;
      }
      if (change.seq > Math.max(w.pushedSeq, w.pending?.seq ?? -1)) w.pending = change;
    },
    close() {
      closed = true;
      for (const w of windows.values()) {
        clearTimeout(w.timer);
        if (w.pending) deps.push(w.pending);
      }
      windows.clear();
    },
    get open() {
      return windows.size;
    },
  };
}
