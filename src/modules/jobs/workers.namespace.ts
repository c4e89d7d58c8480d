import type { Socket } from 'socket.io';
import { z } from 'zod';
import { AppError } from '../../platform/errors.js';
import { socketEvent, type NamespaceSpec } from '../../transport/socket/namespace.js';
import type { Dispatcher, WorkerConn } from './jobs.dispatcher.js';
import { JobAssign, JobCancel, JobComplete, JobDelta, JobFail, JobHeartbeat, JobOutputChunk, JobProgress, WorkerEvents, WorkerHello, WorkerHelloAck } from './jobs.events.js';
import type { JobsService } from './jobs.service.js';

/**
 * `/workers` (worker tokens only). A socket says `worker:hello` first; then the dispatcher pushes `job:assign`
 * while it has free slots. When a socket drops, its jobs keep their leases until they expire: a worker that
 * reconnects within the lease and lists them in `hello.running` keeps them (re-bound, lease renewed); after
 * that the reaper requeues them and the old worker's answers are refused (`lease_lost`).
 */
export function workersNamespace(deps: { dispatcher: Dispatcher; jobs: JobsService; relayDelta: (jobId: string, text: string) => void }): NamespaceSpec {
  const { dispatcher, jobs } = deps;

  function connOf(socket: Socket): WorkerConn {
    const conn = dispatcher.workers.get(socket.id);
    if (!conn) throw new AppError(409, 'hello_first', 'send worker:hello before anything else');
    return conn;
  }

  return {
    name: '/workers',
    access: 'worker',
    summary: 'Workers: announce capabilities, receive jobs, report progress and results',
    onConnect: ({ socket }) => {
      socket.on('disconnect', () => {
        void dispatcher.disconnected(socket);
      });
    },
    events: [
      socketEvent({
        event: WorkerEvents.hello,
        summary: 'Register this worker (types, models, provider, concurrency; jobs it still runs after a reconnect)',
        schema: WorkerHello,
        reply: WorkerHelloAck,
        handler: async (hello, { socket, actor }) => {
          if (actor.kind !== 'worker') throw new AppError(403, 'forbidden', 'workers only');
          const owner = hello.instanceId ? `${actor.workerId}/${hello.instanceId}` : actor.workerId;
          const resume = await dispatcher.hello(socket, owner, hello);
          return { workerId: owner, resume };
        },
      }),
      socketEvent({
        event: WorkerEvents.progress,
        summary: 'Stage and progress (0..1) of a held job; pushed to watchers at once, renews the lease',
        schema: JobProgress,
        handler: async (p, { socket, em }) => {
          const conn = connOf(socket);
          const held = conn.held.get(p.jobId);
          if (!held) throw await jobs.refusal(em, p.jobId, conn.owner);
          return { pushed: dispatcher.progress(conn, held, p) };
        },
      }),
      socketEvent({
        event: WorkerEvents.delta,
        summary: 'Streamed text of a held job, relayed to watchers (not stored)',
        schema: JobDelta,
        handler: async (d, { socket, em }) => {
          const conn = connOf(socket);
          if (!conn.held.has(d.jobId)) throw await jobs.refusal(em, d.jobId, conn.owner);
          deps.relayDelta(d.jobId, d.text);
          return null;
        },
      }),
      socketEvent({
        event: WorkerEvents.heartbeat,
        summary: 'Renew the leases of held jobs; ack lists the ones this worker no longer holds (`lost`)',
        schema: JobHeartbeat,
        handler: async ({ jobIds }, { socket }) => {
          const conn = connOf(socket);
          const lost: string[] = [];
          for (const id of jobIds) {
            const held = conn.held.get(id);
            if (held) dispatcher.heartbeat(conn, held);
            else lost.push(id);
          }
          return { lost };
        },
      }),
      socketEvent({
        event: WorkerEvents.output,
        summary: 'A piece (≤ 512 KiB) of a binary output too large for one message; named in job:complete',
        schema: JobOutputChunk,
        handler: async (msg, { socket, em }) => jobs.outputChunk(em, connOf(socket), msg),
      }),
      socketEvent({
        event: WorkerEvents.complete,
        summary: 'Finish a held job: result plus binary outputs (stored as media, named by sha256 in the result)',
        schema: JobComplete,
        handler: async (msg, { socket, em }) => jobs.complete(em, connOf(socket), msg),
      }),
      socketEvent({
        event: WorkerEvents.fail,
        summary: 'Report a failure: retryable → requeued with backoff while attempts remain; else failed',
        schema: JobFail,
        handler: async (msg, { socket, em }) => jobs.fail(em, connOf(socket), msg),
      }),
    ],
    pushes: [
      { event: WorkerEvents.assign, summary: 'A job for this worker: run it, report progress, then complete or fail', schema: JobAssign },
      { event: WorkerEvents.cancel, summary: 'Stop this job (cancelled, lease lost or expired); answers about it are refused', schema: JobCancel },
      { event: 'server:shutdown', summary: 'This node is shutting down; reconnect (to another node) and say hello with `running`', schema: z.object({ reconnect: z.boolean(), reason: z.string() }) },
    ],
  };
}
