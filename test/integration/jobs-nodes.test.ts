import pg from 'pg';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildHub, type ChildHub } from '../helpers/child-hub.js';
import { api, connectSocket, emitAck, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, REDIS_URL, type TestDatabase } from '../helpers/db.js';
import { newRedisPrefix, startTestHub, type TestHub } from '../helpers/hub.js';
import { fakeSha, FakeWorker, until } from '../helpers/jobs.js';

const JOBS = {
  leaseMs: 15_000, maxAttempts: 3, backoffBaseMs: 100, backoffMaxMs: 1000, maxInFlightPerUser: 20,
  progressWriteMs: 50, reaperMs: 200, sweepMs: 5000, historySize: 32, workerEvents: { limit: 5000, windowSeconds: 1 },
};
type Push = { event: string; data: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

// Node B is a separate process (two uWS hubs cannot share one); A runs in the test. Same database and Redis.
describe('jobs across two hub nodes', () => {
  let db: TestDatabase;
  let sql: pg.Client;
  let a: TestHub;
  let b: ChildHub;
  let alice: { token: string; userId: number };
  const open: { close(): void }[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const prefix = newRedisPrefix();
    b = await startChildHub({
      env: {
        HTTP_ENGINE: 'uws',
        DATABASE_URL: db.url,
        REDIS_URL,
        EASEL__REDIS__KEY_PREFIX: prefix,
        EASEL__JOBS: JSON.stringify(JOBS),
        EASEL__SERVER__SHUTDOWN_GRACE_MS: '1000',
      },
    });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    a = await startTestHub({ dbUrl: db.url, engine: 'uws', redis: prefix, overrides: { jobs: JOBS } });
    alice = await registerAndLogin(a.url, 'nodes_alice');
  }, 90_000);

  afterAll(async () => {
    for (const s of open) s.close();
    await sql?.end();
    await b?.stop();
    await a?.stop();
    await db?.drop();
  });

  it('watcher on A sees a worker on B; cancel on B reaches a worker on A; B is killed and its worker finishes on A', async () => {
    const watcher: Socket = await connectSocket(a.url, '/', alice.token);
    open.push(watcher);
    const pushes: Push[] = [];
    for (const event of ['job:progress', 'job:done', 'job:failed']) watcher.on(event, (data: unknown) => pushes.push({ event, data }));
    const { token } = await a.app.tokens.issueWorker('node-worker');

    // A worker on B; the job is created on A: NOTIFY wakes B's dispatcher.
    const onB = await FakeWorker.start(b.url, token, { instanceId: 'p1' });
    open.push(onB);
    const job = await a.app.jobs.service.create(a.orm.em.fork(), alice.userId, 'bestcut', { sha256s: [fakeSha(), fakeSha()] });
    expect((await emitAck(watcher, 'job:watch', { jobId: job.id })).ok).toBe(true);
    const assigned = await onB.nextAssign();
    expect(assigned.jobId).toBe(job.id);
    expect((await onB.progress(job.id, 0.5, 'half')).ok).toBe(true);
    await until(() => pushes.some((p) => p.data.stage === 'half'), 5000, 'progress from B on A');

    // Cancel through B's HTTP reaches a worker connected to A.
    const onA = await FakeWorker.start(a.url, (await a.app.tokens.issueWorker('a-worker')).token);
    open.push(onA);
    const job2 = await a.app.jobs.service.create(a.orm.em.fork(), alice.userId, 'bestcut', { sha256s: [fakeSha(), fakeSha()] });
    await until(() => onA.assigns.some((x) => x.jobId === job2.id) || onB.assigns.some((x) => x.jobId === job2.id), 5000, 'job2 assigned');
    const holder = onA.assigns.some((x) => x.jobId === job2.id) ? onA : onB;
    expect((await api(b.url, 'POST', `/api/v1/jobs/${job2.id}/cancel`, { token: alice.token })).status).toBe(200);
    await until(() => holder.cancels.some((c) => c.jobId === job2.id), 5000, 'job:cancel across nodes');

    // B is killed (SIGKILL, no drain) while its worker holds `job`; the worker reconnects to A and re-binds it
    // within the lease (15 s: a loaded CI machine took over 3 s between the last renewal and the reconnect).
    await b.kill();
    onB.close();
    const back = await FakeWorker.start(a.url, token, { instanceId: 'p1', running: [job.id] });
    open.push(back);
    expect(back.resume).toEqual([job.id]);
    expect((await back.completeBestcut(assigned)).ok).toBe(true);
    await until(() => pushes.some((p) => p.event === 'job:done' && p.data.jobId === job.id), 5000, 'job:done');
    const r = (await sql.query('select status, attempts from jobs where id = $1', [job.id])).rows[0];
    expect(r).toEqual({ status: 'completed', attempts: 1 });
  }, 60_000);
});
