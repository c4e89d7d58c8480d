import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { JobAssign, JobFail, JobProgress } from '../modules/jobs/jobs.events.js';
import { AppError, UnsupportedMediaTypeError } from '../platform/errors.js';
import { classifyFailure, JobAbortedError } from './worker.errors.js';
import { createRegistry, type AnyJobHandler, type JobContext } from './worker.handlers.js';
import { createRunner, type JobCompletion } from './worker.runner.js';

const SHA = 'a'.repeat(64);
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fake bestcut handler whose behaviour each test scripts through `script`. */
function fakeHandlers(script: (ctx: JobContext, input: { sha256s: string[] }) => Promise<void>): AnyJobHandler[] {
  return [
    {
      type: 'bestcut',
      async run(input, ctx) {
        await script(ctx, input);
        return { result: { scores: [], pick: input.sha256s[0]! }, outputs: [{ name: 'o', contentType: 'image/png', data: Buffer.from('png') }] };
      },
    },
  ];
}

function harness(script: (ctx: JobContext, input: { sha256s: string[] }) => Promise<void>, concurrency = 1, progressIntervalMs = 50) {
  const progress: JobProgress[] = [];
  const completed: JobCompletion[] = [];
  const failed: JobFail[] = [];
  const runner = createRunner({
    registry: createRegistry(fakeHandlers(script)),
    concurrency,
    progressIntervalMs,
    sink: { progress: (p) => progress.push(p), complete: (c) => completed.push(c), fail: (f) => failed.push(f) },
    fetchMedia: async () => Buffer.alloc(0),
    logger: silent,
  });
  const assign = (input: unknown = { sha256s: [SHA, SHA] }): JobAssign => {
    const job: JobAssign = { jobId: randomUUID(), type: 'bestcut', input, attempt: 1, leaseMs: 3000 };
    runner.assign(job);
    return job;
  };
  const answered = async (n: number) => {
    for (let i = 0; i < 200 && completed.length + failed.length < n; i++) await sleep(5);
    expect(completed.length + failed.length).toBe(n);
  };
  return { runner, progress, completed, failed, assign, answered };
}

/** A handler that works in `tiles` steps of `ms`, checking its signal between steps like the tiler. */
const tiled = (tiles: number, ms: number) => async (ctx: JobContext) => {
  for (let i = 0; i < tiles; i++) {
    ctx.signal.throwIfAborted();
    await sleep(ms);
    ctx.progress('work', (i + 1) / tiles);
  }
};

