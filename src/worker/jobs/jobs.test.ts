import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { BestcutResult, UpscaleResult } from '../../modules/jobs/jobs.events.js';
import { makePng, makeTextFile } from '../../modules/media/test-fixtures.js';
import { AppError } from '../../platform/errors.js';
import { fakeUpscaleModel } from '../inference/fake-models.js';
import { classifyFailure, JobAbortedError } from '../worker.errors.js';
import type { JobContext } from '../worker.handlers.js';
import { bestcutHandler } from './bestcut.js';
import { UPSCALE_OUTPUT, upscaleHandler } from './upscale.js';

const sha = (c: string) => c.repeat(64);
const silent = { debug() {}, info() {}, warn() {}, error() {} };

function context(media: Record<string, Buffer>, controller = new AbortController()) {
  const progress: Array<[string, number]> = [];
  const fetched: string[] = [];
  const ctx: JobContext = {
    jobId: '00000000-0000-4000-8000-000000000001',
    attempt: 1,
    signal: controller.signal,
    progress: (stage, p) => progress.push([stage, p]),
    fetchMedia: async (s) => {
      fetched.push(s);
      const bytes = media[s];
      if (!bytes) throw new AppError(422, 'input_missing', `no ${s}`);
      return bytes;
    },
    logger: silent,
  };
  return { ctx, progress, fetched, controller };
}

describe('upscale handler', () => {
  it('returns a PNG output named by the result, the size, model and provider', async () => {
    const model = fakeUpscaleModel({ scale: 4 });
    const models = { get: async (scale: number, key?: string) => (scale === 4 && key === undefined ? model : Promise.reject(new Error('wrong model'))) };
    const { ctx, progress } = context({ [sha('a')]: await makePng(32, 32) });
    const out = await upscaleHandler({ models, tileSize: 24, overlap: 4 }).run({ sha256: sha('a'), scale: 4 }, ctx);
    expect(out.result).toMatchObject({ sha256: UPSCALE_OUTPUT, width: 128, height: 128, model: model.name, provider: 'js' });
    // Once the hub swaps the name for the stored hash, the result is a valid UpscaleResult.
    expect(UpscaleResult.safeParse({ ...out.result, sha256: sha('f') }).success).toBe(true);
    expect(out.outputs).toHaveLength(1);
    expect(out.outputs![0]).toMatchObject({ name: UPSCALE_OUTPUT, contentType: 'image/png' });
    const meta = await sharp(out.outputs![0]!.data).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 128, 128]);
    expect(progress[0]).toEqual(['fetching', 0]);
    expect(progress.filter(([s]) => s === 'upscaling').map(([, p]) => p)).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });

  it('stops between tiles when cancelled', async () => {
    const model = fakeUpscaleModel({ scale: 2, delayMs: 5 });
    const { ctx, controller } = context({ [sha('a')]: await makePng(64, 64) });
    const run = upscaleHandler({ models: { get: async () => model }, tileSize: 24, overlap: 4 }).run({ sha256: sha('a'), scale: 2 }, ctx);
    setTimeout(() => controller.abort(new JobAbortedError('cancelled', 'stop')), 15);
    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobAbortedError);
    expect(model.calls).toBeLessThan(16);
  });

  it('a non-image input fails for good (415 not_an_image)', async () => {
    const { ctx } = context({ [sha('a')]: makeTextFile() });
    const err = await upscaleHandler({ models: { get: async () => fakeUpscaleModel({ scale: 2 }) } })
      .run({ sha256: sha('a'), scale: 2 }, ctx)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 415, code: 'not_an_image' });
    expect(classifyFailure(err).retryable).toBe(false);
  });
});

describe('bestcut handler', () => {
  it('scores every candidate, fetches each distinct hash once and picks by hash', async () => {
    const sharpImg = await makePng(48, 48);
    const flat = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#777777' } }).png().toBuffer();
    const { ctx, fetched } = context({ [sha('a')]: flat, [sha('b')]: sharpImg });
    const out = await bestcutHandler().run({ sha256s: [sha('a'), sha('b'), sha('a')] }, ctx);
    expect(fetched).toEqual([sha('a'), sha('b')]);
    expect(BestcutResult.safeParse(out.result).success).toBe(true);
    expect(out.result.pick).toBe(sha('b'));
    expect(out.result.scores.map((s) => s.sha256)).toEqual([sha('a'), sha('b'), sha('a')]);
    expect(out.result.scores[1]!.sharpness).toBeGreaterThan(out.result.scores[0]!.sharpness);
    for (const s of out.result.scores) expect(s.ok).toBe(true);
    expect(out.result.scores[0]!.exposure).toBe(1); // flat mid-grey: nothing blown or crushed
    expect(out.result.scores[1]!.exposure).toBeGreaterThan(0.9);
  });

  it('a missing or broken candidate fails the job for good', async () => {
    const { ctx } = context({ [sha('a')]: await makePng(8, 8), [sha('b')]: makeTextFile() });
    const broken = await bestcutHandler().run({ sha256s: [sha('a'), sha('b')] }, ctx).catch((e: unknown) => e);
    expect(broken).toMatchObject({ status: 415 });
    expect((broken as Error).message).toContain('Candidate 2');
    const missing = await bestcutHandler().run({ sha256s: [sha('a'), sha('c')] }, context({ [sha('a')]: await makePng(8, 8) }).ctx).catch((e: unknown) => e);
    expect(classifyFailure(missing)).toMatchObject({ error: { code: 'input_missing' }, retryable: false });
  });
});
