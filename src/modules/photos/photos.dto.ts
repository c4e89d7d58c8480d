import { z } from 'zod';
import { JobDto } from '../jobs/jobs.dto.js';

/**
 * Photo shapes users see over HTTP. Pure zod, no server imports: the client SDK (src/client) derives its types
 * from this file; photos.schemas.ts and photos.entity.ts re-export from here.
 */

export const PHOTO_STATUSES = ['queued', 'processing', 'completed', 'failed'] as const;
export const PHOTO_KINDS = ['upscale', 'bestcut'] as const;

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');

export const PhotoResponse = z.strictObject({
  id: z.uuid(),
  owner_id: z.int(),
  kind: z.enum(PHOTO_KINDS),
  status: z.enum(PHOTO_STATUSES),
  original_sha256: Sha256,
  processed_sha256: Sha256.nullable(),
  latitude: z.number().nullable(),
  longitude: z.number().nullable(),
  error: z.string().nullable(),
  urls: z.strictObject({ original: z.string(), processed: z.string().nullable(), thumb: z.string() }),
  created_at: z.string(),
  updated_at: z.string(),
});
export type PhotoDto = z.infer<typeof PhotoResponse>;

export const PhotoListResponse = z.strictObject({ items: z.array(PhotoResponse), next_cursor: z.string().nullable() });

/** 202 from `POST /photos/upscale|bestcut`: the photo and its job share one id. */
export const PhotoJobResponse = z.object({
  photo_id: z.uuid(),
  job_id: z.uuid(),
  photo: PhotoResponse,
  job: JobDto,
});
