import type { EntityManager } from '../../platform/db/orm.js';
import { runPrepared } from '../../platform/db/prepared.js';
import type { JobError, JobStatus } from './jobs.events.js';

/**
 * SQL over `jobs` / `job_events` (migration 0011). Every state change is one conditional UPDATE whose WHERE
 * says who may make it (status, lease owner), so a late, duplicate or foreign request changes no row, and
 * every one bumps `seq` and records the push it causes in the same transaction. `lease_owner` stays on a row
 * after its lease ends (who ran it last), so a repeated completion can be told from a foreign one.
 *
 * Sequence numbers: changes made through the database take `seq + 1`, except those that may race with a
 * lease holder's unflushed progress (cancel, reaper, admin retry), which jump by SEQ_GAP: the node that
 * holds a job's worker numbers progress pushes in memory (seq + 1, + 2, ...) and writes them at a bounded
 * rate, never more than SEQ_GAP / 2 ahead of the row (jobs.dispatcher.ts), so a jump always lands above
 * every number already pushed. Clients see seq rise, not always by one.
 */
export const SEQ_GAP = 1000;

/** Timestamps arrive as strings or Dates depending on the driver path: read them through `new Date()`. */
export interface JobRow {
  id: string;
  type: string;
  owner_id: number | null;
  input: unknown;
  priority: number;
  status: JobStatus;
  stage: string | null;
  progress: number;
  message: string | null;
  attempts: number;
  max_attempts: number;
  run_after: Date | string;
  lease_owner: string | null;
  lease_expires_at: Date | string | null;
  result: unknown;
  last_error: JobError | null;
  cost: Record<string, number> | null;
  cancel_reason: string | null;
  seq: number;
  history_floor: number;
  created_at: Date | string;
  started_at: Date | string | null;
  finished_at: Date | string | null;
  updated_at: Date | string;
}

export const COLUMNS = `id, type, owner_id, input, priority, status, stage, progress, message, attempts, max_attempts, run_after,
  lease_owner, lease_expires_at, result, last_error, cost, cancel_reason, seq::float8 as seq, history_floor::float8 as history_floor,
  created_at, started_at, finished_at, updated_at`;
/** The same, qualified by the alias `j` (UPDATE ... FROM). */
const J_COLUMNS = COLUMNS.split(',').map((c) => `j.${c.trim()}`).join(', ');

export const NOTIFY_CHANNEL = 'easel_jobs';

/** A push about a job, as sent to watchers and kept in job_events. */
export interface JobPush {
  event: 'job:progress' | 'job:done' | 'job:failed';
  payload: { jobId: string; seq: number } & Record<string, unknown>;
  /** The job's type, for in-process hooks that only care about some types (not sent, not stored). */
  jobType?: string;
}

/** The push a row's current state calls for (after any change). */
export function pushFor(row: JobRow): JobPush {
  return { ...pushOf(row), jobType: row.type };
}

function pushOf(row: JobRow): JobPush {
  const base = { jobId: row.id, seq: row.seq };
  if (row.status === 'completed') return { event: 'job:done', payload: { ...base, status: row.status, result: row.result } };
  if (row.status === 'failed') return { event: 'job:failed', payload: { ...base, status: row.status, error: row.last_error } };
  if (row.status === 'cancelled') {
    return { event: 'job:failed', payload: { ...base, status: row.status, error: { code: 'cancelled', message: row.cancel_reason ?? 'cancelled' } } };
  }
  return { event: 'job:progress', payload: { ...base, status: row.status, stage: row.stage, progress: row.progress, message: row.message } };
}

const ms = (n: number) => `(${Math.max(0, Math.round(n))} * interval '1 millisecond')`;
const textArray = (xs: readonly string[]) => `{${xs.map((x) => `"${x.replace(/["\\]/g, '')}"`).join(',')}}`;

/**
 * `pushFor` as SQL over a row alias, so the statement that changes a job also records the push it causes
 * (one round trip, no transaction). jobs.store.test.ts checks that both give the same push for every status.
 */
