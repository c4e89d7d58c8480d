import { z } from 'zod';
import { PHOTO_KINDS, PHOTO_STATUSES } from './photos.entity.js';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');

/** What the jobs issue passes to createPhoto; parsed again there so the service is safe on its own. */
export const CreatePhotoInput = z.strictObject({
  ownerId: z.int().positive(),
  originalSha256: Sha256,
  kind: z.enum(PHOTO_KINDS),
  lat: z.number().min(-90).max(90).nullable().default(null),
  lng: z.number().min(-180).max(180).nullable().default(null),
});
export type CreatePhotoInput = z.input<typeof CreatePhotoInput>;

export const PhotoStatusUpdate = z.discriminatedUnion('status', [
  z.strictObject({ status: z.literal('queued') }),
  z.strictObject({ status: z.literal('processing') }),
  z.strictObject({ status: z.literal('completed'), processedSha256: Sha256 }),
  z.strictObject({ status: z.literal('failed'), error: z.string().min(1).max(2000) }),
]);
export type PhotoStatusUpdate = z.infer<typeof PhotoStatusUpdate>;

export const PhotoIdParams = z.strictObject({ id: z.uuid() });

export const PhotoListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional(),
});

export const PhotoFileQuery = z.strictObject({
  type: z.enum(['original', 'processed']).default('processed'),
});

/** The decoded pagination cursor: position after the last item of the previous page. */
export const PhotoCursor = z.strictObject({ t: z.iso.datetime(), id: z.uuid() });

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
