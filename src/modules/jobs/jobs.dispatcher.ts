import type { Socket } from 'socket.io';
import type { Orm } from '../../platform/db/orm.js';
import type { Logger } from '../../platform/logger.js';
import { WorkerEvents, type JobType, type WorkerHello } from './jobs.events.js';
import { claimJobs, notifyWork, pushFor, rebindJobs, reapExpired, SEQ_GAP, writeProgress, type JobPush, type JobRow } from './jobs.store.js';
import { saveWorkers, type WorkerPresence } from './workers.store.js';
import type { JobsSettings } from './jobs.service.js';

/** Worker claims one dispatch pass runs at once (each takes a pooled connection for one statement). */
const CLAIMS_IN_FLIGHT = 4;

/** A job this node's worker socket runs: progress is numbered here and written to the row at a bounded rate. */
export interface HeldJob {
  id: string;
  type: string;
  ownerId: number | null;
  /** Last seq pushed for this job (memory); `written` is the last one in the row. */
  seq: number;
  written: number;
  pending: { stage: string; progress: number; message: string | null } | null;
  pushes: JobPush[];
  renew: boolean;
  /** Outputs arriving in pieces (`job:output`), by name, until `job:complete`. */
  chunks: Map<string, { contentType: string; parts: Buffer[]; bytes: number }>;
  timer: NodeJS.Timeout | null;
  lastWrite: number;
}

export interface WorkerConn {
  socket: Socket;
  /** Lease owner: `<token worker id>[/<instanceId>]`. */
  owner: string;
  caps: WorkerCaps;
  held: Map<string, HeldJob>;
  connectedAt: number;
  lastSeen: number;
  /** Said it is shutting down (a `worker_shutdown` hand-back): assigned nothing more. */
  draining?: boolean;
}
export type WorkerCaps = { types: JobType[]; models: string[]; provider: string; concurrency: number; version: string };

export interface DispatcherDeps {
  orm: Orm;
  /** This hub process, as named in job_workers.node. */
  nodeId: string;
  logger: Logger;
  settings: () => JobsSettings;
  /** Sends a push to a job's watchers (every node). */
  push: (ownerId: number | null, push: JobPush) => void;
  /** Tells whichever socket holds `owner`'s lease, on any node, to stop a job. */
  cancelOnWorker: (owner: string, jobId: string, reason: string) => void;
}

/**
 * Per-node worker registry and dispatch. Dispatch runs one pass at a time; a request during a pass runs one
 * more pass after it, so a wake-up is never lost and never runs twice at once. Claims use SKIP LOCKED, so
 * every node dispatches to its own workers without coordinating with the others.
 */
