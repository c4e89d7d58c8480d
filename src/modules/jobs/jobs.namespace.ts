import { z } from 'zod';
import { AppError } from '../../platform/errors.js';
import { socketEvent, type NamespaceSpec } from '../../transport/socket/namespace.js';
import { DonePush, FailedPush, JobUnwatchPayload, JobWatchPayload, ProgressPush, WatchAck } from './jobs.schemas.js';
import type { JobsService } from './jobs.service.js';

export const jobRoom = (jobId: string) => `job:${jobId}`;

/** `job:watch` / `job:unwatch` on `/` (merged into the root namespace by app.ts), and the pushes they bring. */
export function jobsRootEvents(jobs: JobsService): Pick<NamespaceSpec, 'events' | 'pushes'> {
  return {
    events: [
      socketEvent({
        event: 'job:watch',
        summary: 'Follow a job (owner or admin; 403 otherwise): ack {job, events after `since`, recovered}, then job:progress/job:done/job:failed',
        schema: JobWatchPayload,
        reply: WatchAck,
        handler: async ({ jobId, since }, { socket, actor, em }) => {
          if (actor.kind !== 'user') throw new AppError(403, 'forbidden', 'Only the owner or an admin may watch this job');
          // Joined before the snapshot is read: a push in between arrives as well (the client keeps the higher
          // seq), where joining after it would lose a push made between the read and the join, job:done too.
          const room = jobRoom(jobId);
          const watching = socket.rooms.has(room);
          await socket.join(room);
          try {
            return await jobs.watch(em, actor, jobId, since);
          } catch (err) {
            if (!watching) await socket.leave(room); // not found or not yours (or no database): no pushes for it
            throw err;
          }
        },
      }),
      socketEvent({
        event: 'job:unwatch',
        summary: 'Stop following a job',
        schema: JobUnwatchPayload,
        handler: async ({ jobId }, { socket }) => {
          await socket.leave(jobRoom(jobId));
          return { jobId };
        },
      }),
    ],
    pushes: [
      { event: 'job:progress', summary: 'Status, stage and progress of a watched (or own) job; `seq` rises with every push', schema: ProgressPush },
      { event: 'job:done', summary: 'The job completed; `result` per job type (JobMap)', schema: DonePush },
      { event: 'job:failed', summary: 'The job failed for good or was cancelled (error.code `cancelled`)', schema: FailedPush },
      { event: 'job:delta', summary: 'Streamed text from a running job (no seq; not replayed)', schema: z.object({ jobId: z.string(), text: z.string() }) },
    ],
  };
}
