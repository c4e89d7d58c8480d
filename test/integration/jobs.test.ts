import { createHash } from 'node:crypto';
import pg from 'pg';
import sharp from 'sharp';
import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, connectSocket, emitAck, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { adminToken } from '../helpers/events.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { fakeSha, FakeWorker, sleep, tinyPng, until } from '../helpers/jobs.js';

type Push = { event: string; data: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

export const FAST_JOBS = {
  leaseMs: 800, maxAttempts: 3, backoffBaseMs: 150, backoffMaxMs: 1000, maxInFlightPerUser: 20,
  progressWriteMs: 50, reaperMs: 100, sweepMs: 5000, historySize: 8, workerEvents: { limit: 5000, windowSeconds: 1 },
};

describe('jobs: store, dispatch, workers, watchers', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let sql: pg.Client;
  let admin: string;
  let alice: { token: string; userId: number };
  let bob: { token: string; userId: number };
  const open: { close(): void }[] = [];

  const worker = async (id: string, opts: Parameters<typeof FakeWorker.start>[2] = {}) => {
    const { token } = await hub.app.tokens.issueWorker(id);
    const w = await FakeWorker.start(hub.url, token, opts);
    open.push(w);
    return w;
  };
  const userSocket = async (token: string) => {
    const s = await connectSocket(hub.url, '/', token);
    open.push(s);
    return s;
  };
  const record = (s: Socket): Push[] => {
    const pushes: Push[] = [];
    for (const event of ['job:progress', 'job:done', 'job:failed']) s.on(event, (data: unknown) => pushes.push({ event, data }));
    return pushes;
  };
  const create = (ownerId: number, input: unknown = { sha256s: [fakeSha(), fakeSha()] }, type: 'bestcut' | 'upscale' = 'bestcut') =>
    hub.app.jobs.service.create(hub.orm.em.fork(), ownerId, type, input);
  const row = async (id: string) => (await sql.query('select * from jobs where id = $1', [id])).rows[0];

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({
      dbUrl: db.url,
      redis: true,
      overrides: {
        jobs: FAST_JOBS,
        rateLimits: { register: { limit: 1000, windowSeconds: 60 }, socketEvents: { limit: 5000, windowSeconds: 1 } },
        auth: { admin: { username: 'jobs_admin', password: 'admin-password-1' } },
      },
    });
    await hub.app.identity.bootstrapAdmin(hub.orm.em.fork(), 'jobs_admin', 'admin-password-1');
    admin = await adminToken(hub.url, 'jobs_admin', 'admin-password-1');
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    alice = await registerAndLogin(hub.url, 'job_alice');
    bob = await registerAndLogin(hub.url, 'job_bob');
  });
  afterEach(async () => {
    for (const s of open.splice(0)) s.close();
    // Leftovers would be handed to the next test's workers.
    await sql.query(`update jobs set status = 'cancelled', finished_at = now() where status in ('queued', 'active')`);
    await sql.query(`delete from queue_state`);
  });
  afterAll(async () => {
    await sql?.end();
    await hub?.stop();
    await db?.drop();
  });

  it('round trip: claim, live progress to a watcher, complete with a binary output stored as media', async () => {
    const job = await create(alice.userId, { sha256: fakeSha(), scale: 2 }, 'upscale');
    expect(job.status).toBe('queued');
    const watcher = await userSocket(alice.token);
    const pushes = record(watcher);
    const snap = await emitAck(watcher, 'job:watch', { jobId: job.id });
    expect(snap.ok).toBe(true);
    expect(snap.data.job.status).toBe('queued');

    const w = await worker('w-round', { types: ['upscale'] });
    const a = await w.nextAssign();
    expect(a).toMatchObject({ jobId: job.id, type: 'upscale', attempt: 1, leaseMs: FAST_JOBS.leaseMs });
    for (const p of [0.25, 0.5, 0.75]) expect((await w.progress(job.id, p, 'tiles', `at ${p}`)).ok).toBe(true);
    const delta = new Promise((resolve) => watcher.once('job:delta', resolve));
    expect((await w.ack('job:delta', { jobId: job.id, text: 'hello' })).ok).toBe(true);
    expect(await delta).toEqual({ jobId: job.id, text: 'hello' });
    const png = await tinyPng(7);
    const done = await w.ack('job:complete', {
      jobId: job.id,
      result: { sha256: 'out', width: 4, height: 4, model: 'rdn-slim-x2', provider: 'cpu', ms: 12 },
      outputs: [{ name: 'out', contentType: 'image/png', data: png }],
      cost: { ms: 12 },
    });
    expect(done).toEqual({ ok: true, data: { status: 'completed' } });
    await until(() => pushes.some((p) => p.event === 'job:done'));
    const progress = pushes.filter((p) => p.event === 'job:progress' && p.data.stage === 'tiles').map((p) => p.data.progress);
    expect(progress).toEqual([0.25, 0.5, 0.75]);
    const seqs = pushes.map((p) => p.data.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    const result = pushes.find((p) => p.event === 'job:done')!.data.result;
    expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await api(hub.url, 'GET', `/api/v1/media/${result.sha256}`)).status).toBe(200);
    const got = await api(hub.url, 'GET', `/api/v1/jobs/${job.id}`, { token: alice.token });
    expect(got.body).toMatchObject({ status: 'completed', progress: 1, result, cost: { ms: 12 } });

    // Duplicate completion: refused, nothing changes.
    const again = await w.ack('job:complete', { jobId: job.id, result: { sha256: fakeSha(), width: 1, height: 1, model: 'x', provider: 'cpu', ms: 1 } });
    expect(again).toMatchObject({ ok: false, error: { code: 'already_finished' } });
    // Foreign completion: another worker that never held it.
    const other = await worker('w-foreign', { types: ['upscale'] });
    const foreign = await other.ack('job:complete', { jobId: job.id, result: { sha256: fakeSha(), width: 1, height: 1, model: 'x', provider: 'cpu', ms: 1 } });
    expect(foreign).toMatchObject({ ok: false, error: { code: 'lease_lost' } });
    expect((await other.ack('job:fail', { jobId: job.id, error: { code: 'x', message: 'x' }, retryable: false })).ok).toBe(false);
    const after = await row(job.id);
    expect(after.result).toEqual(result);
    expect(after.status).toBe('completed');
    const dones = await sql.query(`select count(*)::int as n from job_events where job_id = $1 and type = 'job:done'`, [job.id]);
    expect(dones.rows[0].n).toBe(1);
  });

  it('an output larger than one socket message arrives in pieces (job:output) and is stored once', async () => {
    const big = await sharp({ create: { width: 700, height: 700, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
    expect(big.length).toBeGreaterThan(1_000_000);
    const job = await create(alice.userId, { sha256: fakeSha(), scale: 4 }, 'upscale');
    const w = await worker('w-big', { types: ['upscale'] });
    await w.nextAssign();
    const piece = 512 * 1024;
    for (let at = 0; at < big.length; at += piece) {
      expect((await w.ack('job:output', { jobId: job.id, name: 'out', contentType: 'image/png', data: big.subarray(at, at + piece) })).ok).toBe(true);
    }
    const tooBig = await w.ack('job:output', { jobId: job.id, name: 'x', contentType: 'image/png', data: Buffer.alloc(piece + 1) });
    expect(tooBig).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    const done = await w.ack('job:complete', { jobId: job.id, result: { sha256: 'out', width: 700, height: 700, model: 'm', provider: 'cpu', ms: 1 } });
    expect(done).toEqual({ ok: true, data: { status: 'completed' } });
    const { result } = await row(job.id);
    expect(result.sha256).toBe(createHash('sha256').update(big).digest('hex'));
    const served = await fetch(`${hub.url}/api/v1/media/${result.sha256}`);
    expect(Buffer.from(await served.arrayBuffer()).equals(big)).toBe(true);
  });

  it('an invalid result fails the job instead of storing it', async () => {
    const job = await create(alice.userId);
    const w = await worker('w-bad');
    await w.nextAssign();
    const bad = await w.ack('job:complete', { jobId: job.id, result: { pick: 'nope' } });
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid_result' } });
    expect((await row(job.id)).status).toBe('failed');
    const badShape = await w.ack('job:complete', { jobId: 'not-a-uuid', result: {} });
    expect(badShape).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    expect((await w.ack('job:progress', { jobId: job.id, stage: 's', progress: 2 })).ok).toBe(false);
  });

  it('a worker killed mid-job: the lease expires, the job is requeued and finished by another worker once', async () => {
    const job = await create(alice.userId);
    const w1 = await worker('w-dies');
    const a1 = await w1.nextAssign();
    await w1.progress(job.id, 0.3);
    w1.close();
    const w2 = await worker('w-takes-over');
    const a2 = await w2.nextAssign(5000);
    expect(a2.jobId).toBe(job.id);
    expect(a2.attempt).toBe(2);
    expect((await row(job.id)).last_error).toMatchObject({ code: 'lease_expired' });
    expect((await w2.completeBestcut(a2)).ok).toBe(true);
    // The first worker's late answer (from a new connection) is refused.
    const { token } = await hub.app.tokens.issueWorker('w-dies');
    const back = await FakeWorker.start(hub.url, token, { running: [job.id] });
    open.push(back);
    expect(back.resume).toEqual([]);
    expect((await back.completeBestcut(a1)).ok).toBe(false);
    const r = await row(job.id);
    expect(r.status).toBe('completed');
    expect(r.attempts).toBe(2);
    const dones = await sql.query(`select count(*)::int as n from job_events where job_id = $1 and type = 'job:done'`, [job.id]);
    expect(dones.rows[0].n).toBe(1);
  });

  it('a worker that reconnects within its lease keeps its job (hello.running)', async () => {
    const job = await create(alice.userId);
    const w1 = await worker('w-blip', { instanceId: 'proc-1' });
    const a = await w1.nextAssign();
    w1.close();
    const w2 = await worker('w-blip', { instanceId: 'proc-1', running: [job.id] });
    expect(w2.resume).toEqual([job.id]);
    expect((await w2.progress(job.id, 0.9)).ok).toBe(true);
    expect((await w2.completeBestcut(a)).ok).toBe(true);
    expect((await row(job.id)).attempts).toBe(1);
  });

  it('a worker that never heartbeats loses the job to the reaper and is told so', async () => {
    const job = await create(alice.userId);
    const w = await worker('w-silent');
    await w.nextAssign();
    await until(() => w.cancels.some((c) => c.jobId === job.id), 5000, 'job:cancel lease_expired');
    expect(w.cancels[0]).toEqual({ jobId: job.id, reason: 'lease_expired' });
    // Its slot is free again: the requeued job comes back to it (attempt 2).
    const again = await w.nextAssign(5000, 1);
    expect(again).toMatchObject({ jobId: job.id, attempt: 2 });
  });

  it('heartbeats keep a long silent job alive past its lease', async () => {
    const job = await create(alice.userId);
    const w = await worker('w-beats');
    const a = await w.nextAssign();
    for (let i = 0; i < 8; i++) {
      await sleep(FAST_JOBS.leaseMs / 4);
      expect(await w.ack('job:heartbeat', { jobIds: [job.id] })).toEqual({ ok: true, data: { lost: [] } });
    }
    expect(w.cancels).toEqual([]);
    expect((await w.completeBestcut(a)).ok).toBe(true);
  });

  it('a job that always fails is retried with backoff, then failed with its error visible to the owner', async () => {
    const job = await create(alice.userId);
    const watcher = await userSocket(alice.token);
    const pushes = record(watcher);
    await emitAck(watcher, 'job:watch', { jobId: job.id });
    const w = await worker('w-fails');
    const times: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const a = await w.nextAssign(5000, attempt - 1);
      times.push(Date.now());
      expect(a.attempt).toBe(attempt);
      const ack = await w.ack('job:fail', { jobId: job.id, error: { code: 'boom', message: `exploded ${attempt}` }, retryable: true });
      expect(ack).toEqual({ ok: true, data: { status: attempt < 3 ? 'queued' : 'failed' } });
    }
    // Backoff: 150 ms before the 2nd try, 300 ms before the 3rd.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(140);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(290);
    await until(() => pushes.some((p) => p.event === 'job:failed'));
    expect(pushes.find((p) => p.event === 'job:failed')!.data).toMatchObject({ jobId: job.id, status: 'failed', error: { code: 'boom', message: 'exploded 3' } });
    const got = await api(hub.url, 'GET', `/api/v1/jobs/${job.id}`, { token: alice.token });
    expect(got.body).toMatchObject({ status: 'failed', attempts: 3, error: { code: 'boom', message: 'exploded 3' } });
    // A non-retryable failure ends at once.
    const job2 = await create(alice.userId);
    await w.nextAssign(5000, 3);
    expect(await w.ack('job:fail', { jobId: job2.id, error: { code: 'bad_input', message: 'no' }, retryable: false })).toEqual({ ok: true, data: { status: 'failed' } });
  });

  it('a worker shutting down hands its job back: no attempt used, no backoff, nothing more assigned to it', async () => {
    const job = await create(alice.userId);
    const draining = await worker('w-draining');
    const a = await draining.nextAssign();
    expect(a.attempt).toBe(1);
    const ack = await draining.ack('job:fail', { jobId: job.id, error: { code: 'worker_shutdown', message: 'worker is shutting down' }, retryable: true });
    expect(ack).toEqual({ ok: true, data: { status: 'queued' } });
    expect(await row(job.id)).toMatchObject({ status: 'queued', attempts: 0 });
    // A second job while it drains: it must not be offered to the draining worker.
    const job2 = await create(alice.userId);
    await sleep(300);
    expect(draining.assigns.map((x) => x.jobId)).toEqual([job.id]);
    const next = await worker('w-next', { concurrency: 2 });
    const first = await next.nextAssign(5000);
    const second = await next.nextAssign(5000, 1);
    expect(new Set([first.jobId, second.jobId])).toEqual(new Set([job.id, job2.id]));
    const retried = first.jobId === job.id ? first : second;
    expect(retried.attempt).toBe(1);
    expect((await next.completeBestcut(retried)).ok).toBe(true);
  });

  it('cancel while running reaches the worker; its later answer changes nothing', async () => {
    const job = await create(alice.userId);
    const watcher = await userSocket(alice.token);
    const pushes = record(watcher);
    await emitAck(watcher, 'job:watch', { jobId: job.id });
    const w = await worker('w-cancel');
    const a = await w.nextAssign();
    await w.progress(job.id, 0.1);
    expect((await api(hub.url, 'POST', `/api/v1/jobs/${job.id}/cancel`, { token: bob.token })).status).toBe(404);
    const res = await api(hub.url, 'POST', `/api/v1/jobs/${job.id}/cancel`, { token: alice.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    await until(() => w.cancels.length > 0);
    expect(w.cancels[0]).toMatchObject({ jobId: job.id });
    await until(() => pushes.some((p) => p.event === 'job:failed'));
    expect(pushes.at(-1)!.data).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    expect((await w.completeBestcut(a)).ok).toBe(false);
    expect((await w.progress(job.id, 0.5)).ok).toBe(false);
    expect((await row(job.id)).status).toBe('cancelled');
    expect((await api(hub.url, 'POST', `/api/v1/jobs/${job.id}/cancel`, { token: alice.token })).body).toMatchObject({ code: 'job_finished' });
    // The worker's slot was freed: it gets the next job.
    const next = await create(alice.userId);
    expect((await w.nextAssign(5000, 1)).jobId).toBe(next.id);
    // A queued job is cancelled at once.
    const queued = await create(alice.userId);
    expect((await api(hub.url, 'POST', `/api/v1/jobs/${queued.id}/cancel`, { token: alice.token })).body.status).toBe('cancelled');
  });

  it('refuses another user’s watch, a worker token on / and a user token on /workers', async () => {
    const job = await create(alice.userId);
    const bobSocket = await userSocket(bob.token);
    expect(await emitAck(bobSocket, 'job:watch', { jobId: job.id })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await emitAck(bobSocket, 'job:watch', { jobId: 'x' })).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    expect(await emitAck(bobSocket, 'job:watch', { jobId: '00000000-0000-4000-8000-000000000000' })).toMatchObject({ ok: false, error: { code: 'job_not_found' } });
    expect((await api(hub.url, 'GET', `/api/v1/jobs/${job.id}`, { token: bob.token })).status).toBe(404);
    const adminSocket = await userSocket(admin);
    expect((await emitAck(adminSocket, 'job:watch', { jobId: job.id })).ok).toBe(true);
    const guest = await api(hub.url, 'POST', '/api/v1/auth/guest');
    const guestSocket = await userSocket(guest.body.access_token);
    expect(await emitAck(guestSocket, 'job:watch', { jobId: job.id })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    // A refused watch leaves no room membership behind: the job's pushes reach the admin, never bob or the guest.
    const leaked: string[] = [];
    for (const [who, sock] of [['bob', bobSocket], ['guest', guestSocket]] as const) sock.onAny((event: string) => event.startsWith('job:') && leaked.push(`${who} ${event}`));
    const adminSaw: string[] = [];
    adminSocket.on('job:failed', (p: { jobId: string }) => adminSaw.push(p.jobId));
    expect((await api(hub.url, 'POST', `/api/v1/jobs/${job.id}/cancel`, { token: alice.token })).body.status).toBe('cancelled');
    await until(() => adminSaw.includes(job.id), 5000, 'the admin watcher sees the cancel');
    await sleep(100);
    expect(leaked).toEqual([]);
    const { token } = await hub.app.tokens.issueWorker('w-wrong-door');
    await expect(connectSocket(hub.url, '/', token)).rejects.toMatchObject({ data: { code: 'forbidden' } });
    await expect(connectSocket(hub.url, '/workers', alice.token)).rejects.toMatchObject({ data: { code: 'forbidden' } });
    await expect(connectSocket(hub.url, '/workers', admin)).rejects.toMatchObject({ data: { code: 'forbidden' } });
    // Before hello, a worker can do nothing.
    const raw = await connectSocket(hub.url, '/workers', token);
    open.push(raw);
    expect(await emitAck(raw, 'job:progress', { jobId: job.id, stage: 's', progress: 0.1 })).toMatchObject({ ok: false, error: { code: 'hello_first' } });
    expect(await emitAck(raw, 'worker:hello', { capabilities: { types: ['nope'], provider: 'cpu', concurrency: 1 } })).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
  });

  it('200 jobs at once from one user: the limit holds, nothing lost, nothing duplicated', async () => {
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => create(alice.userId)));
    const ok = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ id: string }>).value.id);
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    expect(ok.length).toBe(FAST_JOBS.maxInFlightPerUser);
    expect(refused.length).toBe(200 - FAST_JOBS.maxInFlightPerUser);
    for (const e of refused) expect(e).toMatchObject({ status: 429, code: 'too_many_jobs' });
    const inDb = await sql.query(`select id from jobs where owner_id = $1 and status = 'queued'`, [alice.userId]);
    expect(inDb.rows.map((r) => r.id).sort()).toEqual([...ok].sort());
    // Two workers drain them; each job is assigned and completed exactly once.
    const ws = [await worker('w-drain-1', { concurrency: 4 }), await worker('w-drain-2', { concurrency: 4 })];
    const completed = new Set<string>();
    const handled = ws.map(() => 0);
    await until(async () => {
      for (const [i, w] of ws.entries()) {
        while (handled[i]! < w.assigns.length) {
          const a = w.assigns[handled[i]!]!;
          handled[i] = handled[i]! + 1;
          expect(completed.has(a.jobId)).toBe(false);
          expect((await w.completeBestcut(a)).ok).toBe(true);
          completed.add(a.jobId);
        }
      }
      return completed.size === ok.length;
    }, 15_000, 'all jobs completed');
    expect([...completed].sort()).toEqual([...ok].sort());
    expect(ws.every((w) => w.assigns.length > 0)).toBe(true);
    const dones = await sql.query(`select count(*)::int as n from job_events where job_id = any($1::uuid[]) and type = 'job:done'`, [ok]);
    expect(dones.rows[0].n).toBe(ok.length);
    const states = await sql.query(`select count(*)::int as n from jobs where id = any($1::uuid[]) and status = 'completed' and attempts = 1`, [ok]);
    expect(states.rows[0].n).toBe(ok.length);
    // The limit frees up as jobs finish.
    expect((await create(alice.userId)).status).toBe('queued');
  });

  it('progress is pushed at once but written to the row at a bounded rate', async () => {
    await sql.query(`create table if not exists job_row_writes (job_id uuid, at timestamptz default clock_timestamp())`);
    await sql.query(`create or replace function count_job_write() returns trigger language plpgsql as $$
      begin insert into job_row_writes (job_id) values (new.id); return new; end $$`);
    await sql.query(`drop trigger if exists count_job_write on jobs`);
    await sql.query(`create trigger count_job_write after update on jobs for each row when (old.progress is distinct from new.progress) execute function count_job_write()`);
    try {
      const job = await create(alice.userId);
      const s = await userSocket(alice.token);
      const pushes = record(s);
      await emitAck(s, 'job:watch', { jobId: job.id });
      const w = await worker('w-rate');
      await w.nextAssign();
      const started = Date.now();
      await Promise.all(Array.from({ length: 40 }, (_, i) => w.progress(job.id, (i + 1) / 40)));
      const elapsed = Date.now() - started;
      await until(() => pushes.filter((p) => p.data.stage === 'working').length === 40, 3000, 'all 40 pushes');
      await sleep(FAST_JOBS.progressWriteMs * 3);
      const writes = (await sql.query(`select count(*)::int as n from job_row_writes where job_id = $1`, [job.id])).rows[0].n;
      // At most one progress write per progressWriteMs window (+1: the first goes out at once, +1: the trailing one).
      expect(writes).toBeLessThanOrEqual(Math.ceil(elapsed / FAST_JOBS.progressWriteMs) + 2);
      expect(writes).toBeLessThan(40);
      const r = await row(job.id);
      expect(r.progress).toBe(1);
    } finally {
      await sql.query(`drop trigger if exists count_job_write on jobs`);
    }
  });

  it('since replay gives exactly what was missed, or recovered:false once history is trimmed', async () => {
    const job = await create(alice.userId);
    const w = await worker('w-replay');
    await w.nextAssign();
    const s = await userSocket(alice.token);
    const first = await emitAck(s, 'job:watch', { jobId: job.id });
    const seen = first.data.job.seq as number;
    for (const p of [0.2, 0.4]) await w.progress(job.id, p);
    await until(async () => Number((await row(job.id)).seq) >= seen + 2, 10_000, 'progress written');
    const replay = await emitAck(s, 'job:watch', { jobId: job.id, since: seen });
    expect(replay.data.recovered).toBe(true);
    expect(replay.data.events.map((e: Push) => e.data.progress)).toEqual([0.2, 0.4]);
    expect(replay.data.events.map((e: Push) => e.data.seq)).toEqual([seen + 1, seen + 2]);
    for (let i = 1; i <= 20; i++) await w.progress(job.id, 0.4 + i / 50);
    await until(async () => Number((await row(job.id)).history_floor) > seen, 10_000, 'history trimmed');
    const lost = await emitAck(s, 'job:watch', { jobId: job.id, since: seen });
    expect(lost.data).toMatchObject({ recovered: false, events: [], job: { status: 'active' } });
    const current = await emitAck(s, 'job:watch', { jobId: job.id, since: Number((await row(job.id)).seq) });
    expect(current.data).toMatchObject({ recovered: true, events: [] });
  });

  it('priorities, queue pause/resume, admin retry and stats', async () => {
    const low = await hub.app.jobs.service.create(hub.orm.em.fork(), alice.userId, 'bestcut', { sha256s: [fakeSha(), fakeSha()] }, { priority: 0 });
    const high = await hub.app.jobs.service.create(hub.orm.em.fork(), alice.userId, 'bestcut', { sha256s: [fakeSha(), fakeSha()] }, { priority: 5 });
    expect((await api(hub.url, 'POST', '/api/v1/admin/queues/bestcut/pause', { token: alice.token })).status).toBe(403);
    expect((await api(hub.url, 'POST', '/api/v1/admin/queues/nope/pause', { token: admin })).status).toBe(422);
    expect((await api(hub.url, 'POST', '/api/v1/admin/queues/bestcut/pause', { token: admin })).body).toEqual({ type: 'bestcut', paused: true });
    const w = await worker('w-prio', { concurrency: 2 });
    await sleep(300);
    expect(w.assigns).toEqual([]);
    const stats = await api(hub.url, 'GET', '/api/v1/admin/jobs/stats', { token: admin });
    expect(stats.body.queues.bestcut).toMatchObject({ queued: 2, paused: true });
    expect(stats.body.workers.find((x: { owner: string }) => x.owner === 'w-prio')).toMatchObject({ connected: true, provider: 'cpu', types: ['bestcut'], concurrency: 2, running: [] });
    await api(hub.url, 'POST', '/api/v1/admin/queues/bestcut/resume', { token: admin });
    await until(() => w.assigns.length === 2);
    expect(w.assigns.map((a) => a.jobId)).toEqual([high.id, low.id]);
    await w.ack('job:fail', { jobId: low.id, error: { code: 'nope', message: 'bad' }, retryable: false });
    await w.completeBestcut(w.assigns[0]!);
    expect((await api(hub.url, 'POST', `/api/v1/admin/jobs/${high.id}/retry`, { token: admin })).body).toMatchObject({ code: 'job_not_retryable' });
    const retried = await api(hub.url, 'POST', `/api/v1/admin/jobs/${low.id}/retry`, { token: admin });
    expect(retried.body).toMatchObject({ status: 'queued', attempts: 0 });
    expect((await w.nextAssign(5000, 2)).jobId).toBe(low.id);
    const after = await api(hub.url, 'GET', '/api/v1/admin/jobs/stats', { token: admin });
    expect(after.body.recentFailures.map((f: { id: string }) => f.id)).not.toContain(low.id);
    expect(after.body.queues.bestcut).toMatchObject({ completed: expect.any(Number), paused: false });
    w.close();
    await until(async () => {
      const s = await api(hub.url, 'GET', '/api/v1/admin/jobs/stats', { token: admin });
      return s.body.workers.find((x: { owner: string }) => x.owner === 'w-prio')?.connected === false;
    }, 3000, 'worker shown disconnected');
  });

  it('lists own jobs with filters and cursor paging; deletes only finished ones', async () => {
    const mine = [];
    for (let i = 0; i < 5; i++) {
      mine.push(await create(bob.userId));
      await sleep(3); // distinct created_at, so the expected order is the creation order
    }
    await create(alice.userId);
    const page1 = await api(hub.url, 'GET', '/api/v1/jobs?limit=3&type=bestcut&status=queued', { token: bob.token });
    expect(page1.status).toBe(200);
    expect(page1.body.items.map((j: { id: string }) => j.id)).toEqual(mine.slice(2).reverse().map((j) => j.id));
    const page2 = await api(hub.url, 'GET', `/api/v1/jobs?limit=3&type=bestcut&status=queued&cursor=${page1.body.next_cursor}`, { token: bob.token });
    expect(page2.body.items.map((j: { id: string }) => j.id)).toEqual(mine.slice(0, 2).reverse().map((j) => j.id));
    expect(page2.body.next_cursor).toBeNull();
    expect((await api(hub.url, 'GET', '/api/v1/jobs?status=bogus', { token: bob.token })).status).toBe(422);
    expect((await api(hub.url, 'GET', '/api/v1/jobs?cursor=garbage!', { token: bob.token })).status).toBe(400);
    expect((await api(hub.url, 'GET', '/api/v1/jobs/not-a-uuid', { token: bob.token })).status).toBe(422);
    expect((await api(hub.url, 'GET', '/api/v1/jobs')).status).toBe(401);
    expect((await api(hub.url, 'DELETE', `/api/v1/jobs/${mine[0]!.id}`, { token: bob.token })).body).toMatchObject({ code: 'job_not_finished' });
    await api(hub.url, 'POST', `/api/v1/jobs/${mine[0]!.id}/cancel`, { token: bob.token });
    expect((await api(hub.url, 'DELETE', `/api/v1/jobs/${mine[0]!.id}`, { token: alice.token })).status).toBe(404);
    expect((await api(hub.url, 'DELETE', `/api/v1/jobs/${mine[0]!.id}`, { token: bob.token })).status).toBe(204);
    expect((await api(hub.url, 'GET', `/api/v1/jobs/${mine[0]!.id}`, { token: bob.token })).status).toBe(404);
    await expect(hub.app.jobs.service.create(hub.orm.em.fork(), bob.userId, 'upscale', { sha256: 'x', scale: 3 })).rejects.toMatchObject({ status: 422 });
  });
});
