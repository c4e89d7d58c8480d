import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import {
  JobAssign,
  JobCancel,
  OUTPUT_CHUNK_BYTES,
  WorkerEvents,
  WorkerHelloAck,
  type JobDelta,
  type JobFail,
  type JobHeartbeat,
  type JobOutputChunk,
  type JobProgress,
  type WorkerHello,
} from '../modules/jobs/jobs.events.js';
import type { WorkerLogger } from './worker.handlers.js';
import type { JobCompletion, Runner } from './worker.runner.js';

/**
 * The worker's socket to a hub's `/workers` namespace (protocol: src/modules/jobs/jobs.events.ts).
 *
 * - Every connect (first or re-) starts with `worker:hello`, naming the jobs this worker still holds
 *   (running, or finished with the answer not yet acknowledged). The ack's `resume` lists those the hub
 *   re-bound; the others are dropped unanswered, since the hub has already moved them on.
 * - Final answers (`job:complete` / `job:fail`) go through an outbox: sent only after hello, kept until the
 *   hub acks them, re-sent after a reconnect. A repeat is harmless (the hub answers `already_finished`).
 *   Outputs over OUTPUT_CHUNK_BYTES in all go first as `job:output` pieces, each acked before the next (the
 *   hub takes at most 1 MB per message); a re-send after a reconnect starts the pieces over, since the hub
 *   keeps them with the binding that the disconnect ended.
 * - `instanceId` (random per process, kept across reconnects) makes the lease owner this process, not
 *   every process sharing the token.
 * - Progress is fire-and-forget while connected (each one renews the lease); a refused one (`lease_lost`,
 *   `not_found`, `already_finished`) drops the job. While any job runs, `job:heartbeat` goes out every
 *   leaseMs/3 so a long silent step never loses its lease; jobs its ack lists as `lost` are dropped.
 * - Reconnection: socket.io's manager retries transport failures with jittered backoff; a refusal by the
 *   namespace (or a server-side disconnect) is retried here with the same backoff, except an auth refusal
 *   (`token_*`, `forbidden`), which is fatal: a bad token does not get better by waiting.
 */

type Ack<T = unknown> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } };

interface HubToWorker {
  'job:assign': (job: unknown, ack?: (reply: Ack) => void) => void;
  'job:cancel': (cancel: unknown, ack?: (reply: Ack) => void) => void;
}
interface WorkerToHub {
  'worker:hello': (hello: WorkerHello, ack: (reply: Ack) => void) => void;
  'job:progress': (p: JobProgress, ack: (reply: Ack) => void) => void;
  'job:delta': (d: JobDelta, ack: (reply: Ack) => void) => void;
  'job:heartbeat': (h: JobHeartbeat, ack: (reply: Ack<{ lost?: string[] }>) => void) => void;
  'job:output': (chunk: JobOutputChunk, ack: (reply: Ack) => void) => void;
  'job:complete': (c: JobCompletion, ack: (reply: Ack) => void) => void;
  'job:fail': (f: JobFail, ack: (reply: Ack) => void) => void;
}
type WorkerSocket = Socket<HubToWorker, WorkerToHub>;

export interface ConnectionOptions {
  hubUrl: string;
  token: string;
  capabilities: WorkerHello['capabilities'];
  logger: WorkerLogger;
  /** How long an answer may wait for the hub's ack before it is re-sent on the next connect (default 30 s). */
  ackTimeoutMs?: number;
  /** Reconnect backoff bounds (default 500 ms … 10 s, jittered). */
  reconnectDelayMs?: number;
  reconnectDelayMaxMs?: number;
  /** The hub refused the token: the process should stop. */
  onFatal?: (err: Error) => void;
}

type Final = { event: 'job:complete'; payload: JobCompletion } | { event: 'job:fail'; payload: JobFail };

export interface WorkerConnection {
  /** Wire a runner's sink here: `{ progress, complete, fail }`. */
  progress(p: JobProgress): void;
  delta(d: JobDelta): void;
  complete(c: JobCompletion): void;
  fail(f: JobFail): void;
  attach(runner: Runner): void;
  /** Resolves at each hello ack with the worker id the hub gave. */
  readonly workerId: string | null;
  ready(): Promise<string>;
  /** Answers still waiting for the hub's ack. */
  pending(): number;
  /** Waits (up to `timeoutMs`) for every answer to be acked, then disconnects. */
  close(timeoutMs: number): Promise<void>;
}

