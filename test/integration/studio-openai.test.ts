import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.js';
import { startInProcessWorker } from '../../src/worker/in-process.js';
import type { RunningWorker } from '../../src/worker/worker.start.js';
import { api, connectSocket, emitAck, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startFakeOpenAi, type FakeOpenAi } from '../helpers/fake-openai.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { until } from '../helpers/jobs.js';

/**
 * The `openai` provider against a real local HTTP server speaking the OpenAI streaming protocol, through the
 * real hub and in-process worker: streamed deltas equal the stored reply and the server's usage prices the
 * job; images come from the images API at the ratio's size; an upstream that answers 429 once is retried and
 * the user sees why; one that stays at 429, stalls, errors or breaks mid-stream, or refuses the key, fails
 * the job cleanly with that reason in message:done.
 */

type Rec = { event: string; data: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('ad studio with the openai provider', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let worker: RunningWorker;
  let fake: FakeOpenAi;
  let root: string;
  let user: { token: string; userId: number };
  let socket: Socket;

  async function ask(text: string, extra: Record<string, unknown> = {}) {
    const seen: Rec[] = [];
    const on = (event: string) => (data: unknown) => seen.push({ event, data });
    const events = ['message:delta', 'message:done', 'job:progress', 'job:failed'];
    const handlers = events.map((e) => [e, on(e)] as const);
    for (const [e, h] of handlers) socket.on(e, h);
    const { data } = await emitAck(socket, 'session:open', {});
    const ack = await emitAck(socket, 'message:send', { sessionId: data.sessionId, text, generationType: 'text', style: 'ultra_realistic', aspectRatio: '1:1', ...extra });
    expect(ack.ok, JSON.stringify(ack)).toBe(true);
    await until(() => seen.some((r) => r.event === 'message:done' && r.data.jobId === ack.data.jobId), 30_000, 'message:done');
    for (const [e, h] of handlers) socket.off(e, h);
    const mine = seen.filter((r) => r.data.jobId === ack.data.jobId);
    return { jobId: ack.data.jobId as string, seen: mine, done: mine.find((r) => r.event === 'message:done')!.data.message, deltas: mine.filter((r) => r.event === 'message:delta').map((r) => r.data) };
  }
  const generation = async (jobId: string) => (await api(hub.url, 'GET', '/api/v1/generations?limit=100', { token: user.token })).body.items.find((g: { job_id: string }) => g.job_id === jobId);

  beforeAll(async () => {
    fake = await startFakeOpenAi();
    db = await createTestDatabase();
    root = await mkdtemp(join(tmpdir(), 'easel-studio-openai-'));
    hub = await startTestHub({
      dbUrl: db.url,
      overrides: {
        media: { dir: join(root, 'media') },
        jobs: { maxAttempts: 2, backoffBaseMs: 50, backoffMaxMs: 200 },
        auth: { admin: { username: 'studio_admin', password: 'admin-password-1' } },
        studio: { provider: 'openai', openai: { baseUrl: fake.url, apiKey: 'sk-test-key', model: 'gpt-3.5-turbo', imageModel: 'dall-e-3', timeoutMs: 5000, idleTimeoutMs: 600 } },
        rateLimits: { register: { limit: 1000, windowSeconds: 60 }, socketEvents: { limit: 1000, windowSeconds: 1 } },
      },
    });
    worker = await startInProcessWorker(hub, hub.config, createLogger('silent', 'test-worker'));
    await worker.connection.ready();
    user = await registerAndLogin(hub.url, 'dana_openai');
    socket = await connectSocket(hub.url, '/studio', user.token);
  }, 60_000);
  afterAll(async () => {
    socket?.close();
    await worker?.stop(1000);
    await hub?.stop();
    await fake?.close();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('streams the upstream reply, prices it from the reported usage', async () => {
    const { jobId, deltas, done } = await ask('Coffee shop slogan', { tone: 'friendly', keywords: ['coffee', 'morning'] });
    // Pieces that queue up behind the stream may travel together; the concatenation is the reply.
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((d) => d.text).join('')).toBe(fake.reply.join(''));
    expect(deltas.map((d) => d.text).join('')).toBe(done.content);
    expect(done.status).toBe('done');
    const req = fake.requests.find((r) => r.path === '/v1/chat/completions' && r.body.messages.at(-1).content === 'Coffee shop slogan')!;
    expect(req.auth).toBe('Bearer sk-test-key');
    expect(req.body).toMatchObject({ model: 'gpt-3.5-turbo', stream: true });
    expect(req.body.messages[0].content).toContain('coffee, morning');
    const g = await generation(jobId);
    expect(g).toMatchObject({ model: 'gpt-3.5-turbo-0125', prompt_tokens: 42, completion_tokens: 9, provider: 'openai', status: 'completed' });
    // The dated name the server answers with is priced as its base model (seed 003's table).
    expect(g.estimated_cost).toBeCloseTo((42 * 0.0005 + 9 * 0.0015) / 1000, 12);
  });

  it('prices by the exact entry when one is listed, and the cost totals equal the sum of the jobs', async () => {
    hub.config.studio.prices['gpt-3.5-turbo-0125'] = { input: 0.001, output: 0.002 };
    const { jobId } = await ask('Tea shop slogan');
    const g = await generation(jobId);
    expect(g.estimated_cost).toBeCloseTo((42 * 0.001 + 9 * 0.002) / 1000, 12);
    const summary = (await api(hub.url, 'GET', '/api/v1/costs/summary', { token: user.token })).body;
    const history = (await api(hub.url, 'GET', '/api/v1/costs/history?limit=500', { token: user.token })).body;
    expect(summary.total_cost).toBeCloseTo(history.history.reduce((n: number, h: { estimated_cost: number }) => n + h.estimated_cost, 0), 12);
    expect(summary.total_jobs).toBe(history.total);
    const byModel = history.history.filter((h: { model: string }) => h.model === 'gpt-3.5-turbo-0125').reduce((n: number, h: { estimated_cost: number }) => n + h.estimated_cost, 0);
    expect(summary.cost_by_model['gpt-3.5-turbo-0125']).toBeCloseTo(byModel, 12);
    // The admin dashboard's stats (pushed every second as dashboard:stats) carry the same total, and admins see everyone's.
    const admin = (await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'studio_admin', password: 'admin-password-1' } })).body.access_token;
    const stats = (await api(hub.url, 'GET', '/api/v1/admin/jobs/stats', { token: admin })).body;
    expect(stats.cost.estimated_cost_usd).toBeCloseTo(summary.total_cost, 12);
    expect(stats.cost.prompt_tokens).toBe(summary.prompt_tokens);
    const all = (await api(hub.url, 'GET', '/api/v1/costs/summary', { token: admin })).body;
    expect(all.total_cost).toBeCloseTo(summary.total_cost, 12);
    expect((await api(hub.url, 'GET', `/api/v1/costs/history?user_id=${user.userId}`, { token: admin })).body.total).toBe(history.total);
  });

  it('generates the picture with the images API at the ratio’s size and composes the ad on it', async () => {
    const { jobId, done } = await ask('Summer sale poster', { generationType: 'image', aspectRatio: '16:9' });
    expect(done.status).toBe('done');
    const img = fake.requests.find((r) => r.path === '/v1/images/generations')!;
    expect(img.body).toMatchObject({ model: 'dall-e-3', size: '1792x1024', response_format: 'b64_json' });
    const meta = await sharp(Buffer.from(await (await fetch(hub.url + done.image.url)).arrayBuffer())).metadata();
    expect(meta.width! / meta.height!).toBeCloseTo(16 / 9, 2);
    const g = await generation(jobId);
    expect(g.generation_method).toContain('images');
    expect(g.estimated_cost).toBeGreaterThanOrEqual(0.08);
  });

  it('retries an upstream 429 and the user sees why', async () => {
    const { seen, done, deltas } = await ask('Bakery ad [429-once]');
    const retry = seen.find((r) => r.event === 'job:progress' && r.data.stage === 'retrying');
    expect(retry?.data.message).toMatch(/429|rate limit/i);
    expect(done.status).toBe('done');
    // The retried attempt streamed the whole reply again, under its own attempt number.
    expect(deltas.filter((d) => d.attempt === 2).map((d) => d.text).join('')).toBe(done.content);
  });

  it('replaces a failed reply when an admin retries its job and it succeeds', async () => {
    const { jobId, done } = await ask('Cafe ad [500-twice]');
    expect(done.status).toBe('failed');
    const admin = (await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'studio_admin', password: 'admin-password-1' } })).body.access_token;
    const later: Rec[] = [];
    const onDone = (d: unknown) => later.push({ event: 'message:done', data: d });
    socket.on('message:done', onDone);
    expect((await api(hub.url, 'POST', `/api/v1/admin/jobs/${jobId}/retry`, { token: admin })).status).toBe(200);
    await until(() => later.some((r) => r.data.jobId === jobId), 30_000, 'message:done after the retry');
    socket.off('message:done', onDone);
    const again = later.find((r) => r.data.jobId === jobId)!.data.message;
    expect(again).toMatchObject({ id: done.id, status: 'done', error: null, content: fake.reply.join('') });
    expect((await generation(jobId)).status).toBe('completed');
  });

  const failures: [string, string, number][] = [
    ['an upstream that stays at 429', 'Gym ad [429]', 2],
    ['a stream that stalls mid-reply', 'Hotel ad [stall]', 2],
    ['an error object mid-stream', 'Shoe ad [error]', 2],
    ['a connection cut mid-stream', 'Bag ad [cut]', 2],
    ['an upstream 500', 'Car ad [500]', 2],
    ['a refused key (final, not retried)', 'Phone ad [401]', 1],
  ];
  const codes: Record<string, string> = { '[429]': 'upstream_rate_limited', '[stall]': 'upstream_stalled', '[error]': 'upstream_error', '[cut]': 'upstream_stream_cut', '[500]': 'upstream_error', '[401]': 'upstream_refused' };
  for (const [what, text, attempts] of failures) {
    it(`fails the job cleanly on ${what}`, async () => {
      const marker = text.match(/\[[^\]]+\]/)![0];
      const before = fake.requests.filter((r) => r.body.messages?.at(-1)?.content === text).length;
      const { jobId, seen, done } = await ask(text);
      expect(done.status).toBe('failed');
      expect(done.error.code).toBe(codes[marker]);
      expect(done.content).toContain(done.error.message);
      expect(seen.find((r) => r.event === 'job:failed')?.data.error.code).toBe(codes[marker]);
      expect(fake.requests.filter((r) => r.body.messages?.at(-1)?.content === text).length - before).toBe(attempts);
      const job = (await api(hub.url, 'GET', `/api/v1/jobs/${jobId}`, { token: user.token })).body;
      expect(job).toMatchObject({ status: 'failed', attempts });
      expect((await generation(jobId)).status).toBe('failed');
    }, 30_000);
  }
});
