import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePng } from '../../src/modules/media/test-fixtures.js';
import { createLogger } from '../../src/platform/logger.js';
import { startInProcessWorker } from '../../src/worker/in-process.js';
import { api, connectSocket, emitAck, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { until } from '../helpers/jobs.js';
import { upload } from '../helpers/multipart.js';

/**
 * End to end: the real hub (PostgreSQL, Redis, /workers, job:watch) and the real worker process
 * (`node --import tsx src/worker.ts`, NODE_ENV=production, only HUB_URL and WORKER_TOKEN). An upload, a job
 * created through the service, live progress to the owner's socket, the result stored as media and served.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
type Push = { event: string; data: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
/** Short leases and backoff, so a killed worker's job comes back within seconds. */
const FAST_JOBS = { leaseMs: 2000, reaperMs: 200, backoffBaseMs: 200, backoffMaxMs: 1000 };

/** `node --import tsx src/worker.ts` with only what a deployed worker gets (no JWT_SECRET, DATABASE_URL, REDIS_URL). */
function spawnWorker(hubUrl: string, token: string): { child: ChildProcess; output: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HUB_URL: hubUrl,
      WORKER_TOKEN: token,
      LOG_LEVEL: 'info',
      EASEL__WORKER__PROVIDERS: '["cpu"]',
      EASEL__WORKER__CPU_THREADS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => output.push(l));
  createInterface({ input: child.stderr! }).on('line', (l) => output.push(l));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

// Worker processes, real uploads and lease expiry: the waits inside go up to 60 s, so the test bound must exceed them.
describe('hub + real worker process', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let hub: TestHub;
  let worker: ChildProcess;
  let exited: Promise<number | null>;
  let output: string[] = [];
  let alice: { token: string; userId: number };
  let watcher: Socket;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, redis: true, overrides: { jobs: FAST_JOBS, rateLimits: { register: { limit: 1000, windowSeconds: 60 } } } });
    alice = await registerAndLogin(hub.url, 'e2e_worker_alice');
    const { token } = await hub.app.tokens.issueWorker('e2e-worker');
    ({ child: worker, output, exited } = spawnWorker(hub.url, token));
    await until(() => output.some((l) => l.includes('worker registered with the hub')), 45_000, `worker registered:\n${output.join('\n')}`);
    watcher = await connectSocket(hub.url, '/', alice.token);
  });
  afterAll(async () => {
    watcher?.close();
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await hub?.stop();
    await db?.drop();
  });

  const watch = async (jobId: string): Promise<Push[]> => {
    const pushes: Push[] = [];
    for (const event of ['job:progress', 'job:done', 'job:failed']) watcher.on(event, (data: { jobId: string }) => data.jobId === jobId && pushes.push({ event, data }));
    expect((await emitAck(watcher, 'job:watch', { jobId })).ok).toBe(true);
    return pushes;
  };

  it('upscales an uploaded 32×32 image: live progress, result stored as media, served as a 64×64 PNG', async () => {
    const up = await upload(hub.url, '/api/v1/media', alice.token, [{ name: 'file', filename: 'a.png', type: 'image/png', data: await makePng(32, 32) }]);
    expect(up.status).toBe(201);
    const job = await hub.app.jobs.service.create(hub.orm.em.fork(), alice.userId, 'upscale', { sha256: up.body.sha256, scale: 2 });
    const pushes = await watch(job.id);
    await until(() => pushes.some((p) => p.event !== 'job:progress'), 30_000, 'job:done');
    const done = pushes.find((p) => p.event === 'job:done');
    expect(done, JSON.stringify(pushes)).toBeDefined();
    expect(done!.data.result).toMatchObject({ width: 64, height: 64, model: 'rdn-slim-x2', provider: 'cpu', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(pushes.some((p) => p.event === 'job:progress' && p.data.stage === 'upscaling')).toBe(true);
    const file = await fetch(`${hub.url}/api/v1/media/${done!.data.result.sha256}`);
    expect(file.status).toBe(200);
    const meta = await sharp(Buffer.from(await file.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 64]);
    const got = await api(hub.url, 'GET', `/api/v1/jobs/${job.id}`, { token: alice.token });
    expect(got.body).toMatchObject({ status: 'completed', result: done!.data.result });
  });

  it('runs bestcut on two uploads: every score and the sharper pick', async () => {
    const a = await upload(hub.url, '/api/v1/media', alice.token, [{ name: 'file', filename: 'a.png', type: 'image/png', data: await makePng(40, 40) }]);
    const flat = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#808080' } }).png().toBuffer();
    const b = await upload(hub.url, '/api/v1/media', alice.token, [{ name: 'file', filename: 'b.png', type: 'image/png', data: flat }]);
    const job = await hub.app.jobs.service.create(hub.orm.em.fork(), alice.userId, 'bestcut', { sha256s: [b.body.sha256, a.body.sha256] });
    const pushes = await watch(job.id);
    await until(() => pushes.some((p) => p.event !== 'job:progress'), 30_000, 'job:done');
    const done = pushes.find((p) => p.event === 'job:done');
    expect(done, JSON.stringify(pushes)).toBeDefined();
    expect(done!.data.result.pick).toBe(a.body.sha256);
    expect(done!.data.result.scores).toHaveLength(2);
  });

  it('stops on SIGTERM with nothing running: exit 0', async () => {
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output.some((l) => l.includes('worker stopped'))).toBe(true);
  });

  it("npm start's in-process worker: token from the hub's own token service, connects to the hub's port, runs a job", async () => {
    const local = await startInProcessWorker(hub, hub.app.config, createLogger('silent'));
    try {
      expect(await local.connection.ready()).toMatch(/^in-process:/);
      const up = await upload(hub.url, '/api/v1/media', alice.token, [{ name: 'file', filename: 'c.png', type: 'image/png', data: await makePng(16, 16) }]);
      const job = await hub.app.jobs.service.create(hub.orm.em.fork(), alice.userId, 'upscale', { sha256: up.body.sha256, scale: 4 });
      const pushes = await watch(job.id);
      await until(() => pushes.some((p) => p.event !== 'job:progress'), 30_000, 'job:done');
      expect(pushes.find((p) => p.event === 'job:done')?.data.result, JSON.stringify(pushes)).toMatchObject({ width: 64, height: 64, model: 'rdn-slim-x4' });
    } finally {
      await local.stop();
    }
  });

  it('a worker killed mid-job: the lease runs out, another worker process finishes it, one result', async () => {
    const up = await upload(hub.url, '/api/v1/media', alice.token, [{ name: 'file', filename: 'k.png', type: 'image/png', data: await makePng(512, 512) }]);
    const { token: tokenA } = await hub.app.tokens.issueWorker('e2e-killed');
    const a = spawnWorker(hub.url, tokenA);
    const b = spawnWorker(hub.url, (await hub.app.tokens.issueWorker('e2e-rescuer')).token);
    b.child.kill('SIGSTOP'); // B exists but takes nothing until A is gone
    try {
      await until(() => a.output.some((l) => l.includes('worker registered with the hub')), 45_000, 'A registered');
      const job = await hub.app.jobs.service.create(hub.orm.em.fork(), alice.userId, 'upscale', { sha256: up.body.sha256, scale: 2 });
      const pushes = await watch(job.id);
      await until(() => pushes.some((p) => p.event === 'job:progress' && p.data.stage === 'upscaling'), 30_000, 'A upscaling');
      a.child.kill('SIGKILL');
      expect(await a.exited).toBeNull();
      b.child.kill('SIGCONT');
      await until(() => pushes.some((p) => p.event !== 'job:progress'), 60_000, 'job:done');
      await new Promise((r) => setTimeout(r, 300));
      const finals = pushes.filter((p) => p.event !== 'job:progress');
      expect(finals.map((p) => p.event), JSON.stringify(finals)).toEqual(['job:done']);
      expect(finals[0]!.data.result).toMatchObject({ width: 1024, height: 1024 });
      const got = await api(hub.url, 'GET', `/api/v1/jobs/${job.id}`, { token: alice.token });
      expect(got.body).toMatchObject({ status: 'completed', attempts: 2, result: finals[0]!.data.result });
      expect(b.output.some((l) => l.includes('job completed') && l.includes(job.id))).toBe(true);
      const file = await fetch(`${hub.url}/api/v1/media/${finals[0]!.data.result.sha256}`);
      expect((await sharp(Buffer.from(await file.arrayBuffer())).metadata()).width).toBe(1024);
    } finally {
      for (const w of [a, b]) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    }
  });
});
