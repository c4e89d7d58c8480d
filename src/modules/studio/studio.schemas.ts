import { z } from 'zod';
import { cursorCodec } from '../../platform/cursor.js';
import { AD_STYLES, ASPECT_RATIOS, GENERATION_TYPES, PROVIDERS } from './studio.job-schemas.js';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');

/**
 * A session id as clients send it. Seed 004's junk values (`undefined`, `null`, `None`, an empty string)
 * and anything that is not a uuid mean "start a new session"; they never fail validation.
 */
export const LooseSessionId = z
  .union([z.string().max(200), z.null()])
  .optional()
  .transform((v) => (typeof v === 'string' && z.uuid().safeParse(v.trim().toLowerCase()).success ? v.trim().toLowerCase() : null));

const Keywords = z
  .union([z.array(z.string().trim().min(1).max(60)).max(20), z.string().max(1300)])
  .transform((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v))
  .pipe(z.array(z.string().min(1).max(60)).max(20));

/** The options every generation request carries (socket names; HTTP uses snake_case, mapped in the route). */
export const GenerateOptions = z.strictObject({
  text: z.string().trim().min(1, 'describe the ad').max(4000),
  generationType: z.enum(GENERATION_TYPES).default('text'),
  style: z.enum(AD_STYLES).default('ultra_realistic'),
  aspectRatio: z.enum(ASPECT_RATIOS).default('1:1'),
  // Optional options may also be null (clients often send every field).
  tone: z.string().trim().min(1).max(100).nullish(),
  keywords: Keywords.nullish(),
  industry: z.string().trim().min(1).max(100).nullish(),
  segmentId: z.coerce.number().int().positive().max(2_147_483_647).nullish(),
  seed: z.coerce.number().int().min(0).max(2_147_483_647).nullish(),
  provider: z.enum(PROVIDERS).nullish(),
  layout: z.coerce.number().int().min(0).max(5).nullish(),
  imageSha256: Sha256.nullish(),
});
export type GenerateOptions = z.output<typeof GenerateOptions>;

export const MessageSendPayload = GenerateOptions.extend({ sessionId: z.uuid() });
export type MessageSendPayload = z.output<typeof MessageSendPayload>;

/** `POST /generate` form fields (multipart; the optional file is `image`). */
export const GenerateFields = z
  .strictObject({
    input_text: z.string().optional(),
    text: z.string().optional(),
    session_id: z.string().max(200).optional(),
    generation_type: z.string().optional(),
    style: z.string().optional(),
    aspect_ratio: z.string().optional(),
    tone: z.string().optional(),
    keywords: z.string().optional(),
    industry: z.string().optional(),
    segment_id: z.string().optional(),
    seed: z.string().optional(),
    provider: z.string().optional(),
    layout: z.string().optional(),
    image_sha256: z.string().optional(),
    guest_token: z.string().max(4000).optional(),
  })
  .transform((f) => ({
    sessionId: f.session_id,
    guestToken: f.guest_token,
    options: Object.fromEntries(
      Object.entries({
        text: f.input_text ?? f.text,
        generationType: f.generation_type,
        style: f.style,
        aspectRatio: f.aspect_ratio,
        tone: f.tone || undefined,
        keywords: f.keywords || undefined,
        industry: f.industry || undefined,
        segmentId: f.segment_id || undefined,
        seed: f.seed || undefined,
        provider: f.provider || undefined,
        layout: f.layout || undefined,
        imageSha256: f.image_sha256 || undefined,
      }).filter(([, v]) => v !== undefined),
    ),
  }));

export const GenerateUploadDoc = z.object({
  input_text: z.string().describe('What to advertise (also accepted as `text`)'),
  image: z.string().optional().describe('Optional photo (binary); decode-validated and deduplicated by SHA-256'),
  session_id: z.string().optional(),
  generation_type: z.enum(GENERATION_TYPES).optional(),
  style: z.enum(AD_STYLES).optional(),
  aspect_ratio: z.enum(ASPECT_RATIOS).optional(),
  tone: z.string().optional(),
  keywords: z.string().optional().describe('comma-separated'),
  industry: z.string().optional(),
  segment_id: z.string().optional(),
  seed: z.string().optional(),
  provider: z.enum(PROVIDERS).optional(),
  layout: z.string().optional().describe('0..5'),
  image_sha256: z.string().optional().describe('An image this caller attached before'),
  guest_token: z.string().optional().describe("A signed-in user's former guest token: that guest's sessions attach to the user"),
});

export const GenerateResponse = z.object({
  job_id: z.uuid(),
  session_id: z.uuid(),
  message_id: z.string(),
  status: z.literal('queued'),
});

