import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeUpscaleModel } from './inference/fake-models.js';
import { sha256 } from './weights/weights.manifest.js';
import { loadModelCatalog } from './worker.models.js';

const logs: Array<{ msg: string; obj: object }> = [];
const logger = { debug() {}, info() {}, warn: (obj: object, msg: string) => logs.push({ obj, msg }), error: (obj: object, msg: string) => logs.push({ obj, msg }) };

function entry(key: string, scale: number, bytes: Buffer, overrides: Record<string, unknown> = {}) {
  return {
    key,
    family: 'rdn-slim',
    label: key,
    architecture: 'rdn',
    package: '@upscalerjs/esrgan-slim',
    packageVersion: '1.0.0',
    scale,
    pixelRange: [0, 255],
    layout: 'NCHW',
    input: { name: 'input', dims: ['batch', 3, 'height', 'width'] },
    output: { name: 'output', dims: ['batch', 3, 'h', 'w'] },
    opset: 17,
    irVersion: 8,
    converterVersion: '1',
    file: `${key}.onnx`,
    bytes: bytes.byteLength,
    sha256: sha256(bytes),
    ...overrides,
  };
}

describe('model catalog (weights/manifest.json, verified)', () => {
  let dir: string;
  const good = Buffer.from('good model bytes');
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'easel-models-'));
    await writeFile(join(dir, 'rdn-slim-x2.onnx'), good);
    await writeFile(join(dir, 'rdn-slim-x4.onnx'), Buffer.from('truncated')); // manifest says otherwise
    await writeFile(join(dir, 'rdn-medium-x2.onnx'), good);
    const models = [
      entry('rdn-slim-x2', 2, good),
      entry('rdn-slim-x4', 4, good),
      entry('rdn-medium-x2', 2, good),
      entry('rdn-gone-x2', 2, good), // no file
    ];
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ models }));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('offers only files that match the manifest, loads the defaults at start and reports their provider', async () => {
    const loads: Array<[string, readonly string[]]> = [];
    const catalog = await loadModelCatalog({
      dir,
      providers: ['cuda', 'webgpu', 'cpu'],
      cpuThreads: 0,
      logger,
      load: async (_dir, key, providers) => {
        loads.push([key, providers]);
        return Object.assign(fakeUpscaleModel({ scale: key.endsWith('x4') ? 4 : 2 }), { provider: 'webgpu', failures: [{ provider: 'cuda', message: 'no lib' }] });
      },
    });
    expect(catalog.keys).toEqual(['rdn-slim-x2', 'rdn-medium-x2']);
    expect(catalog.scales).toEqual([2]); // the ×4 default is corrupt
    expect(catalog.provider).toBe('webgpu');
    expect(catalog.failures).toEqual([{ provider: 'cuda', message: 'no lib' }]);
    expect(loads).toEqual([['rdn-slim-x2', ['cuda', 'webgpu', 'cpu']]]);
    expect(logs.map((l) => l.msg).filter((m) => m.includes('does not match'))).toHaveLength(2);

    await catalog.get(2, 'rdn-medium-x2');
    await catalog.get(2, 'rdn-medium-x2');
    // Loaded once, starting at the provider that already worked.
    expect(loads.slice(1)).toEqual([['rdn-medium-x2', ['webgpu', 'cpu']]]);
    await expect(catalog.get(4)).rejects.toMatchObject({ status: 422, code: 'model_unknown' });
    await expect(catalog.get(2, 'rdn-slim-x4')).rejects.toMatchObject({ status: 422, code: 'model_unknown' });
    await expect(catalog.get(4, 'rdn-medium-x2')).rejects.toMatchObject({ status: 422, code: 'model_scale_mismatch' });
    await catalog.release();
  });

  it('a model that fails to load leaves the worker up (provider none) and is retried on the next job', async () => {
    let attempts = 0;
    const catalog = await loadModelCatalog({
      dir,
      providers: ['cpu'],
      cpuThreads: 1,
      logger,
      load: async () => {
        if (++attempts === 1) throw new Error('session failed');
        return fakeUpscaleModel({ scale: 2 });
      },
    });
    expect(catalog.provider).toBe('none');
    const model = await catalog.get(2);
    expect(model.scale).toBe(2);
    expect(attempts).toBe(2);
    expect(catalog.provider).toBe('js');
  });

  it('no manifest: no models, no scales', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'easel-models-empty-'));
    try {
      const catalog = await loadModelCatalog({ dir: empty, providers: ['cpu'], cpuThreads: 0, logger });
      expect([catalog.keys, catalog.scales, catalog.provider]).toEqual([[], [], 'none']);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
