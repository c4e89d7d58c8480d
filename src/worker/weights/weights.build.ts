/**
 * Turns upscalerjs packages into `weights/<key>.onnx` files plus `weights/manifest.json`, and checks or
 * repairs an existing weights folder. Output is deterministic (no timestamps), so the committed files can be
 * compared with a fresh conversion byte for byte.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AppError } from '../../platform/errors.js';
import { INPUT_NAME, OUTPUT_NAME, convertLayersModel } from './convert.js';
import { IR_VERSION, OPSET, encodeModel } from './onnx-writer.js';
import { readLayersModel } from './tfjs-layers.js';
import { type ModelId, SOURCES, modelKey } from './weights.catalog.js';
import {
  CONVERTER_VERSION,
  MANIFEST_FILE,
  type WeightsEntry,
  type WeightsManifest,
  checkEntry,
  readManifest,
  sha256,
} from './weights.manifest.js';

/** Conversion needs the upscalerjs packages, which production installs omit. */
export class WeightsSourceMissingError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(503, 'weights_source_missing', message, options);
  }
}

/** The installed package's folder (its package.json is not in its `exports`, so walk up from its entry). */
export function packageDir(packageName: string): string {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = dirname(require.resolve(packageName));
  } catch (cause) {
    // `npm ci --omit=dev` (the Docker image) leaves the sources out on purpose: the ONNX files are committed.
    throw new WeightsSourceMissingError(
      `${packageName} is not installed (a devDependency): run \`npm run weights\` after a full \`npm ci\``,
      { cause },
    );
  }
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate) && (require(candidate) as { name?: string }).name === packageName) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the folder of ${packageName}`);
    dir = parent;
  }
}

/** Converts one model in memory: the ONNX bytes and the manifest entry describing them. */
export async function convertModel(id: ModelId): Promise<{ bytes: Uint8Array; entry: WeightsEntry }> {
  const source = SOURCES[id.family];
  const dir = packageDir(source.packageName);
  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version: string };
  const model = await readLayersModel(join(dir, 'models', `x${id.scale}`, 'model.json'));
  const key = modelKey(id);
  const graph = convertLayersModel(model, key);
  graph.docString = `${source.label} x${id.scale}, converted from ${source.packageName}@${pkg.version} (MIT)`;
  graph.metadata = {
    architecture: source.architecture,
    scale: String(id.scale),
    pixel_range: source.pixelRange.join('-'),
    source: `${source.packageName}@${pkg.version}`,
  };
  const bytes = encodeModel(graph, { name: 'easel-weights', version: CONVERTER_VERSION });
  const entry: WeightsEntry = {
    key,
    family: id.family,
    label: source.label,
    architecture: source.architecture,
    package: source.packageName,
    packageVersion: pkg.version,
    scale: id.scale,
    pixelRange: source.pixelRange,
    layout: 'NCHW',
    input: { name: INPUT_NAME, dims: graph.inputs[0]!.dims },
    output: { name: OUTPUT_NAME, dims: graph.outputs[0]!.dims },
    opset: OPSET,
    irVersion: IR_VERSION,
    converterVersion: CONVERTER_VERSION,
    file: `${key}.onnx`,
    bytes: bytes.byteLength,
    sha256: sha256(bytes),
  };
  return { bytes, entry };
}

async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  // A crash mid-write must not leave a truncated model behind a valid-looking name.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** Converts `ids` into `dir`, merging their entries into the manifest (others are kept, sorted by key). */
export async function writeWeights(
  dir: string,
  ids: readonly ModelId[],
  onModel: (entry: WeightsEntry, ms: number) => void = () => {},
): Promise<WeightsManifest> {
  await mkdir(dir, { recursive: true });
  const manifest = await readManifest(dir);
  const byKey = new Map(manifest.models.map((e) => [e.key, e]));
  for (const id of ids) {
    const started = performance.now();
    const { bytes, entry } = await convertModel(id);
    await writeAtomic(join(dir, entry.file), bytes);
    byKey.set(entry.key, entry);
    onModel(entry, performance.now() - started);
  }
  const next = { models: [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key)) };
  await writeAtomic(join(dir, MANIFEST_FILE), `${JSON.stringify(next, null, 2)}\n`);
  return next;
}

/**
 * Makes sure `ids` exist in `dir` with matching checksums, converting the missing or damaged ones.
 * Called at worker start, so a fresh checkout upscales without a manual step. Returns what it converted.
 */
export async function ensureWeights(dir: string, ids: readonly ModelId[]): Promise<string[]> {
  const manifest = await readManifest(dir);
  const byKey = new Map(manifest.models.map((e) => [e.key, e]));
  const todo: ModelId[] = [];
  for (const id of ids) {
    const entry = byKey.get(modelKey(id));
    if (!entry || entry.converterVersion !== CONVERTER_VERSION || (await checkEntry(dir, entry)).length > 0) {
      todo.push(id);
    }
  }
  if (todo.length > 0) await writeWeights(dir, todo);
  return todo.map(modelKey);
}