const FATAL = /^(token_|forbidden$|unauthorized$)/;
/**
 * Refusals of a final answer that say "not now" rather than "no" (the hub's database or Redis is down, it is
 * draining, the worker sent too fast): the answer is kept and sent again, so a hub outage costs no attempt.
 */
const RETRY_LATER = new Set(['db_unavailable', 'redis_unavailable', 'dependency_unavailable', 'shutting_down', 'rate_limited']);
const RETRY_ANSWER_MS = 1000;
const LOST = new Set(['lease_lost', 'not_found', 'already_finished']);

export function connectWorker(opts: ConnectionOptions): WorkerConnection {
  const { logger } = opts;
  const ackTimeoutMs = opts.ackTimeoutMs ?? 30_000;
  const delayMin = opts.reconnectDelayMs ?? 500;
  const delayMax = opts.reconnectDelayMaxMs ?? 10_000;
  const url = `${opts.hubUrl.replace(/\/+$/, '')}/workers`;
  const socket: WorkerSocket = io(url, {
    auth: { token: opts.token },
    transports: ['websocket'],
    reconnectionDelay: delayMin,
    reconnectionDelayMax: delayMax,
    randomizationFactor: 0.5,
  });
  const instanceId = randomUUID();
  let runner: Runner | null = null;
  let workerId: string | null = null;
  let helloDone = false;
  /**
   * Hello went out on this connection: the hub may assign before its ack reaches us, so progress for those
   * new jobs may flow; the jobs hello named (`unconfirmed`) stay quiet until the ack says they are still ours.
   */
  let helloSent = false;
  let unconfirmed = new Set<string>();
  let closing = false;
  let attempts = 0;
  let retryTimer: NodeJS.Timeout | null = null;
  let heartbeatTimer: NodeJS.Timeout | null = null;
  let heartbeatDue = 0;
  const outbox = new Map<string, Final>();
  /** Answers the hub could not take yet, waiting to be sent again. */
  const answerTimers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<string>();
  let readyWaiters: Array<(id: string) => void> = [];
  let drainedWaiters: Array<() => void> = [];

  const online = () => socket.connected && helloDone;

  function retryLater(why: string): void {
    if (closing || retryTimer) return;
    const base = Math.min(delayMax, delayMin * 2 ** Math.min(attempts++, 10));
    const delay = Math.round(base * (0.5 + Math.random()));
    logger.warn({ why, delayMs: delay }, 'not connected to the hub, retrying');
    retryTimer = setTimeout(() => {
      retryTimer = null;
      if (!closing && !socket.connected) socket.connect();
    }, delay);
  }

  async function hello(): Promise<void> {
    const running = runner?.runningIds() ?? [];
    const held = [...new Set([...running, ...outbox.keys()])].slice(0, 64);
    let reply: Ack;
    helloSent = true;
    unconfirmed = new Set(held);
    try {
      reply = await socket.timeout(ackTimeoutMs).emitWithAck('worker:hello', { capabilities: opts.capabilities, instanceId, running: held });
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'worker:hello got no ack; reconnecting');
      socket.disconnect();
      retryLater('hello timeout');
      return;
    }
    if (!reply.ok) {
      logger.error({ error: reply.error }, 'hub refused worker:hello');
      socket.disconnect();
      if (FATAL.test(reply.error.code)) opts.onFatal?.(new Error(`hub refused worker:hello: ${reply.error.code} ${reply.error.message}`));
      else retryLater(reply.error.code);
      return;
    }
    const ack = WorkerHelloAck.parse(reply.data);
    unconfirmed = new Set();
    const resume = new Set(ack.resume);
    // Only what hello named: a job assigned on this connection before the ack arrived is ours either way.
    for (const id of held) {
      if (resume.has(id)) continue;
      runner?.drop(id);
      outbox.delete(id);
    }
    workerId = ack.workerId;
    helloDone = true;
    attempts = 0;
    logger.info({ workerId, hub: opts.hubUrl, resumed: ack.resume.length, lost: held.length - ack.resume.length, capabilities: opts.capabilities }, 'worker registered with the hub');
    for (const w of readyWaiters) w(ack.workerId);
    readyWaiters = [];
    for (const id of outbox.keys()) void flush(id);
    checkDrained();
    scheduleHeartbeat();
  }

  async function flush(jobId: string): Promise<void> {
    const item = outbox.get(jobId);
    if (!item || inFlight.has(jobId) || !online()) return;
    inFlight.add(jobId);
    try {
      const reply = await send(item);
      if (!reply.ok && RETRY_LATER.has(reply.error.code) && outbox.get(jobId) === item && !closing) {
        logger.warn({ jobId, event: item.event, error: reply.error }, 'the hub cannot take the answer now; sending it again');
        const t = setTimeout(() => {
          answerTimers.delete(t);
          void flush(jobId);
        }, RETRY_ANSWER_MS + Math.round(Math.random() * RETRY_ANSWER_MS));
        answerTimers.add(t);
        return;
      }
      if (outbox.get(jobId) === item) outbox.delete(jobId);
      if (!reply.ok) logger.warn({ jobId, event: item.event, error: reply.error }, 'hub refused the answer (job moved on)');
    } catch (err) {
      // No ack (disconnected or slow): kept for the next hello, which re-binds or forgets it.
      logger.warn({ jobId, event: item.event, err: (err as Error).message }, 'answer not acknowledged yet; kept for the next connection');
    } finally {
      inFlight.delete(jobId);
      checkDrained();
    }
  }

  /** One final answer on the current socket; outputs too large for one message go first in acked pieces. */
  async function send(item: Final): Promise<Ack> {
    if (item.event === 'job:fail') return socket.timeout(ackTimeoutMs).emitWithAck('job:fail', item.payload);
    const { outputs, jobId } = item.payload;
    const total = outputs.reduce((n, o) => n + o.data.byteLength, 0);
    if (total <= OUTPUT_CHUNK_BYTES) return socket.timeout(ackTimeoutMs).emitWithAck('job:complete', item.payload);
    for (const o of outputs) {
      for (let at = 0; at < o.data.byteLength; at += OUTPUT_CHUNK_BYTES) {
        const data = Buffer.from(o.data.buffer, o.data.byteOffset + at, Math.min(OUTPUT_CHUNK_BYTES, o.data.byteLength - at));
        const reply = await socket.timeout(ackTimeoutMs).emitWithAck('job:output', { jobId, name: o.name, contentType: o.contentType, data });
        if (!reply.ok) return reply;
      }
    }
    // Empty outputs have no pieces: they still ride inline.
    return socket.timeout(ackTimeoutMs).emitWithAck('job:complete', { ...item.payload, outputs: outputs.filter((o) => o.data.byteLength === 0) });
  }

  function checkDrained(): void {
    if (outbox.size > 0) return;
    for (const w of drainedWaiters) w();
    drainedWaiters = [];
  }

  /** (Re)arms the heartbeat for the shortest lease among running jobs; a new shorter lease re-arms it sooner. */
  function scheduleHeartbeat(): void {
    if (closing) return;
    const lease = runner?.shortestLeaseMs();
    if (lease == null) return;
    const due = Date.now() + Math.max(100, Math.floor(lease / 3));
    if (heartbeatTimer && heartbeatDue <= due) return;
    if (heartbeatTimer) clearTimeout(heartbeatTimer);
    heartbeatDue = due;
    heartbeatTimer = setTimeout(() => {
      heartbeatTimer = null;
      const jobIds = runner?.runningIds().slice(0, 64) ?? [];
      if (online() && jobIds.length) {
        socket.timeout(ackTimeoutMs).emit('job:heartbeat', { jobIds }, (err: Error | null, reply?: Ack<{ lost?: string[] }>) => {
          if (!err && reply?.ok) for (const id of reply.data?.lost ?? []) runner?.drop(id);
        });
      }
      scheduleHeartbeat();
    }, due - Date.now());
    heartbeatTimer.unref();
  }

  function onAssign(payload: unknown, ack?: (reply: Ack) => void): void {
    const parsed = JobAssign.safeParse(payload);
    if (!parsed.success) {
      logger.error({ issues: parsed.error.issues.slice(0, 5) }, 'malformed job:assign');
      ack?.({ ok: false, error: { code: 'validation_failed', message: parsed.error.message.slice(0, 500) } });
      const jobId = (payload as { jobId?: unknown } | null)?.jobId;
      if (typeof jobId === 'string') conn.fail({ jobId, error: { code: 'invalid_assignment', message: 'job:assign did not match the protocol' }, retryable: false });
      return;
    }
    ack?.({ ok: true, data: null });
    if (!runner) {
      conn.fail({ jobId: parsed.data.jobId, error: { code: 'worker_starting', message: 'Worker not ready' }, retryable: true });
      return;
    }
    runner.assign(parsed.data);
    scheduleHeartbeat();
  }

  function onCancel(payload: unknown, ack?: (reply: Ack) => void): void {
    const parsed = JobCancel.safeParse(payload);
    if (!parsed.success) {
      ack?.({ ok: false, error: { code: 'validation_failed', message: parsed.error.message.slice(0, 500) } });
      return;
    }
    const running = runner?.cancel(parsed.data.jobId, parsed.data.reason) ?? false;
    logger.info({ jobId: parsed.data.jobId, reason: parsed.data.reason, running }, 'job:cancel');
    ack?.({ ok: true, data: { running } });
  }

  socket.on(WorkerEvents.assign, onAssign);
  socket.on(WorkerEvents.cancel, onCancel);
  socket.on('connect', () => {
    logger.info({ hub: url }, 'connected to the hub');
    void hello();
  });
  socket.on('disconnect', (reason) => {
    helloDone = false;
    helloSent = false;
    if (closing) return;
    logger.warn({ reason }, 'disconnected from the hub');
    // 'io server disconnect': the namespace ended this socket; socket.io does not retry that on its own.
    if (!socket.active) retryLater(reason);
  });
  socket.on('connect_error', (err: Error & { data?: { code?: string; retryAfter?: number } }) => {
    const code = err.data?.code;
    if (code && FATAL.test(code)) {
      logger.error({ code, message: err.message }, 'the hub refused the worker token');
      opts.onFatal?.(Object.assign(new Error(`the hub refused the worker token: ${code} ${err.message}`), { code }));
      return;
    }
    if (!socket.active) retryLater(code ?? err.message);
    else logger.warn({ message: err.message }, 'hub unreachable, socket.io retries');
  });

  const conn: WorkerConnection = {
    progress(p) {
      // Progress is a snapshot: the next one supersedes one not sent.
      if (!socket.connected || !helloSent || unconfirmed.has(p.jobId)) return;
      // With a timeout, so a hub that never acks progress cannot pile up callbacks here.
      socket.timeout(ackTimeoutMs).emit('job:progress', p, (err: Error | null, reply?: Ack) => {
        if (!err && reply && !reply.ok && LOST.has(reply.error.code)) runner?.drop(p.jobId);
      });
    },
    delta(d) {
      // Like progress: not kept while offline (the final answer carries the whole text).
      if (!socket.connected || !helloSent || unconfirmed.has(d.jobId)) return;
      socket.timeout(ackTimeoutMs).emit('job:delta', d, (err: Error | null, reply?: Ack) => {
        if (!err && reply && !reply.ok && LOST.has(reply.error.code)) runner?.drop(d.jobId);
      });
    },
    complete(c) {
      outbox.set(c.jobId, { event: 'job:complete', payload: c });
      void flush(c.jobId);
    },
    fail(f) {
      outbox.set(f.jobId, { event: 'job:fail', payload: f });
      void flush(f.jobId);
    },
    attach(r) {
      runner = r;
    },
    get workerId() {
      return workerId;
    },
    ready() {
      if (online() && workerId) return Promise.resolve(workerId);
      return new Promise((resolve) => readyWaiters.push(resolve));
    },
    pending: () => outbox.size,
    async close(timeoutMs) {
      if (outbox.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => drainedWaiters.push(resolve)),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, timeoutMs);
          }),
        ]);
        clearTimeout(timer);
        if (outbox.size) logger.warn({ unanswered: [...outbox.keys()] }, 'closing with answers the hub never acknowledged (their leases will expire)');
      }
      closing = true;
      if (retryTimer) clearTimeout(retryTimer);
      for (const t of answerTimers) clearTimeout(t);
      answerTimers.clear();
      if (heartbeatTimer) clearTimeout(heartbeatTimer);
      socket.disconnect();
    },
  };
  return conn;
}
