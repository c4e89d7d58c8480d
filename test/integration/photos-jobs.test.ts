import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePng } from '../../src/modules/media/test-fixtures.js';
import { createLogger } from '../../src/platform/logger.js';
import { startInProcessWorker } from '../../src/worker/in-process.js';
import { api, connectSocket, emitAck, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { FakeWorker, until } from '../helpers/jobs.js';
import { padPng, upload, type Part } from '../helpers/multipart.js';

/**
 * `POST /photos/upscale|bestcut` wired to jobs: 202 with photo_id = job_id, nothing queued on any bad input
 * (no job row, no photo row), the in-flight limit leaves nothing behind, the photo follows its job
 * (queued → processing → completed | failed, cancel included), and with a real in-process worker the
 * processed file is served at 2× / 4× the size and a best cut's pick becomes the processed file.
 */

const MAX_FILE = 200_000;
const LIMIT = 3;
type Push = { event: string; data: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('photos wired to jobs', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let root: string;
  let alice: { token: string; userId: number };
  let bob: { token: string; userId: number };
  let png48: Buffer;

  const counts = async () => {
    const [row] = await hub.orm.em
      .fork()
      .execute<{ jobs: string; photos: string; media: string }[]>(`select (select count(*) from jobs) as jobs, (select count(*) from photos) as photos, (select count(*) from media) as media`);
    return { jobs: Number(row!.jobs), photos: Number(row!.photos), media: Number(row!.media) };
  };
  const file = (data: Buffer, name = 'file'): Part => ({ name, filename: 'p.png', type: 'image/png', data });
  const photo = async (token: string, id: string) => (await api(hub.url, 'GET', '/api/v1/photos', { token })).body.items.find((p: { id: string }) => p.id === id);

  beforeAll(async () => {
    db = await createTestDatabase();
    root = await mkdtemp(join(tmpdir(), 'easel-photo-jobs-'));
    hub = await startTestHub({
      dbUrl: db.url,
      overrides: {
        media: { dir: join(root, 'media') },
        uploads: { maxFileBytes: MAX_FILE },
        jobs: { maxInFlightPerUser: LIMIT },
        rateLimits: { register: { limit: 1000, windowSeconds: 60 } },
      },
    });
    alice = await registerAndLogin(hub.url, 'alice_photojobs');
    bob = await registerAndLogin(hub.url, 'bob_photojobs');
    png48 = await makePng(48, 48);
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('documents both routes in /openapi.json', async () => {
    const doc = (await api(hub.url, 'GET', '/openapi.json')).body;
    expect(Object.keys(doc.paths['/api/v1/photos/upscale'].post.responses)).toEqual(expect.arrayContaining(['202', '413', '415', '422', '429']));
    expect(doc.paths['/api/v1/photos/bestcut'].post).toBeDefined();
  });

  it('refuses bad input with a clear 4xx and queues nothing', async () => {
    const guest = (await api(hub.url, 'POST', '/api/v1/auth/guest')).body.access_token as string;
    const many = await Promise.all(Array.from({ length: 11 }, (_, i) => makePng(20 + i, 20)));
    const cases: { what: string; path: string; token?: string; parts: Part[]; status: number }[] = [
      { what: 'non-image', path: 'upscale', parts: [file(Buffer.from('definitely not an image'))], status: 415 },
      { what: 'truncated image', path: 'upscale', parts: [file(png48.subarray(0, Math.floor(png48.length / 2)))], status: 415 },
      { what: 'oversize file', path: 'upscale', parts: [file(padPng(png48, MAX_FILE + 10))], status: 413 },
      { what: 'scale 3', path: 'upscale', parts: [file(png48), { name: 'scale', value: '3' }], status: 422 },
      { what: 'lat out of range', path: 'upscale', parts: [file(png48), { name: 'lat', value: '91' }], status: 422 },
      { what: 'lng not a number', path: 'upscale', parts: [file(png48), { name: 'lng', value: 'east' }], status: 422 },
      { what: 'no file', path: 'upscale', parts: [{ name: 'scale', value: '2' }], status: 422 },
      { what: 'unknown field', path: 'upscale', parts: [file(png48), { name: 'colour', value: 'red' }], status: 422 },
      { what: 'one file to bestcut', path: 'bestcut', parts: [file(png48, 'files')], status: 422 },
      { what: 'eleven files to bestcut', path: 'bestcut', parts: many.map((d) => file(d, 'files[]')), status: 413 },
      { what: 'a non-image among bestcut files', path: 'bestcut', parts: [file(png48, 'files'), file(Buffer.from('nope'), 'files')], status: 415 },
      { what: 'no token', path: 'upscale', token: '', parts: [file(png48)], status: 401 },
      { what: 'guest token', path: 'upscale', token: guest, parts: [file(png48)], status: 403 },
      { what: 'guest token (bestcut)', path: 'bestcut', token: guest, parts: [file(png48, 'files'), file(many[0]!, 'files')], status: 403 },
    ];
    for (const c of cases) {
      const res = await upload(hub.url, `/api/v1/photos/${c.path}`, c.token === undefined ? alice.token : c.token || undefined, c.parts);
      expect({ what: c.what, status: res.status }).toEqual({ what: c.what, status: c.status });
      expect(res.body.code, c.what).toEqual(expect.any(String));
    }
    // Nothing queued, and the uploads of refused requests were discarded too.
    expect(await counts()).toEqual({ jobs: 0, photos: 0, media: 0 });
  });

  it('answers 202 with photo_id = job_id; the in-flight limit (429) leaves no photo or job; cancel fails the photo; strangers get 404', async () => {
    const ids: string[] = [];
    for (let i = 0; i < LIMIT; i++) {
      const res = await upload(hub.url, '/api/v1/photos/upscale', alice.token, [file(await makePng(30 + i, 30)), { name: 'lat', value: '37.5665' }, { name: 'lng', value: '-126.978' }, { name: 'scale', value: '4' }]);
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      expect(res.body.photo_id).toBe(res.body.job_id);
      expect(res.body.job).toMatchObject({ id: res.body.job_id, type: 'upscale', status: 'queued', input: { scale: 4 } });
      expect(res.body.photo).toMatchObject({ status: 'queued', kind: 'upscale', latitude: 37.5665, longitude: -126.978, processed_sha256: null });
      ids.push(res.body.photo_id);
    }
    const before = await counts();
    const refused = await upload(hub.url, '/api/v1/photos/upscale', alice.token, [file(await makePng(41, 41))]);
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('too_many_jobs');
    const refusedCut = await upload(hub.url, '/api/v1/photos/bestcut', alice.token, [file(await makePng(42, 42), 'files'), file(await makePng(43, 43), 'files')]);
    expect(refusedCut.status).toBe(429);
    expect(await counts()).toEqual(before);
    expect(before).toMatchObject({ jobs: LIMIT, photos: LIMIT, media: LIMIT });

    const id = ids[0]!;
    // Not ready yet, and invisible to anyone else.
    expect((await api(hub.url, 'GET', `/api/v1/photos/${id}/file?type=processed`, { token: alice.token })).status).toBe(409);
    expect((await api(hub.url, 'GET', `/api/v1/photos/${id}/file?type=original`, { token: bob.token })).status).toBe(404);
    expect((await api(hub.url, 'DELETE', `/api/v1/photos/${id}`, { token: bob.token })).status).toBe(404);
    expect((await api(hub.url, 'GET', `/api/v1/jobs/${id}`, { token: bob.token })).status).toBe(404);

    // The photo follows its job: claimed by a worker → processing; failed by it → failed with its error.
    const { token } = await hub.app.tokens.issueWorker('photo-fake');
    const fake = await FakeWorker.start(hub.url, token, { types: ['upscale'], concurrency: 1 });
    let taken = '';
    try {
      const assigned = await fake.nextAssign();
      expect(ids).toContain(assigned.jobId);
      taken = assigned.jobId;
      await until(async () => (await photo(alice.token, assigned.jobId))?.status === 'processing', 5000, 'photo processing');
      fake.progress(assigned.jobId, 0.5);
      const failure = { jobId: assigned.jobId, retryable: false, error: { code: 'model_failed', message: 'boom' } };
      expect((await fake.ack('job:fail', failure)).ok).toBe(true);
      // A repeated answer is refused and changes nothing.
      expect((await fake.ack('job:fail', failure)).ok).toBe(false);
      await until(async () => (await photo(alice.token, assigned.jobId))?.status === 'failed', 5000, 'photo failed');
      expect((await photo(alice.token, assigned.jobId)).error).toBe('model_failed: boom');
    } finally {
      fake.close();
    }
    // Cancelled while queued → failed with the reason; the slots free up.
    const queued = ids.filter((j) => j !== taken);
    expect(queued).toHaveLength(LIMIT - 1);
    for (const j of queued) expect((await api(hub.url, 'POST', `/api/v1/jobs/${j}/cancel`, { token: alice.token })).status).toBe(200);
    for (const j of queued) await until(async () => (await photo(alice.token, j))?.status === 'failed', 5000, 'photo failed after cancel');
    expect((await photo(alice.token, queued[0]!)).error).toMatch(/^cancelled: /);
    expect((await api(hub.url, 'GET', '/api/v1/photos', { token: alice.token })).body.items.map((p: { status: string }) => p.status)).toEqual(['failed', 'failed', 'failed']);
  });

  it('deleting a photo cancels its job: a running one on its worker, a queued one in the queue; a finished one stays', async () => {
    const jobStatus = async (id: string) => (await api(hub.url, 'GET', `/api/v1/jobs/${id}`, { token: alice.token })).body.status as string;
    const submit = async (n: number) => (await upload(hub.url, '/api/v1/photos/upscale', alice.token, [file(await makePng(50 + n, 20))])).body.photo_id as string;
    const running = await submit(1);
    const queued = await submit(2);
    const { token } = await hub.app.tokens.issueWorker('photo-delete');
    const fake = await FakeWorker.start(hub.url, token, { types: ['upscale'], concurrency: 1 });
    try {
      const assigned = await fake.nextAssign();
      expect(assigned.jobId).toBe(running);
      expect((await api(hub.url, 'DELETE', `/api/v1/photos/${running}`, { token: alice.token })).status).toBe(204);
      await until(() => fake.cancels.some((c) => c.jobId === running), 5000, 'job:cancel to the worker');
      expect(await jobStatus(running)).toBe('cancelled');
      // The worker's late answer is refused; nothing is stored for a photo that is gone.
      expect((await fake.ack('job:complete', { jobId: running, result: { sha256: 'a'.repeat(64), width: 1, height: 1, model: 'fake', provider: 'cpu', ms: 1 } })).ok).toBe(false);
      // The slot it held goes to the queued photo; deleting that one cancels it on the worker too.
      await fake.nextAssign(5000, 1);
      expect((await api(hub.url, 'DELETE', `/api/v1/photos/${queued}`, { token: alice.token })).status).toBe(204);
      expect(await jobStatus(queued)).toBe('cancelled');
    } finally {
      fake.close();
    }
    // A photo whose job already ended is deleted without touching the job.
    const failedId = (await api(hub.url, 'GET', '/api/v1/photos', { token: alice.token })).body.items.find((p: { status: string }) => p.status === 'failed').id as string;
    expect((await api(hub.url, 'DELETE', `/api/v1/photos/${failedId}`, { token: alice.token })).status).toBe(204);
    expect(await jobStatus(failedId)).toMatch(/^(failed|cancelled)$/);
    expect(await photo(alice.token, failedId)).toBeUndefined();
  });

  it('the photo follows its job in the same statement; a result naming no stored file fails the photo, not the job', async () => {
    const res = await upload(hub.url, '/api/v1/photos/upscale', alice.token, [file(await makePng(61, 20))]);
    const id = res.body.photo_id as string;
    const { token } = await hub.app.tokens.issueWorker('photo-trigger');
    const fake = await FakeWorker.start(hub.url, token, { types: ['upscale'], concurrency: 1 });
    try {
      const a = await fake.nextAssign();
      expect(a.jobId).toBe(id);
      // No waiting: the claim and the photo's status changed together.
      expect((await photo(alice.token, id)).status).toBe('processing');
      const bogus = 'b'.repeat(64);
      expect((await fake.ack('job:complete', { jobId: id, result: { sha256: bogus, width: 122, height: 40, model: 'fake', provider: 'cpu', ms: 1 } })).ok).toBe(true);
      expect((await api(hub.url, 'GET', `/api/v1/jobs/${id}`, { token: alice.token })).body.status).toBe('completed');
      expect(await photo(alice.token, id)).toMatchObject({ status: 'failed', processed_sha256: null, error: 'invalid_result: the result names no stored file' });
    } finally {
      fake.close();
    }
  });

  it('with a real worker: progress to done, photo completed, processed file served at 2× and 4×; best cut stores the pick', async () => {
    const local = await startInProcessWorker(hub, hub.app.config, createLogger('silent'));
    let watcher: Socket | undefined;
    try {
      await local.connection.ready();
      watcher = await connectSocket(hub.url, '/', alice.token);
      const pushes: Push[] = [];
      for (const event of ['job:progress', 'job:done', 'job:failed']) watcher.on(event, (data) => pushes.push({ event, data }));
      const seen: string[] = [];
      const submit = async (path: string, parts: Part[]) => {
        const res = await upload(hub.url, `/api/v1/photos/${path}`, alice.token, parts);
        expect(res.status, JSON.stringify(res.body)).toBe(202);
        expect((await emitAck(watcher!, 'job:watch', { jobId: res.body.job_id })).ok).toBe(true);
        return res.body as { photo_id: string; job_id: string };
      };
      const sample = async (id: string) => {
        const p = await photo(alice.token, id);
        if (p && seen[seen.length - 1] !== `${id}:${p.status}`) seen.push(`${id}:${p.status}`);
        return p;
      };

      for (const scale of [2, 4]) {
        const { photo_id: id } = await submit('upscale', [file(png48), { name: 'scale', value: String(scale) }]);
        await until(async () => (await sample(id))?.status === 'completed', 60_000, `photo ${id} completed`);
        const done = pushes.find((p) => p.event === 'job:done' && p.data.jobId === id);
        expect(done?.data.result, JSON.stringify(pushes)).toMatchObject({ width: 48 * scale, height: 48 * scale });
        expect(pushes.some((p) => p.event === 'job:progress' && p.data.jobId === id && p.data.status === 'active')).toBe(true);
        const rec = await photo(alice.token, id);
        expect(rec).toMatchObject({ status: 'completed', processed_sha256: done!.data.result.sha256, error: null, urls: { processed: `/api/v1/photos/${id}/file?type=processed` } });
        const res = await fetch(`${hub.url}/api/v1/photos/${id}/file?type=processed`, { headers: { authorization: `Bearer ${alice.token}` } });
        expect(res.status).toBe(200);
        const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
        expect([meta.width, meta.height]).toEqual([48 * scale, 48 * scale]);
        expect((await api(hub.url, 'GET', `/api/v1/photos/${id}/file?type=processed`, { token: bob.token })).status).toBe(404);
      }
      // Polling may miss the short queued/processing phases, but never sees them out of order.
      for (const [i, s] of seen.entries()) if (s.endsWith(':processing')) expect(seen[i + 1]?.split(':')[1] ?? 'completed').not.toBe('queued');

      // Best cut: a sharp, well-exposed checkerboard against a flat grey; the sharp one is the pick and the processed file.
      const sharpPng = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#b0b0b0' } })
        .composite(Array.from({ length: 32 }, (_, k) => ({ input: { create: { width: 4, height: 4, channels: 3 as const, background: '#505050' } }, left: (k % 8) * 8, top: Math.floor(k / 8) * 16 })))
        .png()
        .toBuffer();
      const flatPng = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#7f7f7f' } }).png().toBuffer();
      const cut = await submit('bestcut', [file(flatPng, 'files[]'), file(sharpPng, 'files[]'), { name: 'lat', value: '1.5' }]);
      await until(async () => (await sample(cut.photo_id))?.status === 'completed', 60_000, 'bestcut completed');
      const result = pushes.find((p) => p.event === 'job:done' && p.data.jobId === cut.job_id)!.data.result;
      expect(result.scores).toHaveLength(2);
      const rec = await photo(alice.token, cut.photo_id);
      expect(rec).toMatchObject({ kind: 'bestcut', status: 'completed', processed_sha256: result.pick, latitude: 1.5 });
      const served = await fetch(`${hub.url}/api/v1/photos/${cut.photo_id}/file?type=processed`, { headers: { authorization: `Bearer ${alice.token}` } });
      expect(served.status).toBe(200);
      const pickedBytes = Buffer.from(await served.arrayBuffer());
      expect((await sharp(pickedBytes).stats()).channels[0]!.stdev).toBeGreaterThan(10);
    } finally {
      watcher?.close();
      await local.stop();
    }
  });
});
