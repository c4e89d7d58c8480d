import { Readable } from 'node:stream';
import type { Config } from '../../platform/config.js';
import type { EntityManager } from '../../platform/db/orm.js';
import { AppError, ConflictError, ForbiddenError, NotFoundError } from '../../platform/errors.js';
import { parseWith } from '../../platform/validation.js';
import type { UserActor } from '../identity/actor.js';
import type { MediaService } from '../media/media.service.js';
import type { Dispatcher, WorkerConn } from './jobs.dispatcher.js';
import { FINISHED_STATUSES, JobMap, type JobComplete, type JobError, type JobFail, type JobOutputChunk, type JobType } from './jobs.events.js';
import { encodeJobCursor, toJobDto, type JobDto, type ListJobsQuery, type WatchAck } from './jobs.schemas.js';
import * as store from './jobs.store.js';

/** `job:fail` codes with which a worker returns work it did not fail (worker.errors.ts, worker.runner.ts). */
const HAND_BACK_CODES = new Set(['worker_shutdown', 'worker_busy']);

export type JobsSettings = Config['jobs'];

export interface JobsServiceDeps {
  dispatcher: Dispatcher;
  media: MediaService;
  settings: () => JobsSettings;
  push: (ownerId: number | null, push: store.JobPush) => void;
  cancelOnWorker: (owner: string, jobId: string, reason: string) => void;
  /** Largest binary output, whole or assembled from `job:output` pieces (the upload limit). */
  maxOutputBytes: number;
}

const canSee = (actor: UserActor, row: store.JobRow) => actor.role === 'admin' || row.owner_id === actor.userId;

/** Why a worker's answer about a job changed nothing: the job is gone, already done by it, or not its own. */
async function refusal(em: EntityManager, jobId: string, owner: string): Promise<AppError> {
  const row = await store.findJob(em, jobId);
  if (!row) return new NotFoundError('No such job', 'not_found');
  if (FINISHED_STATUSES.includes(row.status) && row.lease_owner === owner) {
    return new ConflictError(`The job is already ${row.status}; nothing changed`, 'already_finished');
  }
  return new ConflictError('This worker does not hold the job (lease expired, requeued, cancelled or someone else’s); nothing changed', 'lease_lost');
}

/** Replaces every top-level string of `result` that names an output by that output's stored sha256. */
export function resolveOutputRefs(result: Record<string, unknown>, stored: ReadonlyMap<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(result)) out[k] = typeof v === 'string' && stored.has(v) ? stored.get(v) : v;
  return out;
}