function pushEventSql(a: string): string {
  return `case when ${a}.status = 'completed' then 'job:done' when ${a}.status in ('failed', 'cancelled') then 'job:failed' else 'job:progress' end`;
}
function pushPayloadSql(a: string): string {
  const base = `'jobId', ${a}.id, 'seq', ${a}.seq::bigint, 'status', ${a}.status`;
  return `case ${a}.status
    when 'completed' then jsonb_build_object(${base}, 'result', ${a}.result)
    when 'failed' then jsonb_build_object(${base}, 'error', ${a}.last_error)
    when 'cancelled' then jsonb_build_object(${base}, 'error', jsonb_build_object('code', 'cancelled', 'message', coalesce(${a}.cancel_reason, 'cancelled')))
    else jsonb_build_object(${base}, 'stage', ${a}.stage, 'progress', ${a}.progress, 'message', ${a}.message) end`;
}

/** `with u as (<data-modifying statement returning COLUMNS>)` plus the INSERT of each returned row's push. */
export function withPushes(statement: string): string {
  return `with u as (${statement}),
    ${PUSHES_OF_U}`;
}

/** The CTE that records the push of every row of `u`. */
const PUSHES_OF_U = `e as (insert into job_events (job_id, seq, type, payload) select u.id, u.seq, ${pushEventSql('u')}, ${pushPayloadSql('u')} from u on conflict do nothing)`;

/**
 * Trims a job's history to the newest `keep` events, where it may hold more: every kept event has a distinct
 * seq in (floor, newest], so while that span is at most `keep` there is nothing to trim and no statement runs.
 * Housekeeping after the change's own statement (idempotent; a concurrent trim of the same job is harmless).
 */
async function trimHistory(em: EntityManager, jobId: string, newest: number, floor: number, keep: number): Promise<void> {
  if (newest - floor <= keep) return;
  await runPrepared(
    em,
    `with cut as (select seq from job_events where job_id = ? order by seq desc offset ? limit 1),
          del as (delete from job_events where job_id = ? and seq <= (select seq from cut) returning seq)
     update jobs set history_floor = greatest(history_floor, (select max(seq) from del)) where id = ? and exists (select 1 from del)`,
    [jobId, keep, jobId, jobId],
  );
}

/** One UPDATE ... RETURNING COLUMNS that records the push it causes in the same statement. */
async function change(em: EntityManager, sql: string, params: unknown[], keep: number): Promise<JobRow[]> {
  const rows = await runPrepared<JobRow>(em, `${withPushes(sql)} select * from u`, params);
  for (const row of rows) await trimHistory(em, row.id, row.seq, row.history_floor, keep);
  return rows;
}

export interface NewJob {
  type: string;
  ownerId: number | null;
  input: unknown;
  priority: number;
  maxAttempts: number;
}

/**
 * Inserts a job unless its owner already has `limit` in flight; null when refused. The count and the insert
 * run under an advisory lock per owner, as two statements so the insert's snapshot sees every job a
 * concurrent create committed while this one waited. The NOTIFY goes out at commit.
 */
export async function insertJob(em: EntityManager, job: NewJob, limit: number): Promise<JobRow | null> {
  const insert = async (tx: EntityManager): Promise<JobRow | null> => {
    const [row] = await tx.execute<(JobRow & { n?: unknown })[]>(
      `${withPushes(`insert into jobs (type, owner_id, input, priority, max_attempts, stage)
         select ?, ?, ?::jsonb, ?, ?, 'queued'
         where ?::int is null or (select count(*) from jobs where owner_id = ? and status in ('queued', 'active')) < ?
         returning ${COLUMNS}`)}
       select u.*, n.n from u, lateral (select pg_notify(?, ?)::text as n) n`,
      [job.type, job.ownerId, JSON.stringify(job.input), job.priority, job.maxAttempts, job.ownerId, job.ownerId, limit, NOTIFY_CHANNEL, notifyPayload(job.type, 0)],
    );
    if (!row) return null;
    delete row.n;
    return row;
  };
  // Without an owner there is no limit to keep: one statement. With one, the count and the insert run under an
  // advisory lock per owner as a second statement, so its snapshot sees every job a concurrent create
  // committed while this one waited. The NOTIFY is delivered at commit.
  if (job.ownerId === null) return insert(em);
  const ownerId = job.ownerId;
  return em.transactional(async (tx) => {
    await tx.execute(`select pg_advisory_xact_lock(hashtext('easel:jobs:owner'), ?)`, [ownerId]);
    return insert(tx);
  });
}

/**
 * The runnable jobs of `types[]` (a parameter) a claim takes, best first, locked; `limitSql` caps them (it appears
 * twice: pass a constant, or a parameter twice). One ordered index scan per type (jobs_claim_idx is (type, priority
 * desc, created_at, id) over queued rows), each stopping after `limit` rows, then the best of those: `type =
 * any(...)` in one scan would read and sort every queued row of those types on every claim, which made a long
 * queue cost O(queue) per job. A lateral scan may lock a few rows it does not keep, until the statement ends.
 */
