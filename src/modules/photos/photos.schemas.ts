import { z } from 'zod';
import { PHOTO_KINDS } from './photos.dto.js';

// The pure shapes clients import (src/client) live in photos.dto.ts; re-exported so server imports stay put.
export { PhotoJobResponse, PhotoListResponse, PhotoResponse, type PhotoDto } from './photos.dto.js';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');

/** What the jobs issue passes to createPhoto; parsed again there so the service is safe on its own. */
export const CreatePhotoInput = z.strictObject({
  /** Given when the photo follows a job: then it is the job's id (migration 0015, a trigger on jobs). */
  id: z.uuid().optional(),
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



/** A coordinate as a multipart text field: a plain decimal within ±max (no '', 'NaN', '1e3'). */
const Coordinate = (max: number) =>
  z.string().trim().regex(/^-?\d{1,3}(\.\d{1,15})?$/, 'must be a decimal number').transform(Number).pipe(z.number().min(-max).max(max)).optional();

/** Text fields of `POST /photos/upscale` (the file comes as `file`). */
export const UpscaleFields = z.strictObject({
  lat: Coordinate(90),
  lng: Coordinate(180),
  scale: z.enum(['2', '4']).default('2').transform((s) => (s === '4' ? 4 : 2) as 2 | 4),
});

/** Text fields of `POST /photos/bestcut` (the candidates come as `files` or `files[]`, 2 to 10). */
export const BestcutFields = z.strictObject({ lat: Coordinate(90), lng: Coordinate(180) });

export const UpscaleUploadDoc = z.object({
  file: z.string().describe('the image (jpeg, png, gif or webp), judged by decoding'),
  lat: z.string().optional().describe('latitude, -90..90'),
  lng: z.string().optional().describe('longitude, -180..180'),
  scale: z.enum(['2', '4']).optional().describe('default 2'),
});

export const BestcutUploadDoc = z.object({
  files: z.array(z.string()).min(2).max(10).describe('2 to 10 images (field `files` or `files[]`)'),
  lat: z.string().optional(),
  lng: z.string().optional(),
});
