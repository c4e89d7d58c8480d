import { z } from 'zod';
import { TournamentStats } from '../tournaments/tournaments.schemas.js';

/** Path ids: digits only, within int4, so `/images/abc` and `/images/1e3` are 422 before any query. */
export const ImageId = z
  .string()
  .regex(/^[1-9]\d{0,9}$/, 'must be a positive integer')
  .transform(Number)
  .refine((n) => n <= 2_147_483_647, 'out of range');

export const ImageParams = z.strictObject({ id: ImageId });

const Prompt = z.string().trim().min(1, 'must be 1-2000 characters').max(2000, 'must be 1-2000 characters');
const ModelName = z.string().trim().max(100, 'must be at most 100 characters');
const FormBoolean = z.enum(['true', 'false'], 'must be "true" or "false"').transform((v) => v === 'true');

/** Text fields of the `POST /images` multipart form (the file comes separately as `file`). */
export const CreateImageFields = z.strictObject({
  prompt: Prompt,
  model_name: ModelName.optional().transform((v) => (v ? v : null)),
  tournament_opt_in: FormBoolean.default(false),
});
export type CreateImageFields = z.output<typeof CreateImageFields>;

export const PatchImageBody = z
  .strictObject({
    prompt: Prompt.optional(),
    model_name: ModelName.nullable().optional(),
    tournament_opt_in: z.boolean().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'nothing to change' });
export type PatchImageBody = z.output<typeof PatchImageBody>;

const Limit = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);

export const ListImagesQuery = z.strictObject({
  limit: Limit(100, 20),
  cursor: z.string().min(1).max(512).optional(),
  user_id: ImageId.optional(),
});

export const RandomImagesQuery = z.strictObject({ limit: Limit(50, 1) });

/** Windows for `GET /images/top`, as PostgreSQL intervals. */
export const TOP_WINDOWS = { '1h': '1 hour', '24h': '24 hours', '7d': '7 days', '30d': '30 days' } as const;
export type TopWindow = keyof typeof TOP_WINDOWS;

export const TopImagesQuery = z.strictObject({
  window: z.enum(Object.keys(TOP_WINDOWS) as [TopWindow, ...TopWindow[]]).default('24h'),
  limit: Limit(100, 10),
});

export const MultipartUploadDoc = z.object({
  file: z.string().describe('the image (jpeg, png, gif or webp), judged by decoding'),
  prompt: z.string().min(1).max(2000),
  model_name: z.string().max(100).optional(),
  tournament_opt_in: z.enum(['true', 'false']).optional(),
});

export const ImageResponse = z.object({
  id: z.int(),
  owner: z.object({ id: z.int(), username: z.string() }),
  prompt: z.string(),
  model_name: z.string().nullable(),
  tournament_opt_in: z.boolean(),
  active: z.boolean(),
  like_count: z.int(),
  liked_by_me: z.boolean().optional().describe('present when the caller is a signed-in user'),
  media: z.object({ sha256: z.string(), format: z.string().nullable(), width: z.int().nullable(), height: z.int().nullable() }),
  urls: z.object({ original: z.string(), thumb: z.string(), webp: z.string() }),
  created_at: z.string(),
  updated_at: z.string(),
});
export type ImageDto = z.output<typeof ImageResponse>;

export const ImagePage = z.object({ items: z.array(ImageResponse), next_cursor: z.string().nullable() });
export const RandomImages = z.object({ items: z.array(ImageResponse) });
export const TopImages = z.object({
  window: z.string(),
  items: z.array(ImageResponse.extend({ window_likes: z.int() })),
});


export const ImageStats = z.object({
  image_id: z.int(),
  like_count: z.int(),
  likes_24h: z.int(),
  tournament: TournamentStats.nullable().describe('ratings, wins, losses and championships (null only where the tournaments module is not wired in)'),
});
export type ImageStatsDto = z.output<typeof ImageStats>;

/** `/` namespace: watch an image's like count live. */
export const ImageWatchPayload = z.strictObject({ imageId: z.int().positive().max(2_147_483_647) });
const likesSeq = z
  .int()
  .min(0)
  .describe('grows with every change of the count; keep the highest seen and ignore an image:likes with a lower seq (pushes from different nodes may arrive out of order)');
export const ImageWatchAck = z.object({ imageId: z.int(), like_count: z.int(), seq: likesSeq });
export const ImageLikesPush = z.object({ imageId: z.int(), like_count: z.int(), seq: likesSeq });
export type LikesChange = z.output<typeof ImageLikesPush>;

/** `seq` is the image's likes seq right after this request, comparable with image:likes pushes. */
export const LikeResponse = z.object({ image_id: z.int(), liked: z.boolean(), like_count: z.int(), seq: likesSeq });
export type LikeDto = z.output<typeof LikeResponse>;