const CLAIMABLE = (limitSql: string, extraWhere = '') => `select x.id from unnest(?::text[]) t(type)
    cross join lateral (select id, priority, created_at from jobs
      where status = 'queued' and type = t.type and run_after <= now()${extraWhere}
      order by priority desc, created_at, id limit ${limitSql} for update skip locked) x
    where t.type not in (select type from queue_state where paused)
    order by x.priority desc, x.created_at, x.id limit ${limitSql}`;

/** Takes the rows of `from` (an alias with `id`) for `owner` (a parameter) under a fresh lease. */
const CLAIM = (from: string, leaseMs: number) => `update jobs j set status = 'active', attempts = j.attempts + 1, lease_owner = ?,
    lease_expires_at = now() + ${ms(leaseMs)}, started_at = coalesce(j.started_at, now()), stage = 'assigned', progress = 0, message = null,
    seq = j.seq + 1, updated_at = now()
  from ${from} c where j.id = c.id returning ${J_COLUMNS}`;

/** RETURNING keeps no order: hand claimed jobs out as they were chosen. */
function inClaimOrder(rows: JobRow[]): JobRow[] {
  return rows.sort((a, b) => b.priority - a.priority || new Date(a.created_at).getTime() - new Date(b.created_at).getTime() || (a.id < b.id ? -1 : 1));
}

/** Claims up to `n` runnable jobs of `types` for `owner`: priority, then age; paused queues and backoff skipped. */
export async function claimJobs(em: EntityManager, owner: string, types: readonly string[], n: number, leaseMs: number, keep: number): Promise<JobRow[]> {
  if (n <= 0 || types.length === 0) return [];
  const sql = CLAIM(`(${CLAIMABLE('?')})`, leaseMs);
  // Parameters in text order: the lease owner (SET), then the claimable subquery's types and limit, twice (FROM).
  return inClaimOrder(await change(em, sql, [owner, textArray(types), n, n], keep));
}

/** Wakes dispatch on every node (LISTEN in jobs.factory.ts), now or once a backoff ends. */
export async function notifyWork(em: EntityManager, type: string, delayMs: number): Promise<void> {
  await em.execute(`select pg_notify(?, ?)`, [NOTIFY_CHANNEL, notifyPayload(type, delayMs)]);
}

function notifyPayload(type: string, delayMs: number): string {
  return JSON.stringify({ type, delayMs: Math.max(0, Math.round(delayMs)) });
}

/** A reconnecting worker's jobs that it still holds: their leases are renewed. */
export async function rebindJobs(em: EntityManager, owner: string, ids: readonly string[], leaseMs: number): Promise<JobRow[]> {
  if (ids.length === 0) return [];
  return em.execute<JobRow[]>(
    `update jobs set lease_expires_at = now() + ${ms(leaseMs)}, updated_at = now()
     where id = any(?::uuid[]) and status = 'active' and lease_owner = ? returning ${COLUMNS}`,
    [textArray(ids), owner],
  );
}

export interface ProgressWrite {
  stage: string;
  progress: number;
  message: string | null;
  seq: number;
}

/** Bounded-rate write of a held job's progress and its pushes (also renews its lease); false when the lease is gone. */
export async function writeProgress(em: EntityManager, id: string, owner: string, p: ProgressWrite | null, pushes: JobPush[], leaseMs: number, keep: number): Promise<boolean> {
  const update = p
    ? `update jobs set stage = ?, progress = ?, message = ?, seq = greatest(seq, ?), lease_expires_at = now() + ${ms(leaseMs)}, updated_at = now()
       where id = ? and status = 'active' and lease_owner = ? returning id, history_floor::float8 as history_floor`
    : `update jobs set lease_expires_at = now() + ${ms(leaseMs)}, updated_at = now() where id = ? and status = 'active' and lease_owner = ?
       returning id, history_floor::float8 as history_floor`;
  const params: unknown[] = p ? [p.stage, p.progress, p.message, p.seq, id, owner] : [id, owner];
  // The pushes go in only if the lease holds: the same statement, from the UPDATE's result.
  const insert = pushes.length === 0
    ? ''
    : `, e as (insert into job_events (job_id, seq, type, payload)
         select u.id, v.seq, v.type, v.payload from u, (values ${pushes.map(() => '(?::bigint, ?, ?::jsonb)').join(', ')}) v(seq, type, payload)
         on conflict do nothing)`;
  for (const push of pushes) params.push(push.payload.seq, push.event, JSON.stringify(push.payload));
  const [row] = await em.execute<{ id: string; history_floor: number }[]>(`with u as (${update})${insert} select * from u`, params);
  if (!row) return false;
  if (pushes.length > 0) await trimHistory(em, id, Math.max(...pushes.map((x) => x.payload.seq)), row.history_floor, keep);
  return true;
}

