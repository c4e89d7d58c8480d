import { availableParallelism } from 'node:os';
import { AppError } from '../../platform/errors.js';

export interface ScryptGate {
  /** Runs `work` when a slot is free; throws 503 `auth_busy` at once when the queue is full too. */
  run<T>(work: () => Promise<T>): Promise<T>;
  stats(): { active: number; queued: number; refused: number };
}

/**
 * Bounds password hashing process-wide. scrypt runs on libuv's small thread pool, so hundreds of
 * concurrent checks from one caller queue there unseen and every sign-in waits behind them (55 ms
 * became 6 s). Here the excess waits in a short visible queue, and beyond it is refused fast.
 */
export function createScryptGate(opts: { concurrency: number; queue: number }): ScryptGate {
  const concurrency = opts.concurrency > 0 ? opts.concurrency : 2 * availableParallelism();
  const waiting: (() => void)[] = [];
  let active = 0;
  let refused = 0;

  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };

  return {
    async run(work) {
      if (active >= concurrency) {
        if (waiting.length >= opts.queue) {
          refused++;
          throw new AppError(503, 'auth_busy', 'Too many password checks in progress; retry shortly', { headers: { 'retry-after': '1' } });
        }
        // The slot is handed over by `release`, so `active` stays counted for the waiter.
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else {
        active++;
      }
      try {
        return await work();
      } finally {
        release();
      }
    },
    stats: () => ({ active, queued: waiting.length, refused }),
  };
}
