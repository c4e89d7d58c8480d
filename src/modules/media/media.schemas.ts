import { z } from 'zod';
import { IMAGE_FORMATS } from './image.pipeline.js';

// Loose on purpose: a malformed hash is answered with a clear 400 by the handler instead of a
// generic validation error, and the pattern is still documented.
export const MediaParams = z.strictObject({ sha256: z.string().max(128).describe('lowercase hex SHA-256 of the original bytes') });

export const MediaQuery = z.strictObject({
  variant: z.enum(['original', 'thumb', 'webp']).default('original'),
});

/** POST /media carries no fields besides the file. */
export const UploadFields = z.strictObject({});

export const MediaUrls = z.strictObject({ original: z.string(), thumb: z.string(), webp: z.string() });

export const StoredMediaResponse = z.strictObject({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  format: z.enum(IMAGE_FORMATS),
  width: z.int(),
  height: z.int(),
  size: z.int(),
  created: z.boolean().describe('false when identical content was already stored'),
  urls: MediaUrls,
});
export type StoredMediaDto = z.infer<typeof StoredMediaResponse>;
