import { z } from 'zod';
import { JOB_STATUSES, JobId } from './jobs.events.js';

/**
 * Job shapes users see over HTTP and on `/` (job:watch and its pushes). Pure zod, no server imports: the
 * client SDK (src/client) derives its types from this file. jobs.schemas.ts re-exports everything here.
 */

/** A job as users and admins see it (HTTP and the `job:watch` snapshot). */
export const JobDto = z.object({
  id: z.string(),
  type: z.string(),
  owner_id: z.int().nullable(),
  status: z.enum(JOB_STATUSES),
  stage: z.string().nullable(),
  progress: z.number(),
  message: z.string().nullable(),
  priority: z.int(),
  attempts: z.int(),
  max_attempts: z.int(),
  input: z.unknown(),
  result: z.unknown(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  cost: z.record(z.string(), z.number()).nullable(),
  /** The seq of the latest push about this job that the row has seen (for `job:watch {since}`). */
  seq: z.number(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  updated_at: z.string(),
});
export type JobDto = z.output<typeof JobDto>;

export const JobPage = z.object({ items: z.array(JobDto), next_cursor: z.string().nullable() });

export const JobWatchPayload = z.strictObject({
  jobId: JobId,
  /** The last `seq` this client saw; the ack then carries what came after it, or `recovered: false`. */
  since: z.int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});
export const JobUnwatchPayload = z.strictObject({ jobId: JobId });

export const WatchAck = z.object({
  job: JobDto,
  /** Pushes after `since`, oldest first, as `{event, data}`; empty without `since`. */
  events: z.array(z.object({ event: z.string(), data: z.unknown() })),
  /** false: history no longer reaches back to `since`; `job` is the state to start from. */
  recovered: z.boolean(),
});
export type WatchAck = z.output<typeof WatchAck>;

export const ProgressPush = z.object({ jobId: z.string(), seq: z.number(), status: z.enum(JOB_STATUSES), stage: z.string().nullable(), progress: z.number(), message: z.string().nullable() });
export const DonePush = z.object({ jobId: z.string(), seq: z.number(), status: z.literal('completed'), result: z.unknown() });
export const FailedPush = z.object({ jobId: z.string(), seq: z.number(), status: z.enum(['failed', 'cancelled']), error: z.object({ code: z.string(), message: z.string() }) });
