import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { api, connectSocket, emitAck, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { FakeWorker, fakeSha, type Assign } from '../helpers/jobs.js';
import { startOwnPostgres, type OwnPostgres } from '../helpers/own-postgres.js';
import { record, sleep, timed, waitFor } from './record.js';

const JOBS = { leaseMs: 3000, maxAttempts: 3, backoffBaseMs: 100, backoffMaxMs: 1000, maxInFlightPerUser: 20, progressWriteMs: 50, reaperMs: 200, sweepMs: 1000, historySize: 64, workerEvents: { limit: 5000, windowSeconds: 1 } };
type Push = { event: string; data: { jobId: string; seq: number; status?: string } };

function watch(socket: Socket): Push[] {
  const pushes: Push[] = [];
  for (const event of ['job:progress', 'job:done', 'job:failed']) socket.on(event, (data: Push['data']) => pushes.push({ event, data }));
  return pushes;
}

describe('a worker killed mid-job', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let child: ChildProcess | undefined;
  const open: { close(): void }[] = [];

  afterAll(async () => {
    child?.kill('SIGKILL');
    for (const s of open) s.close();
    await hub?.stop();
    await db?.drop();
  });

  it('the job goes to another worker when the lease lapses and completes once; the watcher sees it done', async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, redis: true, overrides: { jobs: JOBS } });
    const user = await registerAndLogin(hub.url, 'worker_crash_user');
    const watcher = await connectSocket(hub.url, '/', user.token);
    open.push(watcher);
    const pushes = watch(watcher);
    const { token } = await hub.app.tokens.issueWorker('crash-worker');

    // A real worker process (socket.io-client): it takes the job, reports progress, and is then killed.
    child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/crash-worker.mjs', import.meta.url))], { env: { PATH: process.env.PATH, HUB_URL: hub.url, WORKER_TOKEN: token }, stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
    await waitFor(() => lines.some((l) => l.startsWith('HELLO true')), 20_000, 'the worker process hello');
    const job = await hub.app.jobs.service.create(hub.orm.em.fork(), user.userId, 'bestcut', { sha256s: [fakeSha(), fakeSha()] });
    expect((await emitAck(watcher, 'job:watch', { jobId: job.id })).ok).toBe(true);
    await waitFor(() => lines.some((l) => l.startsWith(`ASSIGNED ${job.id} true`)), 10_000, 'the job on the worker process');
    await waitFor(() => pushes.some((p) => p.event === 'job:progress' && (p.data as { stage?: string }).stage === 'working'), 10_000, 'progress from the worker');

    const killedAt = Date.now();
    child.kill('SIGKILL');
    const backup = await FakeWorker.start(hub.url, (await hub.app.tokens.issueWorker('backup-worker')).token);
    open.push(backup);
    const reassigned: Assign = await backup.nextAssign(JOBS.leaseMs * 4);
    const reassignedMs = Date.now() - killedAt;
    expect(reassigned.jobId).toBe(job.id);
    expect(reassigned.attempt).toBe(2);
    expect((await backup.completeBestcut(reassigned)).ok).toBe(true);
    await waitFor(() => pushes.some((p) => p.event === 'job:done'), 10_000, 'job:done on the watcher');
    const doneMs = Date.now() - killedAt;
    const stored = await api(hub.url, 'GET', `/api/v1/jobs/${job.id}`, { token: user.token });
    expect(stored.body).toMatchObject({ status: 'completed' });
    expect(pushes.filter((p) => p.event === 'job:done')).toHaveLength(1);
    record({
      fault: 'a worker process killed (SIGKILL) mid-job',
      lost: 'nothing durable: the job was requeued when its lease lapsed, run again by another worker (attempt 2), completed once',
      recovery: `reassigned ${reassignedMs} ms after the kill (lease ${JOBS.leaseMs} ms, reaper ${JOBS.reaperMs} ms); done ${doneMs} ms after`,
      notes: 'production default lease 30 s bounds this; a worker that reconnects within the lease keeps its job instead',
    });
  }, 60_000);
});