export function createDispatcher(deps: DispatcherDeps) {
  const { orm, logger } = deps;
  const workers = new Map<string, WorkerConn>();
  let running: Promise<void> | null = null;
  let again = false;
  let closed = false;
  const wakeTimers = new Set<NodeJS.Timeout>();

  function dispatch(): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = pass()
      .catch((err: unknown) => logger.error({ err }, 'job dispatch failed'))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          dispatch();
        }
      });
  }

  async function pass(): Promise<void> {
    const s = deps.settings();
    // One claim per worker with free slots, up to CLAIMS_IN_FLIGHT at once (SKIP LOCKED keeps them apart):
    // a pass costs one round trip for up to that many workers, and never takes the whole pool.
    const ready = [...workers.values()].filter((conn) => conn.caps.concurrency > conn.held.size && conn.socket.connected && !conn.draining);
    const claimFor = async (conn: WorkerConn) => {
      const free = conn.caps.concurrency - conn.held.size;
      if (free <= 0 || !conn.socket.connected || conn.draining) return;
      const rows = await claimJobs(orm.em.fork(), conn.owner, conn.caps.types, free, s.leaseMs, s.historySize);
      for (const row of rows) assign(conn, row, s.leaseMs);
    };
    let next = 0;
    const lanes = Array.from({ length: Math.min(CLAIMS_IN_FLIGHT, ready.length) }, async () => {
      while (next < ready.length) await claimFor(ready[next++]!);
    });
    const failed = (await Promise.allSettled(lanes)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Binds a claimed job to its worker and sends it. */
  function assign(conn: WorkerConn, row: JobRow, leaseMs: number): void {
    bind(conn, row);
    deps.push(row.owner_id, pushFor(row));
    // A socket that left while we claimed keeps the job under lease until the reaper requeues it.
    conn.socket.emit(WorkerEvents.assign, { jobId: row.id, type: row.type, input: row.input, attempt: row.attempts, leaseMs });
  }

  function bind(conn: WorkerConn, row: JobRow): HeldJob {
    const held: HeldJob = { id: row.id, type: row.type, ownerId: row.owner_id, seq: row.seq, written: row.seq, pending: null, pushes: [], renew: false, chunks: new Map(), timer: null, lastWrite: 0 };
    conn.held.set(row.id, held);
    return held;
  }

  /** Forgets a job on this node (finished, lost, cancelled); its slot is free again. */
  function release(conn: WorkerConn, jobId: string): void {
    if (forget(conn, jobId)) dispatch();
  }

  /** Drops a held job and its pending write timer; false when this socket did not hold it. */
  function forget(conn: WorkerConn, jobId: string): boolean {
    const held = conn.held.get(jobId);
    if (!held) return false;
    if (held.timer) clearTimeout(held.timer);
    conn.held.delete(jobId);
    return true;
  }

  function presence(conn: WorkerConn, connected: boolean): WorkerPresence {
    const c = conn.caps;
    return { owner: conn.owner, node: deps.nodeId, types: c.types, models: c.models, provider: c.provider, concurrency: c.concurrency, version: c.version, running: connected ? [...conn.held.keys()] : [], connected };
  }

  function savePresence(list: WorkerPresence[]): void {
    saveWorkers(orm.em.fork(), list).catch((err: unknown) => logger.warn({ err }, 'saving worker presence failed'));
  }

  function findHolder(jobId: string): { conn: WorkerConn; held: HeldJob } | null {
    for (const conn of workers.values()) {
      const held = conn.held.get(jobId);
      if (held) return { conn, held };
    }
    return null;
  }

  function schedule(conn: WorkerConn, held: HeldJob): void {
    if (held.timer) return;
    const delay = Math.max(0, held.lastWrite + deps.settings().progressWriteMs - Date.now());
    held.timer = setTimeout(() => {
      held.timer = null;
      void write(conn, held);
    }, delay);
  }

  /** Writes what a held job has pending; on a lost lease the job is released and its worker told to stop. */
  async function write(conn: WorkerConn, held: HeldJob): Promise<boolean> {
    const s = deps.settings();
    const pending = held.pending;
    const pushes = held.pushes;
    if (!pending && !held.renew && pushes.length === 0) return conn.held.get(held.id) === held;
    held.pending = null;
    held.pushes = [];
    held.renew = false;
    held.lastWrite = Date.now();
    const seq = held.seq;
    const ok = await writeProgress(orm.em.fork(), held.id, conn.owner, pending && { ...pending, seq }, pushes, s.leaseMs, s.historySize).catch((err: unknown) => {
      logger.warn({ err, jobId: held.id }, 'job progress write failed');
      return true;
    });
    held.written = Math.max(held.written, seq);
    if (!ok && conn.held.get(held.id) === held) {
      release(conn, held.id);
      conn.socket.emit(WorkerEvents.cancel, { jobId: held.id, reason: 'lease_lost' });
    }
    return ok;
  }

  return {
    workers,
    dispatch,
    findHolder,
    release,
    write,

    /**
     * What a completing job's freed slot may claim in the completion's own statement (store.completeAndClaim):
     * the worker's types, or null when it must get nothing more (draining, gone, this node closing).
     */
    nextFor(conn: WorkerConn): { types: readonly string[]; leaseMs: number } | null {
      if (closed || conn.draining || !conn.socket.connected || workers.get(conn.socket.id) !== conn) return null;
      return { types: conn.caps.types, leaseMs: deps.settings().leaseMs };
    },

    /** A held job ended and `claimed` took its slot in the same statement: forget the one, send the others. */
    handOver(conn: WorkerConn, doneId: string, claimed: JobRow[]): void {
      forget(conn, doneId);
      const leaseMs = deps.settings().leaseMs;
      for (const row of claimed) assign(conn, row, leaseMs);
      // Nothing came with the completion: the slot is free, and other types or queues may have work.
      if (claimed.length === 0) dispatch();
    },

    /** `worker:hello`: registers the socket, re-binds jobs it still holds, then dispatches. */
    async hello(socket: Socket, owner: string, hello: WorkerHello): Promise<string[]> {
      const s = deps.settings();
      const caps = hello.capabilities;
      const conn: WorkerConn = {
        socket,
        owner,
        caps: { types: caps.types, models: caps.models ?? [], provider: caps.provider, concurrency: caps.concurrency, version: caps.version ?? '0' },
        held: new Map(),
        connectedAt: Date.now(),
        lastSeen: Date.now(),
      };
      // A second hello on the same socket replaces the first; its held jobs carry over.
      const prev = workers.get(socket.id);
      if (prev) for (const [id, h] of prev.held) conn.held.set(id, h);
      const rows = await rebindJobs(orm.em.fork(), owner, (hello.running ?? []).filter((id) => !conn.held.has(id)), s.leaseMs);
      // The same job bound to this owner's old socket on this node moves to the new one.
      for (const row of rows) {
        const old = findHolder(row.id);
        if (old) {
          if (old.held.timer) clearTimeout(old.held.timer);
          old.conn.held.delete(row.id);
        }
        const held = bind(conn, row);
        if (old) held.seq = Math.max(held.seq, old.held.seq);
      }
      workers.set(socket.id, conn);
      void socket.join(`lease:${owner}`);
      savePresence([presence(conn, true)]);
      dispatch();
      return [...conn.held.keys()];
    },

    /** The socket left: its jobs keep their leases (the worker may reconnect and re-bind them); pending progress is written. */
    async disconnected(socket: Socket): Promise<void> {
      const conn = workers.get(socket.id);
      if (!conn) return;
      workers.delete(socket.id);
      // Another socket of the same owner (a reconnect that overtook this disconnect) keeps the row connected.
      if (![...workers.values()].some((w) => w.owner === conn.owner)) savePresence([presence(conn, false)]);
      await Promise.all(
        [...conn.held.values()].map(async (held) => {
          if (held.timer) clearTimeout(held.timer);
          held.timer = null;
          await write(conn, held);
        }),
      );
      conn.held.clear();
    },

    /** Progress from the holder: pushed at once, written later. Returns false when too far ahead of the row. */
    progress(conn: WorkerConn, held: HeldJob, p: { stage: string; progress: number; message?: string | undefined }): boolean {
      conn.lastSeen = Date.now();
      // Stay below the jump that cancel/reaper make (jobs.store.ts SEQ_GAP): drop pushes until the write lands.
      if (held.seq - held.written >= SEQ_GAP / 2) return false;
      held.seq += 1;
      const push: JobPush = { event: 'job:progress', payload: { jobId: held.id, seq: held.seq, status: 'active', stage: p.stage, progress: p.progress, message: p.message ?? null }, jobType: held.type };
      deps.push(held.ownerId, push);
      held.pending = { stage: p.stage, progress: p.progress, message: p.message ?? null };
      held.pushes.push(push);
      schedule(conn, held);
      return true;
    },

    heartbeat(conn: WorkerConn, held: HeldJob): void {
      conn.lastSeen = Date.now();
      held.renew = true;
      schedule(conn, held);
    },

    /** Refreshes the presence rows of this node's workers (last_seen, running); the slow sweep calls it. */
    async savePresence(): Promise<void> {
      if (workers.size > 0) await saveWorkers(orm.em.fork(), [...workers.values()].map((w) => presence(w, true)));
    },

    /** Requeued jobs with a backoff: dispatch when it ends (this node), on top of the NOTIFY for the others. */
    wakeAfter(delayMs: number): void {
      if (closed) return;
      const t = setTimeout(() => {
        wakeTimers.delete(t);
        dispatch();
      }, Math.max(0, delayMs) + 20);
      wakeTimers.add(t);
    },

    /** Requeues or fails expired leases (any node may run it at any time). */
    async reap(): Promise<JobRow[]> {
      const s = deps.settings();
      const rows = await reapExpired(orm.em.fork(), { baseMs: s.backoffBaseMs, maxMs: s.backoffMaxMs }, s.historySize);
      const delays = new Set<number>();
      for (const row of rows) {
        deps.push(row.owner_id, pushFor(row));
        if (row.lease_owner) deps.cancelOnWorker(row.lease_owner, row.id, 'lease_expired');
        const local = findHolder(row.id);
        if (local) release(local.conn, row.id);
        if (row.status === 'queued') delays.add(Math.max(0, new Date(row.run_after).getTime() - Date.now()));
      }
      // One NOTIFY per distinct backoff: every node (this one included) dispatches when it ends.
      for (const d of delays) await notifyWork(orm.em.fork(), '*', d);
      return rows;
    },

    async close(): Promise<void> {
      closed = true;
      for (const t of wakeTimers) clearTimeout(t);
      wakeTimers.clear();
      await running;
      await Promise.all([...workers.values()].map((conn) => this.disconnected(conn.socket)));
    },
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