export const SessionOpenPayload = z.strictObject({
  sessionId: LooseSessionId,
  /** The last message:delta/message:done seq this client saw in the session. */
  since: z.int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** A guest token of this (signed-in) user: its sessions attach to the user. */
  guestToken: z.string().min(1).max(4000).optional(),
});

export const SessionCreateBody = z.strictObject({ session_id: LooseSessionId, guest_token: z.string().min(1).max(4000).optional() });

export const ImageRef = z.object({ sha256: Sha256, url: z.string(), thumb_url: z.string(), webp_url: z.string() });
export const MessageDto = z.object({
  id: z.string(),
  session_id: z.uuid(),
  role: z.enum(['user', 'assistant']),
  content: z.string(),
  image: ImageRef.nullable(),
  job_id: z.uuid().nullable(),
  status: z.enum(['done', 'failed']),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  meta: z.record(z.string(), z.unknown()).nullable(),
  created_at: z.string(),
});
export type MessageDto = z.output<typeof MessageDto>;

export const SessionDto = z.object({ id: z.uuid(), title: z.string().nullable(), owner: z.enum(['user', 'guest']), created_at: z.string(), updated_at: z.string() });
export type SessionDto = z.output<typeof SessionDto>;

export const messageCursor = cursorCodec(z.strictObject({ id: z.int().positive() }));
export const sessionCursor = cursorCodec(z.strictObject({ t: z.iso.datetime(), id: z.uuid() }));
export const genCursor = cursorCodec(z.strictObject({ t: z.iso.datetime(), id: z.uuid() }));

const Limit = (def: number) => z.coerce.number().int().min(1).max(100).default(def);
const Cursor = z.string().min(1).max(512);

export const SessionParams = z.strictObject({ id: z.uuid() });
export const PageQuery = (def: number) => z.strictObject({ limit: Limit(def), cursor: Cursor.optional() });
export const MessagesPage = z.object({ items: z.array(MessageDto), next_cursor: z.string().nullable() });
export const SessionsPage = z.object({ items: z.array(SessionDto), next_cursor: z.string().nullable() });
export const SessionCreated = z.object({ session_id: z.uuid(), created: z.boolean(), attached: z.int() });

export const SessionOpenAck = z.object({
  sessionId: z.uuid(),
  /** Newest first, one page (15); older pages via GET /chat/sessions/{id}/messages. */
  messages: z.array(MessageDto),
  next_cursor: z.string().nullable(),
  created: z.boolean(),
  /** The session stream's newest seq (message:delta / message:done). */
  seq: z.number(),
  /** What came after `since`, oldest first; `recovered: false` when history no longer reaches back. */
  events: z.array(z.object({ event: z.string(), data: z.unknown() })),
  recovered: z.boolean(),
  /** Generations of this session still running (their jobs can be followed with job:watch on `/`). */
  pending: z.array(z.object({ jobId: z.uuid(), messageId: z.string() })),
});

export const MessageCancelPayload = z.strictObject({ sessionId: z.uuid(), jobId: z.uuid() });

export const MessageSendAck = z.object({ jobId: z.uuid(), messageId: z.string(), sessionId: z.uuid() });

export const DeltaPush = z.object({ sessionId: z.uuid(), jobId: z.uuid(), seq: z.number(), text: z.string(), attempt: z.int() });
export const DonePush = z.object({ sessionId: z.uuid(), jobId: z.uuid(), seq: z.number(), message: MessageDto });
export const StudioProgressPush = z.object({ sessionId: z.uuid(), jobId: z.uuid(), seq: z.number(), status: z.string(), stage: z.string().nullable(), progress: z.number(), message: z.string().nullable() });

export const GenerationsQuery = z.strictObject({
  session_id: z.uuid().optional(),
  content_type: z.enum(GENERATION_TYPES).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: Limit(20),
  cursor: Cursor.optional(),
});
export const GenerationDto = z.object({
  job_id: z.uuid(),
  session_id: z.uuid(),
  content_type: z.enum(GENERATION_TYPES),
  status: z.string(),
  input_text: z.string(),
  input_image: ImageRef.nullable(),
  output_text: z.string().nullable(),
  output_image: ImageRef.nullable(),
  prompt: z.string().nullable(),
  generation_method: z.string().nullable(),
  provider: z.string(),
  style: z.string(),
  aspect_ratio: z.string(),
  tone: z.string().nullable(),
  keywords: z.array(z.string()),
  industry: z.string().nullable(),
  seed: z.int().nullable(),
  segment_id: z.int().nullable(),
  model: z.string().nullable(),
  prompt_tokens: z.int(),
  completion_tokens: z.int(),
  estimated_cost: z.number(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  created_at: z.string(),
  completed_at: z.string().nullable(),
});
export const GenerationsPage = z.object({ items: z.array(GenerationDto), next_cursor: z.string().nullable() });
