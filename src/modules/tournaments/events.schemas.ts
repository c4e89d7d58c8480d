import { z } from 'zod';

/** Path and payload ids: positive int4. */
const Id = z.int().positive().max(2_147_483_647);
const PathId = z
  .string()
  .regex(/^[1-9]\d{0,9}$/, 'must be a positive integer')
  .transform(Number)
  .refine((n) => n <= 2_147_483_647, 'out of range');

export const EVENT_STATUSES = ['upcoming', 'live', 'finished'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/** Bounds a single matchup's vote window may take, whatever the config's default. */
export const WINDOW_LIMITS = { minMs: 200, maxMs: 3_600_000, maxGraceMs: 30_000 } as const;

export const CreateEventBody = z
  .strictObject({
    name: z.string().trim().min(1, 'must be 1-200 characters').max(200, 'must be 1-200 characters'),
    entrants: z.union([z.literal(8), z.literal(16), z.literal(32), z.literal(64)], 'must be 8, 16, 32 or 64'),
    /** top: highest rated opted-in images; random: any opted-in images; list: exactly `image_ids`, best seed first. */
    selection: z.enum(['top', 'random', 'list']).default('top'),
    image_ids: z.array(Id).max(64).optional(),
    window_ms: z.int().min(WINDOW_LIMITS.minMs).max(WINDOW_LIMITS.maxMs).optional(),
    grace_ms: z.int().min(0).max(WINDOW_LIMITS.maxGraceMs).optional(),
    /** Tallies hidden from viewers until each matchup closes. */
    sealed: z.boolean().default(false),
  })
  .superRefine((b, ctx) => {
    if (b.selection === 'list') {
      if (!b.image_ids) ctx.addIssue({ code: 'custom', path: ['image_ids'], message: 'required when selection is "list"' });
      else if (b.image_ids.length !== b.entrants) ctx.addIssue({ code: 'custom', path: ['image_ids'], message: `must list exactly ${b.entrants} images` });
      else if (new Set(b.image_ids).size !== b.image_ids.length) ctx.addIssue({ code: 'custom', path: ['image_ids'], message: 'must not repeat an image' });
    } else if (b.image_ids) {
      ctx.addIssue({ code: 'custom', path: ['image_ids'], message: 'only allowed when selection is "list"' });
    }
  });
export type CreateEventBody = z.output<typeof CreateEventBody>;

export const EventParams = z.strictObject({ id: PathId });

export const ListEventsQuery = z.strictObject({
  status: z.enum(EVENT_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional(),
});
export type ListEventsQuery = z.output<typeof ListEventsQuery>;

export const EventJoinPayload = z.strictObject({
  eventId: Id,
  /** The last `seq` this client saw; the ack then carries what came after it, or `recovered: false`. */
  since: z.int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});
export const EventLeavePayload = z.strictObject({ eventId: Id });

/** `choice`: the side ("left" | "right") or the id of one of the matchup's two images. */
export const EventVotePayload = z.strictObject({
  eventId: Id,
  matchupId: Id,
  choice: z.union([z.enum(['left', 'right']), Id]),
});
export type EventVotePayload = z.output<typeof EventVotePayload>;

// ---- response shapes (documentation; the service builds them) ----

export const EventImage = z.object({ id: z.int(), owner_id: z.int(), prompt: z.string(), media_sha256: z.string(), thumb_url: z.string(), url: z.string() });

export const MatchupDto = z.object({
  id: z.int(),
  round: z.int(),
  slot: z.int(),
  round_name: z.string(),
  status: z.enum(['pending', 'open', 'closed']),
  left_id: z.int().nullable(),
  right_id: z.int().nullable(),
  opens_at: z.string().nullable(),
  closes_at: z.string().nullable(),
  /** null while a sealed event's matchup is open. */
  left_votes: z.int().nullable(),
  right_votes: z.int().nullable(),
  winner_id: z.int().nullable(),
  /** walkover: the other image was removed with its owner's account before they met. */
  decided_by: z.enum(['votes', 'rating', 'seed', 'walkover']).nullable(),
});
export type MatchupDto = z.output<typeof MatchupDto>;

export const EventSummary = z.object({
  id: z.int(),
  name: z.string(),
  status: z.enum(EVENT_STATUSES),
  entrants: z.int(),
  selection: z.enum(['top', 'random', 'list']),
  window_ms: z.int(),
  grace_ms: z.int(),
  sealed: z.boolean(),
  seq: z.int(),
  champion_id: z.int().nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
});
export type EventSummary = z.output<typeof EventSummary>;

export const EventDto = EventSummary.extend({
  entries: z.array(z.object({ seed: z.int(), image: EventImage })),
  matchups: z.array(MatchupDto),
  current_matchup_id: z.int().nullable(),
  /** The server's clock when this was read (ISO), so clients can count down to closes_at. */
  server_now: z.string(),
});
export type EventDto = z.output<typeof EventDto>;

export const EventPage = z.object({ items: z.array(EventSummary), next_cursor: z.string().nullable() });

export const StreamEntry = z.object({ type: z.enum(['event:matchup', 'event:result', 'event:finished']), payload: z.record(z.string(), z.unknown()) });

export const EventJoinAck = z.object({
  event: EventDto,
  /** The user's vote in the current matchup ('left' | 'right'), null if none or a guest. */
  my_vote: z.enum(['left', 'right']).nullable(),
  /** true: `missed` holds every push after `since`, in order; false: rely on `event` (a full snapshot). */
  recovered: z.boolean(),
  missed: z.array(StreamEntry),
});

export const EventVoteAck = z.object({
  matchupId: z.int(),
  choice: z.enum(['left', 'right']),
  /** false when this user had already voted in this matchup (the first vote stands). */
  counted: z.boolean(),
});

export const MatchupPush = z.object({ eventId: z.int(), seq: z.int(), matchup: MatchupDto, left: EventImage, right: EventImage, grace_ms: z.int(), server_now: z.string() });
export const TallyPush = z.object({ eventId: z.int(), seq: z.int(), matchupId: z.int(), left_votes: z.int(), right_votes: z.int() });
export const ResultPush = z.object({ eventId: z.int(), seq: z.int(), matchup: MatchupDto, next_matchup_id: z.int().nullable() });
export const FinishedPush = z.object({ eventId: z.int(), seq: z.int(), champion_id: z.int().nullable(), matchups: z.array(MatchupDto) });
