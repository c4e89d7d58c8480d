import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertLayersModel, hwioToOihw, samePads } from './convert.js';
import { encodeModel } from './onnx-writer.js';
import { type LayersModel, WeightsFormatError, parseModelJson, readLayersModel, splitWeights } from './tfjs-layers.js';
import { loadReferenceModel, runReference } from './tfjs-reference.js';
import { WeightsSourceMissingError, convertModel, ensureWeights, packageDir } from './weights.build.js';
import { DEFAULT_MODELS, type ModelId, SOURCES, modelKey } from './weights.catalog.js';
import { checkEntry, readManifest, sha256 } from './weights.manifest.js';

/** Deterministic pixels (mulberry32), so a failure reproduces. */
function seededImage(seed: number, length: number, max: number): Float32Array {
  let a = seed;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * max;
  }
  return out;
}

async function runOnnx(bytes: Uint8Array, nchw: Float32Array, h: number, w: number): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  try {
    const out = await session.run({ input: new ort.Tensor('float32', nchw, [1, 3, h, w]) });
    return out.output!;
  } finally {
    await session.release();
  }
}

const modelJsonOf = (id: ModelId): string =>
  join(packageDir(SOURCES[id.family].packageName), 'models', `x${id.scale}`, 'model.json');

// Every family at every scale: the four committed files (weights/manifest.json) on 16x12 images, the
// rest (`npm run weights -- --all`) on smaller ones, since pure-JS TF.js is slow on the thick RRDN.
const CASES: { id: ModelId; size: [number, number] }[] = [
  { id: { family: 'rdn-slim', scale: 2 }, size: [16, 12] },
  { id: { family: 'rdn-slim', scale: 4 }, size: [16, 12] },
  { id: { family: 'rdn-medium', scale: 2 }, size: [16, 12] },
  { id: { family: 'rdn-medium', scale: 4 }, size: [16, 12] },
  { id: { family: 'rdn-slim', scale: 3 }, size: [9, 7] },
  { id: { family: 'rdn-slim', scale: 8 }, size: [6, 5] },
  { id: { family: 'rdn-medium', scale: 3 }, size: [9, 7] },
  { id: { family: 'rdn-medium', scale: 8 }, size: [6, 5] },
  { id: { family: 'rrdn-thick', scale: 2 }, size: [8, 6] },
  { id: { family: 'rrdn-thick', scale: 3 }, size: [5, 4] },
  { id: { family: 'rrdn-thick', scale: 4 }, size: [6, 5] },
  { id: { family: 'rrdn-thick', scale: 8 }, size: [4, 3] },
];

describe('ONNX conversion matches the original TF.js model', () => {
  for (const { id, size } of CASES) {
    it(`${modelKey(id)} (${size[0]}x${size[1]})`, async () => {
      const [h, w] = size;
      const max = SOURCES[id.family].pixelRange[1];
      const input = seededImage(id.scale * 1000 + h, 3 * h * w, max);
      const { bytes } = await convertModel(id);
      const reference = await loadReferenceModel(modelJsonOf(id));
      const expected = runReference(reference, input, h, w);
      reference.dispose();
      const actual = await runOnnx(bytes, input, h, w);

      expect(actual.dims).toEqual([1, 3, h * id.scale, w * id.scale]);
      let maxDiff = 0;
      let maxOut = 0;
      const got = actual.data as Float32Array;
      for (let i = 0; i < expected.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[i]! - expected[i]!));
        maxOut = Math.max(maxOut, Math.abs(expected[i]!));
      }
      console.log(`${modelKey(id)}: max |onnx - tfjs| = ${maxDiff.toExponential(2)} (range ${max})`);
      expect(maxOut).toBeGreaterThan(max / 10); // a model that outputs zeros would match nothing
      // Measured: about 1e-6 of the range (float32 summation order); a layout mistake gives ~0.5 of it.
      expect(maxDiff).toBeLessThan(1e-5 * max);
    });
  }
});

describe('layout helpers', () => {
  it('moves HWIO kernels to OIHW', () => {
    const data = Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i);
    const out = hwioToOihw({ shape: [2, 3, 4, 5], data });
    expect(out.shape).toEqual([5, 4, 2, 3]);
    // element [h=1, w=2, i=3, o=4] in HWIO sits at [o=4, i=3, h=1, w=2] in OIHW
    expect(out.data[((4 * 4 + 3) * 2 + 1) * 3 + 2]).toBe(((1 * 3 + 2) * 4 + 3) * 5 + 4);
  });

  it('pads "same" like TF, the odd pixel at the end', () => {
    expect(samePads([3, 3], [1, 1])).toEqual([1, 1, 1, 1]);
    expect(samePads([4, 2], [1, 1])).toEqual([1, 0, 2, 1]);
    expect(samePads([3, 3], [2, 2])).toEqual([2, 2, 2, 2]);
  });
});