const COMPLETE = `update jobs set status = 'completed', result = ?::jsonb, cost = ?::jsonb, progress = 1, stage = 'done', message = null,
    lease_expires_at = null, finished_at = now(), updated_at = now(), seq = greatest(seq, ?) + 1
  where id = ? and status = 'active' and lease_owner = ? returning ${COLUMNS}`;

/** Completes a job this owner holds; null when it does not (finished, requeued, cancelled, someone else's). */
export async function completeJob(em: EntityManager, id: string, owner: string, localSeq: number, result: unknown, cost: unknown, keep: number): Promise<JobRow | null> {
  const [row] = await change(em, COMPLETE, [JSON.stringify(result), cost === undefined ? null : JSON.stringify(cost), localSeq, id, owner], keep);
  return row ?? null;
}

/**
 * `completeJob`, and in the same statement the claim of the next runnable job for the slot it frees (only if
 * the completion took): a busy worker's loop costs one round trip per job instead of two. `next` is null
 * when the worker should be given nothing (draining, or its other slots are being filled by dispatch).
 */
export async function completeAndClaim(
  em: EntityManager,
  id: string,
  owner: string,
  localSeq: number,
  result: unknown,
  cost: unknown,
  next: { types: readonly string[]; leaseMs: number } | null,
  keep: number,
): Promise<{ done: JobRow | null; claimed: JobRow[] }> {
  if (!next || next.types.length === 0) return { done: await completeJob(em, id, owner, localSeq, result, cost, keep), claimed: [] };
  const sql = `with done as (${COMPLETE}),
      picked as (${CLAIMABLE('1', ' and exists (select 1 from done)')}),
      claimed as (${CLAIM('picked', next.leaseMs)}),
      u as (select 'done' as kind, * from done union all select 'next' as kind, * from claimed),
      ${PUSHES_OF_U}
    select * from u`;
  const rows = await runPrepared<JobRow & { kind?: 'done' | 'next' }>(em, sql, [
    JSON.stringify(result),
    cost === undefined ? null : JSON.stringify(cost),
    localSeq,
    id,
    owner,
    textArray(next.types),
    owner,
  ]);
  for (const row of rows) await trimHistory(em, row.id, row.seq, row.history_floor, keep);
  const done = rows.find((r) => r.kind === 'done') ?? null;
  const claimed = rows.filter((r) => r.kind === 'next');
  for (const r of rows) delete r.kind;
  return { done, claimed: inClaimOrder(claimed) };
}

/** SQL for the backoff before attempt `attempts + 1`: base * 2^(attempts-1), capped. */
function backoffSql(baseMs: number, maxMs: number): string {
  return `least(${baseMs}::float8 * power(2, greatest(attempts - 1, 0)), ${maxMs}::float8) * interval '1 millisecond'`;
}

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** A held job failed: requeued with backoff while retryable and attempts remain, else failed. */
export async function failJob(em: EntityManager, id: string, owner: string, localSeq: number, error: JobError, retryable: boolean, backoff: Backoff, keep: number): Promise<JobRow | null> {
  const [row] = await change(
    em,
    `update jobs set last_error = ?::jsonb, lease_expires_at = null, updated_at = now(), seq = greatest(seq, ?) + 1,
       status = case when ? and attempts < max_attempts then 'queued' else 'failed' end,
       stage = case when ? and attempts < max_attempts then 'retrying' else 'failed' end,
       message = ?,
       run_after = case when ? and attempts < max_attempts then now() + ${backoffSql(backoff.baseMs, backoff.maxMs)} else run_after end,
       finished_at = case when ? and attempts < max_attempts then null else now() end
     where id = ? and status = 'active' and lease_owner = ? returning ${COLUMNS}`,
    [JSON.stringify(error), localSeq, retryable, retryable, error.message.slice(0, 500), retryable, retryable, id, owner],
    keep,
  );
  return row ?? null;
}

