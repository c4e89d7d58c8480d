import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildHub, type ChildHub } from '../helpers/child-hub.js';
import { emitAck, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, REDIS_URL, type TestDatabase } from '../helpers/db.js';
import { adminToken } from '../helpers/events.js';
import { newRedisPrefix, startTestHub, type TestHub } from '../helpers/hub.js';
import { fakeSha, FakeWorker, sleep, until } from '../helpers/jobs.js';

const JOBS = {
  leaseMs: 3000, maxAttempts: 3, backoffBaseMs: 100, backoffMaxMs: 1000, maxInFlightPerUser: 20,
  progressWriteMs: 50, reaperMs: 200, sweepMs: 5000, historySize: 32, workerEvents: { limit: 5000, windowSeconds: 1 },
};
type Msg = { event: string; data: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

// Node B is a separate process; A runs in the test. Same database and Redis: the dashboard's pushes cross nodes.
describe('/admin dashboard across two hub nodes', () => {
  let db: TestDatabase;
  let a: TestHub;
  let b: ChildHub;
  let admin: string;
  let alice: { token: string; userId: number };
  const open: { close(): void }[] = [];

  const adminSocket = (url: string) =>
    new Promise<{ socket: Socket; msgs: Msg[] }>((resolve, reject) => {
      const socket = io(`${url}/admin`, { auth: { token: admin }, transports: ['websocket'], forceNew: true, reconnection: false });
      const msgs: Msg[] = [];
      socket.onAny((event: string, data: unknown) => msgs.push({ event, data }));
      socket.once('connect', () => {
        open.push(socket);
        resolve({ socket, msgs });
      });
      socket.once('connect_error', reject);
    });

  beforeAll(async () => {
    db = await createTestDatabase();
    const prefix = newRedisPrefix();
    b = await startChildHub({
      env: { HTTP_ENGINE: 'uws', DATABASE_URL: db.url, REDIS_URL, EASEL__REDIS__KEY_PREFIX: prefix, EASEL__JOBS: JSON.stringify(JOBS), EASEL__SERVER__SHUTDOWN_GRACE_MS: '1000' },
    });
    a = await startTestHub({ dbUrl: db.url, engine: 'uws', redis: prefix, overrides: { jobs: JOBS, auth: { admin: { username: 'nodes_admin', password: 'admin-password-1' } } } });
    await a.app.identity.bootstrapAdmin(a.orm.em.fork(), 'nodes_admin', 'admin-password-1');
    admin = await adminToken(a.url, 'nodes_admin', 'admin-password-1');
    alice = await registerAndLogin(a.url, 'dash_nodes_alice');
  }, 90_000);

  afterAll(async () => {
    for (const s of open) s.close();
    await b?.stop();
    await a?.stop();
    await db?.drop();
  });

  it('an admin on A sees a worker on B, its job progress once per push, and pauses the queue for B', async () => {
    const onA = await adminSocket(a.url);
    const onB = await adminSocket(b.url);
    await until(() => onB.msgs.some((m) => m.event === 'dashboard:snapshot'), 5000, 'snapshot on B');

    const w = await FakeWorker.start(b.url, (await a.app.tokens.issueWorker('dash-node-worker')).token);
    open.push(w);
    await until(() => onA.msgs.some((m) => m.event === 'dashboard:worker' && m.data.event === 'hello' && m.data.owner === 'dash-node-worker'), 5000, 'hello from B on A');

    const job = await a.app.jobs.service.create(a.orm.em.fork(), alice.userId, 'bestcut', { sha256s: [fakeSha(), fakeSha()] });
    const assigned = await w.nextAssign();
    expect(assigned.jobId).toBe(job.id);
    expect((await w.progress(job.id, 0.5, 'half')).ok).toBe(true);
    await sleep(300);
    expect((await w.progress(job.id, 1, 'half')).ok).toBe(true);
    expect((await w.completeBestcut(assigned)).ok).toBe(true);
    for (const side of [onA, onB]) {
      await until(() => side.msgs.some((m) => m.event === 'dashboard:job' && m.data.jobId === job.id && m.data.event === 'job:done'), 5000, 'job:done on both nodes');
      const seqs = side.msgs.filter((m) => m.event === 'dashboard:job' && m.data.jobId === job.id).map((m) => m.data.seq);
      expect(new Set(seqs).size).toBe(seqs.length); // one push per change, not one per node
      expect(side.msgs.filter((m) => m.event === 'dashboard:job' && m.data.stage === 'half').map((m) => m.data.progress)).toEqual([0.5, 1]);
    }
    // Each node's own timer feeds its own admins.
    await until(() => onB.msgs.some((m) => m.event === 'dashboard:stats' && m.data.queues.bestcut.completed === 1), 5000, 'stats on B');

    // Pause from A: the worker on B idles while a new job waits; resume from A dispatches it on B.
    expect(await emitAck(onA.socket, 'queue:pause', { type: 'bestcut' })).toMatchObject({ ok: true });
    const waiting = await a.app.jobs.service.create(a.orm.em.fork(), alice.userId, 'bestcut', { sha256s: [fakeSha(), fakeSha()] });
    await sleep(500);
    expect(w.assigns).toHaveLength(1);
    expect(await emitAck(onA.socket, 'queue:resume', { type: 'bestcut' })).toMatchObject({ ok: true });
    expect((await w.nextAssign(5000, 1)).jobId).toBe(waiting.id);

    w.close();
    await until(() => onA.msgs.some((m) => m.event === 'dashboard:worker' && m.data.event === 'disconnect' && m.data.owner === 'dash-node-worker'), 5000, 'disconnect from B on A');
  });
});
