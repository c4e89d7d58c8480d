import { z } from 'zod';
import { cursorCodec } from '../../platform/cursor.js';
import { JOB_STATUSES, JobId, JobTypeSchema } from './jobs.events.js';
import type { JobDto } from './jobs.dto.js';
import type { JobRow } from './jobs.store.js';

// The pure shapes clients import (src/client) live in jobs.dto.ts; re-exported so server imports stay put.
export { DonePush, FailedPush, JobDto, JobPage, JobUnwatchPayload, JobWatchPayload, ProgressPush, WatchAck } from './jobs.dto.js';

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);

export function toJobDto(row: JobRow): JobDto {
  const error = row.status === 'cancelled' ? { code: 'cancelled', message: row.cancel_reason ?? 'cancelled' } : row.last_error;
  return {
    id: row.id,
    type: row.type,
    owner_id: row.owner_id,
    status: row.status,
    stage: row.stage,
    progress: row.progress,
    message: row.message,
    priority: row.priority,
    attempts: row.attempts,
    max_attempts: row.max_attempts,
    input: row.input,
    result: row.result ?? null,
    error: error ?? null,
    cost: row.cost ?? null,
    seq: row.seq,
    created_at: iso(row.created_at) as string,
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    updated_at: iso(row.updated_at) as string,
  };
}

const cursor = cursorCodec(z.strictObject({ t: z.iso.datetime(), id: z.uuid() }));
export const encodeJobCursor = (c: { t: string; id: string }) => cursor.encode(c);

export const ListJobsQuery = z.strictObject({
  type: JobTypeSchema.optional(),
  status: z.enum(JOB_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).transform((raw) => cursor.decode(raw)).optional(),
});
export type ListJobsQuery = z.output<typeof ListJobsQuery>;

export const JobParams = z.strictObject({ id: JobId });
export const QueueParams = z.strictObject({ type: JobTypeSchema });

