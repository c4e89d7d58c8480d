import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { boxUpscaleOnnx } from '../../../test/helpers/tiny-onnx.js';
import { loadManifestModel, readModelEntries } from './manifest-model.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'easel-weights-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entry = (over: Record<string, unknown> = {}) => ({
  key: 'tiny-x2',
  scale: 2,
  pixelRange: [0, 1],
  layout: 'NCHW',
  file: 'tiny-x2.onnx',
  sha256: 'ignored here',
  ...over,
});

describe('loadManifestModel', () => {
  it('loads the named entry with its scale and pixel range', async () => {
    await writeFile(join(dir, 'tiny-x2.onnx'), boxUpscaleOnnx({ scale: 2, kernel: 1 }));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ models: [entry(), entry({ key: 'other', file: 'other.onnx' })] }));
    const model = await loadManifestModel(dir, 'tiny-x2', { providers: ['cpu'] });
    expect([model.name, model.scale, model.range, model.provider]).toEqual(['tiny-x2', 2, 1, 'cpu']);
    const out = await model.run({ data: Float32Array.from([0.5, 0.25, 1]), channels: 3, height: 1, width: 1 });
    expect(Array.from(out.data)).toEqual([0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 1, 1, 1, 1]);
    await model.release();
  });

  it('says what is wrong: no manifest, a bad entry, an unknown key', async () => {
    await expect(readModelEntries(dir)).rejects.toMatchObject({ status: 503, code: 'weights_missing', message: expect.stringMatching(/npm run weights/) });
    for (const bad of [entry({ pixelRange: [0, 100] }), entry({ layout: 'NHWC' }), entry({ file: '../etc/passwd' }), entry({ scale: 0 })]) {
      await writeFile(join(dir, 'manifest.json'), JSON.stringify({ models: [bad] }));
      await expect(readModelEntries(dir)).rejects.toMatchObject({ code: 'weights_manifest_invalid' });
    }
    await writeFile(join(dir, 'manifest.json'), '{"models": [');
    await expect(readModelEntries(dir)).rejects.toMatchObject({ code: 'weights_manifest_invalid', message: expect.stringMatching(/not JSON/) });
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ models: [entry()] }));
    await expect(loadManifestModel(dir, 'rdn-huge-x8')).rejects.toMatchObject({ status: 503, code: 'model_unknown' });
  });
});