/**
 * A held job the worker gave back without it failing (the worker was full or shutting down): queued again
 * after `delayMs` and the attempt it took is returned, so restarting workers never use up a job's retries.
 */
export async function handBackJob(em: EntityManager, id: string, owner: string, localSeq: number, error: JobError, delayMs: number, keep: number): Promise<JobRow | null> {
  const [row] = await change(
    em,
    `update jobs set last_error = ?::jsonb, lease_expires_at = null, updated_at = now(), seq = greatest(seq, ?) + 1,
       status = 'queued', stage = 'queued', message = ?, attempts = greatest(attempts - 1, 0), run_after = now() + ? * interval '1 millisecond'
     where id = ? and status = 'active' and lease_owner = ? returning ${COLUMNS}`,
    [JSON.stringify(error), localSeq, error.message.slice(0, 500), delayMs, id, owner],
    keep,
  );
  return row ?? null;
}

/** Expired leases: requeued with backoff, or failed at the attempt limit. Safe on every node at once. */
export async function reapExpired(em: EntityManager, backoff: Backoff, keep: number, limit = 100): Promise<JobRow[]> {
  const error = JSON.stringify({ code: 'lease_expired', message: 'the worker stopped reporting before the lease expired' });
  return change(
    em,
    `update jobs j set last_error = ?::jsonb, lease_expires_at = null, updated_at = now(), seq = j.seq + ${SEQ_GAP},
       status = case when j.attempts < j.max_attempts then 'queued' else 'failed' end,
       stage = case when j.attempts < j.max_attempts then 'retrying' else 'failed' end,
       message = 'lease expired',
       run_after = case when j.attempts < j.max_attempts then now() + ${backoffSql(backoff.baseMs, backoff.maxMs).replace(/attempts/g, 'j.attempts')} else j.run_after end,
       finished_at = case when j.attempts < j.max_attempts then null else now() end
     from (select id from jobs where status = 'active' and lease_expires_at < now() order by lease_expires_at limit ? for update skip locked) x
     where j.id = x.id returning ${J_COLUMNS}`,
    [error, limit],
    keep,
  );
}

/** Cancels a queued or active job; returns the row and who held it (to tell that worker), or null. */
export async function cancelJob(em: EntityManager, id: string, reason: string, keep: number): Promise<{ row: JobRow; heldBy: string | null } | null> {
  const [row] = await change(
    em,
    `update jobs j set status = 'cancelled', cancel_reason = ?, stage = 'cancelled', lease_expires_at = null, finished_at = now(), updated_at = now(),
       seq = j.seq + ${SEQ_GAP}
     from (select id, status as prev from jobs where id = ? for update) x
     where j.id = x.id and j.status in ('queued', 'active') returning ${J_COLUMNS}, x.prev`,
    [reason, id],
    keep,
  );
  if (!row) return null;
  const prev = (row as JobRow & { prev?: string }).prev;
  delete (row as JobRow & { prev?: string }).prev;
  return { row, heldBy: prev === 'active' ? row.lease_owner : null };
}

/** Admin retry of a failed or cancelled job: queued again now, with a fresh set of attempts. */
export async function retryJob(em: EntityManager, id: string, keep: number): Promise<JobRow | null> {
  const [row] = await change(
    em,
    `update jobs set status = 'queued', stage = 'queued', progress = 0, message = null, attempts = 0, run_after = now(), lease_owner = null,
       lease_expires_at = null, finished_at = null, result = null, cancel_reason = null, updated_at = now(), seq = seq + ${SEQ_GAP}
     where id = ? and status in ('failed', 'cancelled') returning ${COLUMNS}`,
    [id],
    keep,
  );
  if (row) await notifyWork(em, row.type, 0);
  return row ?? null;
}

export async function findJob(em: EntityManager, id: string): Promise<JobRow | null> {
  const [row] = await em.execute<JobRow[]>(`select ${COLUMNS} from jobs where id = ?`, [id]);
  return row ?? null;
}

export async function eventsSince(em: EntityManager, id: string, since: number): Promise<JobPush[]> {
  const rows = await em.execute<{ type: JobPush['event']; payload: JobPush['payload'] }[]>(
    `select type, payload from job_events where job_id = ? and seq > ? order by seq`,
    [id, since],
  );
  return rows.map((r) => ({ event: r.type, payload: r.payload }));
}
