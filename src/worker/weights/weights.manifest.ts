/**
 * The weights manifest (`weights/manifest.json`): what each ONNX file is and its checksum. Kept apart from
 * the converter so the worker can verify its files without loading protobufjs or the TF.js packages.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** Bump when the converter's output changes, so stale files are told apart from corrupt ones. */
export const CONVERTER_VERSION = '1';

const EntrySchema = z.object({
  key: z.string(),
  family: z.enum(['rdn-slim', 'rdn-medium', 'rrdn-thick']),
  label: z.string(),
  architecture: z.enum(['rdn', 'rrdn']),
  package: z.string(),
  packageVersion: z.string(),
  scale: z.union([z.literal(2), z.literal(3), z.literal(4), z.literal(8)]),
  pixelRange: z.tuple([z.number(), z.number()]),
  layout: z.literal('NCHW'),
  input: z.object({ name: z.string(), dims: z.array(z.union([z.number(), z.string()])) }),
  output: z.object({ name: z.string(), dims: z.array(z.union([z.number(), z.string()])) }),
  opset: z.number(),
  irVersion: z.number(),
  converterVersion: z.string(),
  file: z.string(),
  bytes: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
const ManifestSchema = z.object({ models: z.array(EntrySchema) });

export type WeightsEntry = z.infer<typeof EntrySchema>;
export type WeightsManifest = z.infer<typeof ManifestSchema>;

export const MANIFEST_FILE = 'manifest.json';

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Reads the manifest; a missing one is an empty manifest, a malformed one an error. */
export async function readManifest(dir: string): Promise<WeightsManifest> {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return { models: [] };
  return ManifestSchema.parse(JSON.parse(await readFile(path, 'utf8')));
}

/** Problems with one manifest entry's file: missing, wrong size or wrong checksum. Empty when sound. */
export async function checkEntry(dir: string, entry: WeightsEntry): Promise<string[]> {
  const path = join(dir, entry.file);
  if (!existsSync(path)) return [`${entry.file}: missing`];
  const bytes = await readFile(path);
  if (bytes.byteLength !== entry.bytes) return [`${entry.file}: ${bytes.byteLength} bytes, manifest says ${entry.bytes}`];
  const actual = sha256(bytes);
  return actual === entry.sha256 ? [] : [`${entry.file}: sha256 ${actual}, manifest says ${entry.sha256}`];
}