describe('worker runner', () => {
  it('runs a job and answers with its result and binary outputs', async () => {
    const h = harness(async (ctx) => ctx.progress('work', 0.5));
    const job = h.assign();
    await h.answered(1);
    expect(h.completed[0]).toMatchObject({ jobId: job.jobId, result: { pick: SHA }, outputs: [{ name: 'o', contentType: 'image/png' }] });
    expect(Buffer.from(h.completed[0]!.outputs[0]!.data).toString()).toBe('png');
    expect(h.progress).toEqual([{ jobId: job.jobId, stage: 'work', progress: 0.5 }]);
    expect(h.runner.runningIds()).toEqual([]);
  });

  it('never runs more than `concurrency` jobs: the extra one is handed back retryable at once', async () => {
    let inFlight = 0;
    let peak = 0;
    const h = harness(async () => {
      peak = Math.max(peak, ++inFlight);
      await sleep(40);
      inFlight--;
    }, 2);
    h.assign();
    h.assign();
    const extra = h.assign();
    expect(h.failed).toEqual([{ jobId: extra.jobId, error: { code: 'worker_busy', message: expect.any(String) }, retryable: true }]);
    expect(h.runner.shortestLeaseMs()).toBe(3000);
    await h.answered(3);
    h.assign(); // a slot is free again
    await h.answered(4);
    expect(peak).toBe(2);
    expect(h.completed).toHaveLength(3);
  });

  it('ignores a second assignment of a job it already runs', async () => {
    const h = harness(() => sleep(20));
    const job = h.assign();
    h.runner.assign(job);
    await h.answered(1);
    await sleep(30);
    expect(h.completed).toHaveLength(1);
    expect(h.failed).toHaveLength(0);
  });

  it('fails bad input for good (invalid_input, not retryable) without calling the handler', async () => {
    let called = false;
    const h = harness(async () => {
      called = true;
    }, 2);
    h.assign({ sha256s: ['nope'] });
    h.assign({ sha256s: [SHA] });
    await h.answered(2);
    expect(called).toBe(false);
    for (const f of h.failed) expect(f).toMatchObject({ error: { code: 'invalid_input' }, retryable: false });
    expect(h.failed[0]!.error.message).toContain('input.sha256s.0');
  });

  it('classifies handler errors: input faults are final, the rest retryable', async () => {
    const errors: unknown[] = [new UnsupportedMediaTypeError('not an image', 'not_an_image'), new AppError(503, 'input_unavailable', 'hub down'), new Error('boom'), 'thrown string'];
    let i = 0;
    const h = harness(async () => {
      throw errors[i++];
    }, 4);
    for (let k = 0; k < errors.length; k++) h.assign();
    await h.answered(4);
    const byCode = Object.fromEntries(h.failed.map((f) => [f.error.code, f.retryable]));
    expect(byCode).toEqual({ not_an_image: false, input_unavailable: true, worker_error: true });
    expect(h.failed.filter((f) => f.error.code === 'worker_error').map((f) => f.error.message).sort()).toEqual(['boom', 'thrown string']);
  });

  it('cancel aborts between tiles and answers cancelled, not retryable; unknown jobs are not cancelled', async () => {
    let tilesRun = 0;
    const h = harness(async (ctx) => {
      for (let i = 0; i < 100; i++) {
        ctx.signal.throwIfAborted();
        await sleep(5);
        tilesRun++;
      }
    });
    const job = h.assign();
    await sleep(30);
    expect(h.runner.cancel(randomUUID(), 'x')).toBe(false);
    expect(h.runner.cancel(job.jobId, 'user asked')).toBe(true);
    await h.answered(1);
    expect(h.failed[0]).toEqual({ jobId: job.jobId, error: { code: 'cancelled', message: 'Cancelled: user asked' }, retryable: false });
    const at = tilesRun;
    await sleep(30);
    expect(tilesRun - at).toBeLessThanOrEqual(1); // stopped within one tile
    expect(h.completed).toHaveLength(0);
  });

  it('answers a cancel at once even when the handler ignores its signal, and drops the late result', async () => {
    const h = harness(() => sleep(150));
    const job = h.assign();
    await sleep(10);
    const t0 = Date.now();
    h.runner.cancel(job.jobId, 'stop');
    await h.answered(1);
    expect(Date.now() - t0).toBeLessThan(100);
    await sleep(200);
    expect(h.completed).toHaveLength(0);
    expect(h.failed).toHaveLength(1);
  });

  it('a dropped job (lease lost) stops and answers nothing', async () => {
    const h = harness(tiled(50, 5));
    const job = h.assign();
    await sleep(20);
    h.runner.drop(job.jobId);
    await sleep(60);
    expect(h.completed).toHaveLength(0);
    expect(h.failed).toHaveLength(0);
    expect(h.runner.runningIds()).toEqual([]);
  });

  it('rate-limits progress per stage but always delivers the latest value, and sends nothing after the answer', async () => {
    const h = harness(async (ctx) => {
      ctx.progress('fetching', 0);
      for (let i = 1; i < 100; i++) ctx.progress('work', i / 100); // 0.01 at once, 0.99 when the interval ends
      await sleep(80);
      ctx.progress('work', 2); // clamped to 1: a stage's end goes out at once
      ctx.progress('work', Number.NaN); // 0, within the interval: held, then superseded by the answer
    });
    h.assign();
    await h.answered(1);
    await sleep(80);
    const stages = h.progress.map((p) => `${p.stage}:${p.progress}`);
    expect(stages).toEqual(['fetching:0', 'work:0.01', 'work:0.99', 'work:1']);
  });

  it('drain: finishes what fits in the grace period, hands back the rest (retryable), refuses new work', async () => {
    const h = harness(async (ctx, input) => (input.sha256s[0] === SHA ? sleep(20) : tiled(1000, 5)(ctx)), 3);
    const quick = h.assign();
    const slow = h.assign({ sha256s: ['b'.repeat(64), SHA] });
    const drained = h.runner.drain(150);
    expect(h.runner.draining).toBe(true);
    const late = h.assign();
    expect(h.failed[0]).toMatchObject({ jobId: late.jobId, error: { code: 'worker_shutdown' }, retryable: true });
    const t0 = Date.now();
    await expect(drained).resolves.toEqual({ finished: 1, handedBack: 1 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(h.completed.map((c) => c.jobId)).toEqual([quick.jobId]);
    expect(h.failed[1]).toMatchObject({ jobId: slow.jobId, error: { code: 'worker_shutdown' }, retryable: true });
  });

  it('drain with nothing running resolves at once', async () => {
    const h = harness(() => sleep(1));
    const t0 = Date.now();
    await h.runner.drain(5000);
    expect(Date.now() - t0).toBeLessThan(100);
  });
});

describe('handler registry', () => {
  it('refuses two handlers for one type and reports the types it runs', () => {
    const [h] = fakeHandlers(async () => {});
    expect(() => createRegistry([h!, h!])).toThrow(/two handlers/);
    const registry = createRegistry([h!]);
    expect(registry.types()).toEqual(['bestcut']);
    expect(registry.has('bestcut')).toBe(true);
    expect(registry.has('upscale')).toBe(false);
  });

  it('a type without a handler fails as unsupported_type (final)', async () => {
    const registry = createRegistry(fakeHandlers(async () => {}));
    const err = await registry.run('upscale', { sha256: SHA, scale: 2 }, {} as JobContext).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unsupported_type', status: 422 });
    expect(classifyFailure(err).retryable).toBe(false);
  });
});

describe('classifyFailure', () => {
  it('uses the abort reason when the signal was aborted', () => {
    const c = new AbortController();
    c.abort(new JobAbortedError('shutdown', 'bye'));
    expect(classifyFailure(new Error('whatever'), c.signal)).toEqual({ error: { code: 'worker_shutdown', message: 'bye' }, retryable: true });
    expect(classifyFailure(new AppError(429, 'rate_limited', 'slow down'))).toMatchObject({ retryable: true });
    expect(classifyFailure(new AppError(413, 'image_too_many_pixels', 'big'))).toMatchObject({ retryable: false });
  });
});