export function createJobsService(deps: JobsServiceDeps) {
  const { dispatcher, media } = deps;
  const keep = () => deps.settings().historySize;

  async function visible(em: EntityManager, actor: UserActor, id: string): Promise<store.JobRow> {
    const row = await store.findJob(em, id);
    // Another user's job answers as if it did not exist.
    if (!row || !canSee(actor, row)) throw new NotFoundError('No such job', 'job_not_found');
    return row;
  }

  /** The worker's job ended (completed or failed): flush its progress first, so history keeps order. */
  async function settle(em: EntityManager, conn: WorkerConn, jobId: string): Promise<store.JobRow | null> {
    const held = conn.held.get(jobId);
    if (!held) throw await refusal(em, jobId, conn.owner);
    if (held.timer) clearTimeout(held.timer);
    held.timer = null;
    if (!(await dispatcher.write(conn, held))) throw await refusal(em, jobId, conn.owner);
    return null;
  }

  async function failHeld(em: EntityManager, conn: WorkerConn, jobId: string, error: JobError, retryable: boolean): Promise<store.JobRow | null> {
    const s = deps.settings();
    const seq = conn.held.get(jobId)?.seq ?? 0;
    // A worker that is full or shutting down gives the job back: that is no failure of the job, so it
    // costs no attempt and waits for no backoff; a draining worker is sent nothing more.
    const handedBack = retryable && HAND_BACK_CODES.has(error.code);
    if (error.code === 'worker_shutdown') conn.draining = true;
    const row = handedBack
      ? // A full worker may be offered the job again: a second's pause keeps that from spinning.
        await store.handBackJob(em, jobId, conn.owner, seq, error, error.code === 'worker_busy' ? 1000 : 0, keep())
      : await store.failJob(em, jobId, conn.owner, seq, error, retryable, { baseMs: s.backoffBaseMs, maxMs: s.backoffMaxMs }, keep());
    dispatcher.release(conn, jobId);
    if (!row) return null;
    deps.push(row.owner_id, store.pushFor(row));
    if (row.status === 'queued') {
      const delayMs = Math.max(0, new Date(row.run_after).getTime() - Date.now());
      // Every node, this one included, hears it and dispatches when the backoff ends.
      await store.notifyWork(em, row.type, delayMs);
    }
    return row;
  }

  return {
    /** Queues a job for `ownerId` (null: a system job, no in-flight limit). 429 `too_many_jobs` at the limit. */
    async create<T extends JobType>(em: EntityManager, ownerId: number | null, type: T, input: unknown, options: { priority?: number; maxAttempts?: number } = {}): Promise<JobDto> {
      const parsed = parseWith(JobMap[type].input, input, 'input');
      const s = deps.settings();
      const row = await store.insertJob(
        em,
        { type, ownerId, input: parsed, priority: options.priority ?? 0, maxAttempts: options.maxAttempts ?? s.maxAttempts },
        s.maxInFlightPerUser,
      );
      if (!row) {
        throw new AppError(429, 'too_many_jobs', `At most ${s.maxInFlightPerUser} jobs may be queued or running at once; wait for some to finish`, {
          headers: { 'retry-after': '1' },
        });
      }
      deps.push(row.owner_id, store.pushFor(row));
      return toJobDto(row);
    },

    async get(em: EntityManager, actor: UserActor, id: string): Promise<JobDto> {
      return toJobDto(await visible(em, actor, id));
    },

    async list(em: EntityManager, actor: UserActor, q: ListJobsQuery): Promise<{ items: JobDto[]; next_cursor: string | null }> {
      const params: unknown[] = [actor.userId];
      let where = 'owner_id = ?';
      if (q.type) {
        where += ' and type = ?';
        params.push(q.type);
      }
      if (q.status) {
        where += ' and status = ?';
        params.push(q.status);
      }
      if (q.cursor) {
        where += ' and (created_at, id) < (?::timestamptz, ?::uuid)';
        params.push(q.cursor.t, q.cursor.id);
      }
      params.push(q.limit + 1);
      const rows = await em.execute<store.JobRow[]>(`select ${store.COLUMNS} from jobs where ${where} order by created_at desc, id desc limit ?`, params);
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      return { items: page.map(toJobDto), next_cursor: rows.length > q.limit && last ? encodeJobCursor({ t: new Date(last.created_at).toISOString(), id: last.id }) : null };
    },

    /** Owner or admin. Queued: cancelled at once. Active: cancelled, and the worker holding it is told to stop. */
    async cancel(em: EntityManager, actor: UserActor, id: string, reason = 'cancelled by the user'): Promise<JobDto> {
      const row = await visible(em, actor, id);
      const done = await store.cancelJob(em, row.id, reason, keep());
      if (!done) throw new ConflictError(`The job is already ${(await store.findJob(em, id))?.status ?? 'gone'}`, 'job_finished');
      deps.push(done.row.owner_id, store.pushFor(done.row));
      if (done.heldBy) {
        const local = dispatcher.findHolder(id);
        if (local) dispatcher.release(local.conn, id);
        deps.cancelOnWorker(done.heldBy, id, reason);
      }
      return toJobDto(done.row);
    },

    /** Finished jobs only (409 `job_not_finished` otherwise). */
    async remove(em: EntityManager, actor: UserActor, id: string): Promise<void> {
      await visible(em, actor, id);
      const rows = await em.execute<{ id: string }[]>(`delete from jobs where id = ? and status in ('completed', 'failed', 'cancelled') returning id`, [id]);
      if (rows.length === 0) throw new ConflictError('Only finished jobs can be deleted; cancel it first', 'job_not_finished');
    },

    /** `job:watch`: owner or admin (403). The ack carries what `since` missed, or `recovered: false`. */
    async watch(em: EntityManager, actor: UserActor, id: string, since: number | undefined): Promise<WatchAck> {
      const row = await store.findJob(em, id);
      if (!row) throw new NotFoundError('No such job', 'job_not_found');
      if (!canSee(actor, row)) throw new ForbiddenError('Only the owner or an admin may watch this job', 'forbidden');
      const job = toJobDto(row);
      if (since === undefined || since >= row.seq) return { job, events: [], recovered: true };
      if (since < row.history_floor) return { job, events: [], recovered: false };
      const events = await store.eventsSince(em, id, since);
      return { job, events: events.map((e) => ({ event: e.event, data: e.payload })), recovered: true };
    },

    async complete(em: EntityManager, conn: WorkerConn, msg: JobComplete): Promise<{ status: string }> {
      const { jobId } = msg;
      await settle(em, conn, jobId);
      const held = conn.held.get(jobId);
      if (!held) throw await refusal(em, jobId, conn.owner);
      // Outputs are content-addressed: a repeat stores nothing new.
      const stored = new Map<string, string>();
      let result: Record<string, unknown>;
      try {
        const outputs = [
          ...(msg.outputs ?? []).map((o) => ({ name: o.name, parts: [Buffer.from(o.data)] })),
          ...[...held.chunks].filter(([name]) => !msg.outputs?.some((o) => o.name === name)).map(([name, c]) => ({ name, parts: c.parts })),
        ];
        held.chunks.clear();
        for (const o of outputs) stored.set(o.name, (await media.ingest(em, Readable.from(o.parts))).sha256);
        result = parseWith(JobMap[held.type as JobType].result, resolveOutputRefs(msg.result, stored), 'result');
      } catch (err) {
        const code = err instanceof AppError ? err.code : 'invalid_output';
        const message = err instanceof Error ? err.message : String(err);
        await failHeld(em, conn, jobId, { code: code === 'validation_failed' ? 'invalid_result' : code, message }, false);
        throw new AppError(422, 'invalid_result', `The result was refused and the job failed: ${message}`);
      }
      // The freed slot's next job comes back from the same statement (one round trip per job for a busy worker).
      const { done: row, claimed } = await store.completeAndClaim(em, jobId, conn.owner, held.seq, result, msg.cost, dispatcher.nextFor(conn), keep());
      dispatcher.handOver(conn, jobId, claimed);
      if (!row) throw await refusal(em, jobId, conn.owner);
      deps.push(row.owner_id, store.pushFor(row));
      return { status: row.status };
    },

    /** A piece of a large output; kept with the held job until `job:complete`. */
    async outputChunk(em: EntityManager, conn: WorkerConn, msg: JobOutputChunk): Promise<{ bytes: number }> {
      const held = conn.held.get(msg.jobId);
      if (!held) throw await refusal(em, msg.jobId, conn.owner);
      const entry = held.chunks.get(msg.name) ?? { contentType: msg.contentType, parts: [], bytes: 0 };
      if (entry.bytes + msg.data.byteLength > deps.maxOutputBytes) {
        held.chunks.delete(msg.name);
        throw new AppError(413, 'output_too_large', `An output may be at most ${deps.maxOutputBytes} bytes`);
      }
      entry.parts.push(Buffer.from(msg.data));
      entry.bytes += msg.data.byteLength;
      held.chunks.set(msg.name, entry);
      dispatcher.heartbeat(conn, held);
      return { bytes: entry.bytes };
    },

    async fail(em: EntityManager, conn: WorkerConn, msg: JobFail): Promise<{ status: string }> {
      await settle(em, conn, msg.jobId);
      const row = await failHeld(em, conn, msg.jobId, msg.error, msg.retryable);
      if (!row) throw await refusal(em, msg.jobId, conn.owner);
      return { status: row.status };
    },

    refusal,
  };
}

export type JobsService = ReturnType<typeof createJobsService>;