describe('refuses what it cannot convert faithfully', () => {
  let slim: LayersModel;
  beforeAll(async () => {
    slim = await readLayersModel(modelJsonOf({ family: 'rdn-slim', scale: 2 }));
  });
  const withLayer = (index: number, patch: (l: LayersModel['layers'][number]) => void): LayersModel => {
    const layers = structuredClone(slim.layers);
    patch(layers[index]!);
    return { ...slim, layers };
  };
  const convIndex = (): number => slim.layers.findIndex((l) => l.class_name === 'Conv2D');

  it.each([
    ['an unknown layer class', (l: LayersModel['layers'][number]) => (l.class_name = 'BatchNormalization')],
    ['strides other than 1', (l: LayersModel['layers'][number]) => (l.config.strides = [2, 2])],
    ['causal padding', (l: LayersModel['layers'][number]) => (l.config.padding = 'causal')],
    ['an unknown activation', (l: LayersModel['layers'][number]) => (l.config.activation = 'gelu')],
    ['channels_first', (l: LayersModel['layers'][number]) => (l.config.data_format = 'channels_first')],
    ['a kernel size that contradicts the weights', (l: LayersModel['layers'][number]) => (l.config.kernel_size = [5, 5])],
    ['a layer read before it exists', (l: LayersModel['layers'][number]) => (l.inbound_nodes = [[['SR', 0, 0, {}]]])],
  ])('%s', (_what, patch) => {
    expect(() => convertLayersModel(withLayer(convIndex(), patch), 'x')).toThrow(WeightsFormatError);
  });

  it('bilinear upsampling and a concat over another axis', () => {
    const up = slim.layers.findIndex((l) => l.class_name === 'UpSampling2D');
    const cat = slim.layers.findIndex((l) => l.class_name === 'Concatenate');
    expect(() => convertLayersModel(withLayer(up, (l) => (l.config.interpolation = 'bilinear')), 'x')).toThrow(
      /nearest/,
    );
    expect(() => convertLayersModel(withLayer(cat, (l) => (l.config.axis = 1)), 'x')).toThrow(/axis/);
  });

  it('a missing weight', () => {
    const weights = new Map(slim.weights);
    weights.delete('F_0/kernel');
    expect(() => convertLayersModel({ ...slim, weights }, 'x')).toThrow(/F_0\/kernel is missing/);
  });

  it('quantized, short or overlong shards and a non-JSON model.json', () => {
    const json = slim.json;
    const bytes = json.weightsManifest[0]!.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 4), 0);
    expect(() => splitWeights(json, [new Uint8Array(bytes)])).not.toThrow();
    expect(() => splitWeights(json, [new Uint8Array(bytes - 4)])).toThrow(/runs past the end/);
    expect(() => splitWeights(json, [new Uint8Array(bytes + 4)])).toThrow(/manifest describes/);
    const quantized = structuredClone(json);
    quantized.weightsManifest[0]!.weights[0]!.quantization = { dtype: 'uint8', scale: 1, min: 0 };
    expect(() => splitWeights(quantized, [new Uint8Array(bytes)])).toThrow(/unquantized float32/);
    expect(() => parseModelJson('{')).toThrow(WeightsFormatError);
    expect(() => parseModelJson('{"format":"graph-model"}')).toThrow(/not a TF.js layers model/);
  });
});

describe('weights folder', () => {
  const repo = join(import.meta.dirname, '..', '..', '..');
  const repoWeights = join(repo, 'weights');
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'easel-weights-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('the committed files match their manifest and a fresh conversion, byte for byte', async () => {
    const manifest = await readManifest(repoWeights);
    // `npm run weights -- --all` adds entries locally; the committed default set must always be there.
    expect(manifest.models.map((m) => m.key)).toEqual(expect.arrayContaining(DEFAULT_MODELS.map(modelKey)));
    for (const entry of manifest.models) {
      expect(await checkEntry(repoWeights, entry)).toEqual([]);
      const fresh = await convertModel({ family: entry.family, scale: entry.scale });
      expect(fresh.entry).toEqual(entry);
    }
  });

  it('ensureWeights converts what is missing or corrupt and leaves sound files alone', async () => {
    const ids: ModelId[] = [{ family: 'rdn-slim', scale: 2 }];
    expect(await ensureWeights(tmp, ids)).toEqual(['rdn-slim-x2']);
    expect(await ensureWeights(tmp, ids)).toEqual([]);
    const file = join(tmp, 'rdn-slim-x2.onnx');
    const good = await readFile(file);
    const bad = Buffer.from(good);
    bad[bad.length - 1] = bad.at(-1)! ^ 0xff;
    await writeFile(file, bad);
    const [entry] = (await readManifest(tmp)).models;
    expect((await checkEntry(tmp, entry!))[0]).toMatch(/sha256/);
    expect(await ensureWeights(tmp, ids)).toEqual(['rdn-slim-x2']);
    expect(sha256(await readFile(file))).toBe(entry!.sha256);
  });

  it('names the missing package when the sources are not installed', () => {
    expect(() => packageDir('@upscalerjs/esrgan-absent')).toThrow(WeightsSourceMissingError);
    expect(() => packageDir('@upscalerjs/esrgan-absent')).toThrow(/not installed/);
  });

  it('npm run weights -- --check passes on the committed folder; an unknown model name exits 2', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'scripts/weights.ts', ...args], { cwd: repo, encoding: 'utf8' });
    const check = run(['--check']);
    expect(check.stdout).toMatch(/models checked, 0 problems/);
    expect(check.status).toBe(0);
    const unknown = run(['rdn-slim-x5']);
    expect(unknown.stderr).toMatch(/unknown model rdn-slim-x5/);
    expect(unknown.status).toBe(2);
  });

  it('encodes deterministically', async () => {
    const model = await readLayersModel(modelJsonOf({ family: 'rdn-slim', scale: 4 }));
    const a = encodeModel(convertLayersModel(model, 'm'), { name: 'p', version: '1' });
    const b = encodeModel(convertLayersModel(model, 'm'), { name: 'p', version: '1' });
    expect(sha256(a)).toBe(sha256(b));
  });
});
