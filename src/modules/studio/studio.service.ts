import { randomInt } from 'node:crypto';
import type { Config } from '../../platform/config.js';
import type { EntityManager, Orm } from '../../platform/db/orm.js';
import { AppError, ConflictError, NotFoundError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { JobsService } from '../jobs/jobs.service.js';
import type { JobPush } from '../jobs/jobs.store.js';
import type { AdJobInput, AdSegment } from './studio.job-schemas.js';
import { estimateCost } from './studio.costs.js';
import type { GenerateOptions } from './studio.schemas.js';
import { attachGuest, messagesPage, openSession, ownerKey, requireSession, toMessageDto, type MessageRow, type StudioActor, type UrlFor } from './studio.sessions.js';
import type { SessionStream, StreamEntry } from './studio.stream.js';

/**
 * Generation requests and their replies. A request stores the user's message, queues an `ad_text` or
 * `ad_image` job (owned by the user; a guest's has no owner and counts against `guestMaxInFlight`) and a
 * generation row, in one transaction. While the job runs, its pushes reach the session's room on
 * `/studio` (`job:progress` with `sessionId`; streamed text as `message:delta` with the session's seq);
 * when it ends, the reply is stored once (an assistant message, unique per job) and pushed as
 * `message:done`, after every delta of that job. Stages follow seed 004: pending, ingesting, generating,
 * persisting, done/failed.
 */

export const sessionRoom = (id: string) => `session:${id}`;

export interface StudioDeps {
  config: Config;
  orm: Orm;
  jobs: JobsService;
  stream: SessionStream;
  urlFor: UrlFor;
  logger: Logger;
  /** Emits to a room of `/studio` (every node). */
  emit: (room: string, event: string, payload: unknown) => void;
  /** Verifies a token as a guest's; returns its guest id (400 otherwise). */
  verifyGuest: (token: string) => Promise<string>;
}

interface JobInfo {
  sessionId: string;
  attempt: number;
}

interface JobRowLite {
  status: string;
  result: Record<string, unknown> | null;
  last_error: { code: string; message: string } | null;
  cancel_reason: string | null;
  attempts: number;
  input: AdJobInput;
}

const STAGE_ALIASES: Record<string, string> = { queued: 'pending', assigned: 'pending' };

export function createStudioService(deps: StudioDeps) {
  const { orm, stream, logger } = deps;
  const log = logger.child({ module: 'studio' });
  const settings = () => deps.config.studio;
  // jobId → session (and attempt) for ad jobs; null for other jobs. Bounded; a miss costs one query.
  const jobs = new Map<string, JobInfo | null>();
  const jobChains = new Map<string, Promise<unknown>>();
  const finishing = new Map<string, Promise<void>>();
  // Streamed text not yet in the session stream, per job (see onDelta).
  const pendingText = new Map<string, string>();
  const remember = (jobId: string, info: JobInfo | null) => {
    jobs.delete(jobId);
    jobs.set(jobId, info);
    if (jobs.size > 20_000) jobs.delete(jobs.keys().next().value as string);
  };

  // Lookups asked for in one turn of the event loop share one query (a burst of pushes for other job types
  // must not cost a query each).
  type Waiter = { resolve: (info: JobInfo | null) => void; reject: (err: unknown) => void };
  let batch: Map<string, Waiter[]> | null = null;
  async function fetchBatch(ids: string[]): Promise<Map<string, JobInfo>> {
    const rows = await orm.em.fork().execute<{ job_id: string; session_id: string; attempts: number }[]>(
      'select g.job_id, g.session_id, coalesce(j.attempts, 1) as attempts from studio_generations g left join jobs j on j.id = g.job_id where g.job_id = any(?::uuid[])',
      [`{${ids.join(',')}}`],
    );
    return new Map(rows.map((r) => [r.job_id, { sessionId: r.session_id, attempt: Math.max(1, Number(r.attempts)) }]));
  }
  function lookup(jobId: string): Promise<JobInfo | null> {
    if (jobs.has(jobId)) return Promise.resolve(jobs.get(jobId)!);
    return new Promise((resolve, reject) => {
      if (!batch) {
        const mine = new Map<string, Waiter[]>();
        batch = mine;
        setImmediate(() => {
          batch = null;
          fetchBatch([...mine.keys()]).then(
            (found) => {
              for (const [id, waiters] of mine) {
                // A later answer (submit on this node) wins over a read that started before it.
                if (!jobs.has(id)) remember(id, found.get(id) ?? null);
                for (const w of waiters) w.resolve(jobs.get(id) ?? null);
              }
            },
            (err: unknown) => {
              for (const waiters of mine.values()) for (const w of waiters) w.reject(err);
            },
          );
        });
      }
      const waiters = batch.get(jobId) ?? [];
      waiters.push({ resolve, reject });
      batch.set(jobId, waiters);
    });
  }

  /** Runs `fn` after everything queued before for this job (deltas stay in order while the lookup runs). */
  function chain(jobId: string, fn: () => Promise<unknown>): Promise<unknown> {
    const next = (jobChains.get(jobId) ?? Promise.resolve()).catch(() => {}).then(fn);
    jobChains.set(jobId, next);
    void next.catch((err: unknown) => log.warn({ err, jobId }, 'studio relay failed')).finally(() => {
      if (jobChains.get(jobId) === next) jobChains.delete(jobId);
    });
    return next;
  }

  const pushEntry = (sessionId: string) => (e: StreamEntry) => deps.emit(sessionRoom(sessionId), e.event, e.data);

  /** Stores the reply of a finished ad job (once) and pushes `message:done`; idempotent. */
  async function finish(jobId: string): Promise<void> {
    const em = orm.em.fork();
    const [job] = await em.execute<JobRowLite[]>('select status, result, last_error, cancel_reason, attempts, input from jobs where id = ?', [jobId]);
    if (!job || !['completed', 'failed', 'cancelled'].includes(job.status)) return;
    const [gen] = await em.execute<{ session_id: string; content_type: string; status: string }[]>('select session_id, content_type, status from studio_generations where job_id = ?', [jobId]);
    const ok = job.status === 'completed';
    // Stored once; a failed reply is replaced when an admin's retry of its job succeeds.
    if (!gen || !(gen.status === 'queued' || (gen.status === 'failed' && ok))) return;
    const r = (job.result ?? {}) as Record<string, unknown>;
    const error = ok ? null : job.status === 'cancelled' ? { code: 'cancelled', message: job.cancel_reason ?? 'cancelled' } : (job.last_error ?? { code: 'failed', message: 'generation failed' });
    const num = (k: string) => (typeof r[k] === 'number' ? (r[k] as number) : 0);
    const str = (k: string) => (typeof r[k] === 'string' ? (r[k] as string) : null);
    const usage = { model: str('model'), promptTokens: num('promptTokens'), completionTokens: num('completionTokens'), images: num('images'), imageModel: str('imageModel'), imageSize: str('imageSize') };
    const cost = ok ? estimateCost(settings().prices, usage) : 0;
    const outSha = ok && gen.content_type === 'image' ? str('sha256') : null;
    const meta = ok
      ? { model: usage.model, method: str('method'), style: job.input.style, aspect_ratio: job.input.aspectRatio, layout: r.layout ?? null, seed: r.seed ?? null, industry: str('industry'), width: r.width ?? null, height: r.height ?? null, prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, estimated_cost: cost }
      : null;
    const message = await em.transactional(async (tx) => {
      const [row] = await tx.execute<MessageRow[]>(
        `insert into studio_messages (session_id, role, content, image_sha256, job_id, status, error, meta)
         values (?, 'assistant', ?, ?, ?, ?, ?::jsonb, ?::jsonb)
         on conflict (job_id, role) where job_id is not null do update
           set content = excluded.content, image_sha256 = excluded.image_sha256, status = excluded.status, error = excluded.error, meta = excluded.meta
           where studio_messages.status = 'failed' and excluded.status = 'done'
         returning *`,
        [gen.session_id, ok ? (str('text') ?? '') : `Generation failed: ${error!.message}`, outSha, jobId, ok ? 'done' : 'failed', error ? JSON.stringify(error) : null, meta ? JSON.stringify(meta) : null],
      );
      if (!row) return null;
      await tx.execute(
        `update studio_generations set status = ?, output_text = ?, output_image_sha256 = ?, prompt = ?, generation_method = ?, industry = coalesce(?, industry),
           model = ?, prompt_tokens = ?, completion_tokens = ?, images = ?, estimated_cost = ?, error = ?::jsonb, completed_at = now()
         where job_id = ? and status in ('queued', 'failed')`,
        [ok ? 'completed' : 'failed', str('text'), outSha, str('prompt'), str('method'), str('industry'), usage.model, usage.promptTokens, usage.completionTokens, usage.images, cost, error ? JSON.stringify(error) : null, jobId],
      );
      await tx.execute('update studio_sessions set updated_at = now() where id = ?', [gen.session_id]);
      // The job's own cost record gains the price, so the admin dashboard (which sums jobs.cost) shows it live.
      if (ok) await tx.execute(`update jobs set cost = coalesce(cost, '{}'::jsonb) || jsonb_build_object('estimated_cost_usd', ?::float8) where id = ?`, [cost, jobId]);
      return row;
    });
    if (!message) return;
    // After every delta of this job that this node relays.
    await jobChains.get(jobId)?.catch(() => {});
    await stream.append(gen.session_id, 'message:done', { sessionId: gen.session_id, jobId, message: toMessageDto(message, deps.urlFor) }, pushEntry(gen.session_id));
  }

  function finishOnce(jobId: string): Promise<void> {
    const running = finishing.get(jobId);
    if (running) return running;
    const p = finish(jobId)
      .catch((err: unknown) => log.error({ err, jobId }, 'storing the studio reply failed'))
      .finally(() => finishing.delete(jobId));
    finishing.set(jobId, p);
    return p;
  }

  /** Replies of jobs that ended while no node stored them (a node died between the job's end and the reply). */
  async function reconcile(em: EntityManager, sessionId: string): Promise<void> {
    const open = await em.execute<{ job_id: string }[]>(
      `select g.job_id from studio_generations g join jobs j on j.id = g.job_id where g.session_id = ? and g.status = 'queued' and j.status in ('completed', 'failed', 'cancelled')`,
      [sessionId],
    );
    for (const { job_id } of open) await finishOnce(job_id);
  }

  async function segmentFor(em: EntityManager, actor: StudioActor, id: number | null | undefined): Promise<{ id: number; segment: AdSegment } | null> {
    if (id == null) return null;
    const [row] = await em.execute<{ id: number; owner_id: number; name: string; description: string | null; criteria: Record<string, unknown> }[]>('select * from studio_segments where id = ?', [id]);
    const visible = row && actor.kind === 'user' && (row.owner_id === actor.userId || actor.role === 'admin');
    if (!visible) throw new NotFoundError('No such segment', 'segment_not_found');
    return { id: row.id, segment: { name: row.name, description: row.description, criteria: row.criteria ?? {} } };
  }

  return {
    reconcile,

    /** `session:open` and `POST /chat/sessions`. */
    async open(em: EntityManager, actor: StudioActor, sessionId: string | null, guestToken?: string) {
      let attached = 0;
      if (guestToken) {
        if (actor.kind !== 'user') throw new AppError(400, 'guest_token_not_for_guests', 'Only a signed-in user attaches a guest token');
        attached = await attachGuest(em, actor.userId, await deps.verifyGuest(guestToken));
      }
      const { session, created } = await openSession(em, actor, sessionId);
      if (!created) await reconcile(em, session.id);
      return { session, created, attached };
    },

    async messages(em: EntityManager, actor: StudioActor, sessionId: string, limit: number, cursor: string | undefined) {
      await requireSession(em, actor, sessionId);
      await reconcile(em, sessionId);
      return messagesPage(em, sessionId, limit, cursor, deps.urlFor);
    },

    async pending(em: EntityManager, sessionId: string) {
      const rows = await em.execute<{ job_id: string; message_id: string }[]>(`select job_id, message_id from studio_generations where session_id = ? and status = 'queued' order by created_at`, [sessionId]);
      return rows.map((r) => ({ jobId: r.job_id, messageId: String(r.message_id) }));
    },

    replay: (sessionId: string, since: number | undefined) => stream.replay(sessionId, since),

    /**
     * "Stop generating": cancels the session's running reply (guests too: their jobs have no owner, so the
     * studio checks the session and cancels on the caller's behalf). The reply becomes a failed message
     * with code `cancelled`; the worker is told to stop.
     */
    async cancel(em: EntityManager, actor: StudioActor, sessionId: string, jobId: string): Promise<{ jobId: string; status: string }> {
      await requireSession(em, actor, sessionId);
      const [gen] = await em.execute<{ status: string }[]>('select status from studio_generations where job_id = ? and session_id = ?', [jobId, sessionId]);
      if (!gen) throw new NotFoundError('No such reply in this session', 'job_not_found');
      if (gen.status !== 'queued') throw new ConflictError(`The reply is already ${gen.status}`, 'job_finished');
      const onBehalf = { kind: 'user', userId: 0, role: 'admin', tokenId: 'studio', expiresAt: 0 } as const;
      const job = await deps.jobs.cancel(em, onBehalf, jobId, 'stopped by the user');
      return { jobId, status: job.status };
    },

    /** Records an image this actor attached, so later requests may name it by hash. */
    async rememberImage(em: EntityManager, actor: StudioActor, sha256: string): Promise<void> {
      await em.execute('insert into studio_images (sha256, owner_key) values (?, ?) on conflict do nothing', [sha256, ownerKey(actor)]);
    },

    /** Stores the user's message and queues the job. 409 while the session has a reply in progress. */
    async submit(em: EntityManager, actor: StudioActor, sessionId: string, o: GenerateOptions): Promise<{ jobId: string; messageId: string; sessionId: string }> {
      const provider = o.provider ?? settings().provider;
      if (provider === 'openai' && !settings().openai.apiKey) {
        throw new AppError(503, 'provider_not_configured', 'The openai provider is not configured: set OPENAI_API_KEY (and OPENAI_BASE_URL for vLLM or Ollama), or use provider "local"');
      }
      await requireSession(em, actor, sessionId);
      await reconcile(em, sessionId);
      if (o.imageSha256) {
        const [seen] = await em.execute<{ sha256: string }[]>('select sha256 from studio_images where owner_key = ? and sha256 = ?', [ownerKey(actor), o.imageSha256]);
        if (!seen) throw new NotFoundError('No image with this hash was attached by you; upload it with POST /generate first', 'image_not_found');
      }
      const segment = await segmentFor(em, actor, o.segmentId);
      const input: AdJobInput = {
        sessionId,
        prompt: o.text,
        provider,
        style: o.style,
        aspectRatio: o.aspectRatio,
        tone: o.tone ?? null,
        keywords: o.keywords ?? [],
        industry: o.industry ?? null,
        segment: segment?.segment ?? null,
        seed: o.seed ?? randomInt(0, 2_147_483_647),
        imageSha256: o.imageSha256 ?? null,
        layout: o.layout ?? null,
      };
      const type = o.generationType === 'image' ? 'ad_image' : 'ad_text';
      const out = await em.transactional(async (tx) => {
        // One reply at a time per session (a chat), checked under the session's row lock.
        await tx.execute('select id from studio_sessions where id = ? for update', [sessionId]);
        const [busy] = await tx.execute<{ job_id: string }[]>(`select job_id from studio_generations where session_id = ? and status = 'queued' limit 1`, [sessionId]);
        if (busy) throw new ConflictError(`This session is still answering (job ${busy.job_id}); wait for message:done`, 'session_busy');
        if (actor.kind === 'guest') {
          const [n] = await tx.execute<{ n: string }[]>(`select count(*) as n from studio_generations where guest_id = ? and user_id is null and status = 'queued'`, [actor.guestId]);
          if (Number(n!.n) >= settings().guestMaxInFlight) throw new AppError(429, 'too_many_jobs', `A guest may have ${settings().guestMaxInFlight} generations running at once`, { headers: { 'retry-after': '1' } });
        }
        const job = await deps.jobs.create(tx, actor.kind === 'user' ? actor.userId : null, type, input);
        const [msg] = await tx.execute<{ id: string }[]>(`insert into studio_messages (session_id, role, content, image_sha256, job_id, meta) values (?, 'user', ?, ?, ?, ?::jsonb) returning id`, [
          sessionId, o.text, o.imageSha256 ?? null, job.id,
          JSON.stringify({ generation_type: o.generationType, style: o.style, aspect_ratio: o.aspectRatio, tone: input.tone, keywords: input.keywords, segment_id: segment?.id ?? null, provider }),
        ]);
        await tx.execute(
          `insert into studio_generations (job_id, session_id, message_id, user_id, guest_id, content_type, input_text, input_image_sha256, provider, style, aspect_ratio, tone, keywords, industry, seed, segment_id)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?)`,
          [job.id, sessionId, msg!.id, actor.kind === 'user' ? actor.userId : null, actor.kind === 'guest' ? actor.guestId : null, o.generationType, o.text, o.imageSha256 ?? null, provider, o.style, o.aspectRatio, input.tone, JSON.stringify(input.keywords), input.industry, input.seed, segment?.id ?? null],
        );
        await tx.execute(`update studio_sessions set updated_at = now(), title = coalesce(title, ?) where id = ?`, [o.text.slice(0, 80), sessionId]);
        return { jobId: job.id, messageId: String(msg!.id), seq: job.seq };
      });
      remember(out.jobId, { sessionId, attempt: 1 });
      deps.emit(sessionRoom(sessionId), 'job:progress', { sessionId, jobId: out.jobId, seq: out.seq, status: 'queued', stage: 'pending', progress: 0, message: null });
      return { jobId: out.jobId, messageId: out.messageId, sessionId };
    },

    /** Every job push (jobs.factory `onPush`): ad jobs are mirrored into their session. Never throws. */
    onJobPush(_ownerId: number | null, push: JobPush): void {
      // Other job types (upscale, best cut) never belong to a session: no lookup for them.
      if (push.jobType !== undefined && push.jobType !== 'ad_text' && push.jobType !== 'ad_image') return;
      const { jobId } = push.payload;
      const stage = String(push.payload.stage ?? '');
      // A new claim: the attempt changed; the next delta reads it again.
      if (stage === 'assigned') jobs.delete(jobId);
      // The create push runs inside the request's transaction: nothing to find yet (submit remembers it).
      if (push.payload.status === 'queued' && stage === 'queued' && !jobs.has(jobId)) return;
      if (jobs.get(jobId) === null) return;
      void chain(jobId, async () => {
        const info = await lookup(jobId);
        if (!info) return;
        const p = push.payload;
        if (push.event === 'job:progress') {
          deps.emit(sessionRoom(info.sessionId), 'job:progress', { ...p, sessionId: info.sessionId, stage: STAGE_ALIASES[stage] ?? p.stage });
          return;
        }
        deps.emit(sessionRoom(info.sessionId), push.event, { ...p, sessionId: info.sessionId });
        void finishOnce(jobId);
      });
    },

    /** Streamed text from a worker (jobs.factory `onDelta`): numbered in the session's stream and pushed. */
    onDelta(jobId: string, text: string): void {
      if (jobs.get(jobId) === null) return;
      // Pieces that arrive while the previous one is still being stored travel together as one entry: under
      // load the stream keeps up with the worker instead of queueing one Redis call per token.
      const waiting = pendingText.get(jobId);
      pendingText.set(jobId, (waiting ?? '') + text);
      if (waiting !== undefined) return;
      void chain(jobId, async () => {
        const batch = pendingText.get(jobId) ?? '';
        pendingText.delete(jobId);
        const info = await lookup(jobId);
        if (!info || batch === '') return;
        await stream.append(info.sessionId, 'message:delta', { sessionId: info.sessionId, jobId, text: batch, attempt: info.attempt }, pushEntry(info.sessionId));
      });
    },

    /** Resolves when every reply and relay started so far is done (tests, shutdown). */
    async idle(): Promise<void> {
      while (jobChains.size > 0 || finishing.size > 0) await Promise.all([...jobChains.values(), ...finishing.values()].map((p) => p.catch(() => {})));
    },
  };
}

export type StudioService = ReturnType<typeof createStudioService>;