describe('PostgreSQL restarted during job processing', () => {
  let pg: OwnPostgres;
  let hub: TestHub;
  const open: { close(): void }[] = [];

  afterAll(async () => {
    for (const s of open) s.close();
    await hub?.stop();
    await pg?.destroy();
  });

  it('answers refused while down are retryable; nothing is lost once it is back', async () => {
    pg = await startOwnPostgres();
    // The 60 s sweep stays out of the way: new work after the outage must wake dispatch through LISTEN again.
    hub = await startTestHub({ dbUrl: pg.url, redis: true, overrides: { jobs: { ...JOBS, leaseMs: 20_000, sweepMs: 60_000 } } });
    const user = await registerAndLogin(hub.url, 'pg_jobs_user');
    const watcher = await connectSocket(hub.url, '/', user.token);
    open.push(watcher);
    const pushes = watch(watcher);
    const worker = await FakeWorker.start(hub.url, (await hub.app.tokens.issueWorker('pg-worker')).token);
    open.push(worker);
    const jobs = [];
    for (let i = 0; i < 3; i++) jobs.push(await hub.app.jobs.service.create(hub.orm.em.fork(), user.userId, 'bestcut', { sha256s: [fakeSha(), fakeSha()] }));
    for (const j of jobs) expect((await emitAck(watcher, 'job:watch', { jobId: j.id })).ok).toBe(true);
    const first = await worker.nextAssign(10_000);
    expect((await worker.progress(first.jobId, 0.5, 'half')).ok).toBe(true);

    await pg.stop();
    const downAt = Date.now();
    // While down: the worker's answers are refused with a retryable code (it keeps them), new jobs get a 503.
    const refused = await timed(() => worker.completeBestcut(first));
    expect(refused.value).toMatchObject({ ok: false, error: { code: 'db_unavailable' } });
    expect(refused.ms).toBeLessThan(6000);
    const create = await api(hub.url, 'GET', '/api/v1/jobs', { token: user.token });
    expect(create.status).toBe(503);
    await sleep(1000);
    await pg.start();
    const back = Date.now();

    // The worker re-sends its completion (what src/worker's outbox should do for a retryable refusal).
    await waitFor(async () => (await worker.completeBestcut(first)).ok, 20_000, 'the completion accepted after the restart', 200);
    const firstMs = Date.now() - back;
    // The other jobs are dispatched and completed after the restart.
    for (let n = 1; n < 3; n++) {
      const a = await worker.nextAssign(20_000, n);
      expect((await worker.completeBestcut(a)).ok).toBe(true);
    }
    await waitFor(() => pushes.filter((p) => p.event === 'job:done').length === 3, 20_000, 'three job:done pushes');
    const allMs = Date.now() - back;
    for (const j of jobs) expect((await api(hub.url, 'GET', `/api/v1/jobs/${j.id}`, { token: user.token })).body).toMatchObject({ status: 'completed' });
    // A job created now reaches the idle worker at once: the LISTEN connection was re-opened after the restart.
    const late = await hub.app.jobs.service.create(hub.orm.em.fork(), user.userId, 'bestcut', { sha256s: [fakeSha(), fakeSha()] });
    const lateAt = Date.now();
    expect((await worker.nextAssign(10_000, 3)).jobId).toBe(late.id);
    const wakeMs = Date.now() - lateAt;
    record({
      fault: `PostgreSQL stopped ~${Math.round((back - downAt) / 100) / 10} s while a worker held a job and two more were queued`,
      lost: 'nothing: the completion sent while down was refused with db_unavailable (retryable, kept by the worker) and accepted after; all 3 jobs completed once',
      recovery: `completion accepted ${firstMs} ms after the restart; all 3 jobs done ${allMs} ms after; a new job reached the idle worker in ${wakeMs} ms (LISTEN re-opened)`,
      notes: 'sweepMs 60000 here, so dispatch after the restart comes from completions (complete-and-claim) and the re-opened LISTEN',
    });
  }, 60_000);
});
