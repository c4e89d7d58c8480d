import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../platform/errors.js';
import { loadOnnxUpscaleModel, type OnnxUpscaleModel, type PixelRange, type SessionOptions } from './session.js';

/**
 * Loads one model named in `weights/manifest.json` (written by `npm run weights`) behind the
 * `UpscaleModel` adapter. Only the fields inference needs are read, so the converter may add more.
 * Checksums are the converter's business (it verifies them at worker start).
 */

const EntrySchema = z.looseObject({
  key: z.string().min(1),
  scale: z.number().int().positive(),
  pixelRange: z.tuple([z.literal(0), z.union([z.literal(255), z.literal(1)])]),
  layout: z.literal('NCHW'),
  file: z.string().regex(/^[\w.-]+\.onnx$/),
});
const ManifestSchema = z.looseObject({ models: z.array(EntrySchema) });

export type ManifestModelEntry = z.infer<typeof EntrySchema>;

export async function readModelEntries(dir: string): Promise<ManifestModelEntry[]> {
  let text: string;
  try {
    text = await readFile(join(dir, 'manifest.json'), 'utf8');
  } catch (err) {
    throw new AppError(503, 'weights_missing', `No weights manifest in ${dir}; run npm run weights`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AppError(500, 'weights_manifest_invalid', `${dir}/manifest.json is not JSON`, { cause: err });
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) throw new AppError(500, 'weights_manifest_invalid', `${dir}/manifest.json: ${parsed.error.message}`);
  return parsed.data.models;
}

/**
 * @example
 * const model = await loadManifestModel('weights', 'rdn-slim-x2', { providers: ['cuda', 'webgpu', 'cpu'], logger });
 * log.info({ provider: model.provider, failures: model.failures }, 'upscaler ready');
 */
export async function loadManifestModel(dir: string, key: string, opts: SessionOptions = {}): Promise<OnnxUpscaleModel> {
  const entry = (await readModelEntries(dir)).find((e) => e.key === key);
  if (!entry) throw new AppError(503, 'model_unknown', `Model ${key} is not in ${join(dir, 'manifest.json')}`);
  const range: PixelRange = entry.pixelRange[1];
  return loadOnnxUpscaleModel({ name: entry.key, scale: entry.scale, range, model: join(dir, entry.file) }, opts);
}
