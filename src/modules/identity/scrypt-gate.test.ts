import { describe, expect, it } from 'vitest';
import { AppError } from '../../platform/errors.js';
import { createScryptGate } from './scrypt-gate.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('scrypt gate', () => {
  it('runs at most `concurrency` at once, queues up to `queue`, and refuses the rest with 503 at once', async () => {
    const gate = createScryptGate({ concurrency: 2, queue: 1 });
    const blockers = [deferred(), deferred(), deferred()];
    let running = 0;
    let peak = 0;
    const job = (d: ReturnType<typeof deferred>) => gate.run(async () => {
      running++;
      peak = Math.max(peak, running);
      await d.promise;
      running--;
      return 'done';
    });
    const jobs = blockers.map(job);
    await Promise.resolve();
    expect(gate.stats()).toMatchObject({ active: 2, queued: 1 });
    await expect(gate.run(async () => 'x')).rejects.toSatisfy((err: unknown) => err instanceof AppError && err.status === 503 && err.code === 'auth_busy' && err.headers?.['retry-after'] === '1');
    for (const d of blockers) d.resolve();
    expect(await Promise.all(jobs)).toEqual(['done', 'done', 'done']);
    expect(peak).toBe(2);
    expect(gate.stats()).toEqual({ active: 0, queued: 0, refused: 1 });
  });

  it('frees the slot when the work throws', async () => {
    const gate = createScryptGate({ concurrency: 1, queue: 0 });
    await expect(gate.run(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    await expect(gate.run(async () => 7)).resolves.toBe(7);
  });

  it('defaults to twice the cores', async () => {
    const gate = createScryptGate({ concurrency: 0, queue: 0 });
    const d = deferred();
    const first = gate.run(() => d.promise);
    await expect(gate.run(async () => 1)).resolves.toBe(1); // a second slot exists on any machine
    d.resolve();
    await first;
  });
});
