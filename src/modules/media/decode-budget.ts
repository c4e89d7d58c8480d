/**
 * Image decoding bounded by memory, not by CPU count. A slot-per-core semaphore lets a 64-core host
 * decode 64 × 40-megapixel images at once (gigabytes); a byte budget holds the same bound on any host,
 * and lets many small images through where one large one would have to wait.
 */

/**
 * What decoding one image costs, from its header: 4 bytes per pixel (RGBA, 8 bits per channel) for the
 * decoded bitmap, plus half again for the encoder's working copy (WebP converts to YUV, a rotation
 * needs the whole image). 40 MP ≈ 240 MB, so the 256 MiB default admits the largest allowed image.
 */
export const DECODE_BYTES_PER_PIXEL = 6;

export function estimateDecodeBytes(width: number, height: number): number {
  return width * height * DECODE_BYTES_PER_PIXEL;
}

export interface DecodeBudgetStats {
  capacity: number;
  inUse: number;
  active: number;
  waiting: number;
  /** Highest `inUse` / `active` seen since the budget was made. */
  peakBytes: number;
  peakActive: number;
}

export interface DecodeBudget {
  /**
   * Runs `task` once `bytes` fit in the budget. Waiters are served in arrival order, so a large image
   * is not starved by a stream of small ones. A reservation larger than the whole budget is cut to
   * the budget: it runs alone (callers that may refuse such an image check `fits` first).
   *
   * @example
   * await budget.run(estimateDecodeBytes(probe.width, probe.height), () => makeVariants(path));
   */
  run<T>(bytes: number, task: () => Promise<T>): Promise<T>;
  /** Whether an image of this cost can ever run without taking the whole budget alone. */
  fits(bytes: number): boolean;
  stats(): DecodeBudgetStats;
}

export function createDecodeBudget(capacity: number): DecodeBudget {
  if (!Number.isSafeInteger(capacity) || capacity <= 0) throw new RangeError(`decode budget must be a positive integer, got ${capacity}`);
  let inUse = 0;
  let active = 0;
  let peakBytes = 0;
  let peakActive = 0;
  const queue: { bytes: number; start: () => void }[] = [];

  const take = (bytes: number) => {
    inUse += bytes;
    active++;
    peakBytes = Math.max(peakBytes, inUse);
    peakActive = Math.max(peakActive, active);
  };
  // Strict FIFO: only the head may start, and everything behind it waits with it.
  const drain = () => {
    while (queue.length > 0 && inUse + queue[0]!.bytes <= capacity) {
      const next = queue.shift()!;
      take(next.bytes);
      next.start();
    }
  };

  return {
    async run(bytes, task) {
      const cost = Math.min(Math.max(1, Math.ceil(bytes)), capacity);
      if (queue.length === 0 && inUse + cost <= capacity) take(cost);
      else await new Promise<void>((start) => queue.push({ bytes: cost, start }));
      try {
        return await task();
      } finally {
        inUse -= cost;
        active--;
        drain();
      }
    },
    fits: (bytes) => bytes <= capacity,
    stats: () => ({ capacity, inUse, active, waiting: queue.length, peakBytes, peakActive }),
  };
}
