import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePng } from '../../src/modules/media/test-fixtures.js';
import { createLogger } from '../../src/platform/logger.js';
import { startInProcessWorker } from '../../src/worker/in-process.js';
import type { RunningWorker } from '../../src/worker/worker.start.js';
import { api, connectSocket, emitAck, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { until } from '../helpers/jobs.js';
import { upload, type Part } from '../helpers/multipart.js';

/**
 * The ad studio end to end with the default `local` provider on the real in-process worker: sessions for
 * guests and users (junk ids, attachment at sign-in, foreign sessions refused), streamed replies whose deltas
 * concatenate to the stored reply, a reconnect that recovers missed deltas with `since`, cursor paging of a
 * 20-message conversation, images through POST /generate, costs, segments, analytics and bad input.
 */

type Rec = { event: string; data: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

function record(socket: Socket): Rec[] {
  const seen: Rec[] = [];
  for (const event of ['message:delta', 'message:done', 'job:progress', 'job:failed', 'job:done']) socket.on(event, (data: unknown) => seen.push({ event, data }));
  return seen;
}

describe('ad studio (local provider)', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let worker: RunningWorker;
  let root: string;
  let alice: { token: string; userId: number };
  let bob: { token: string; userId: number };
  const sockets: Socket[] = [];
  const open = async (token: string) => {
    const s = await connectSocket(hub.url, '/studio', token);
    sockets.push(s);
    return s;
  };
  const guestToken = async () => (await api(hub.url, 'POST', '/api/v1/auth/guest')).body.access_token as string;
  /** Sends a brief and waits for its message:done; returns the deltas and the reply. */
  async function converse(s: Socket, sessionId: string, extra: Record<string, unknown> = {}) {
    const seen = record(s);
    const ack = await emitAck(s, 'message:send', { sessionId, text: '신선한 아침 커피 광고 만들어줘', generationType: 'text', style: 'anime', aspectRatio: '1:1', tone: '친근한', keywords: ['커피', '아침'], ...extra });
    expect(ack.ok, JSON.stringify(ack)).toBe(true);
    await until(() => seen.some((r) => r.event === 'message:done' && r.data.jobId === ack.data.jobId), 30_000, 'message:done');
    s.removeAllListeners();
    const mine = seen.filter((r) => r.data.jobId === ack.data.jobId);
    return { ack: ack.data, seen: mine, done: mine.find((r) => r.event === 'message:done')!.data, deltas: mine.filter((r) => r.event === 'message:delta').map((r) => r.data) };
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    root = await mkdtemp(join(tmpdir(), 'easel-studio-'));
    hub = await startTestHub({
      dbUrl: db.url,
      overrides: {
        media: { dir: join(root, 'media') },
        studio: { local: { tokenDelayMs: 2 } },
        rateLimits: { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 }, socketEvents: { limit: 1000, windowSeconds: 1 } },
      },
    });
    worker = await startInProcessWorker(hub, hub.config, createLogger('silent', 'test-worker'));
    await worker.connection.ready();
    alice = await registerAndLogin(hub.url, 'alice_studio');
    bob = await registerAndLogin(hub.url, 'bob_studio');
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    await worker?.stop(1000);
    await hub?.stop();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('starts a new session for junk ids and resumes a real one', async () => {
    const token = await guestToken();
    const ids = new Set<string>();
    for (const junk of ['undefined', 'null', '', 'None']) {
      const res = await api(hub.url, 'POST', '/api/v1/chat/sessions', { token, json: { session_id: junk } });
      expect(res.status).toBe(201);
      ids.add(res.body.session_id);
    }
    const empty = await api(hub.url, 'POST', '/api/v1/chat/sessions', { token, json: {} });
    expect(empty.status).toBe(201);
    ids.add(empty.body.session_id);
    // No body at all also starts one; a body that is not JSON is refused.
    const bare = await api(hub.url, 'POST', '/api/v1/chat/sessions', { token });
    expect(bare.status).toBe(201);
    ids.add(bare.body.session_id);
    expect((await api(hub.url, 'POST', '/api/v1/chat/sessions', { token, body: 'session please' })).status).toBe(415);
    expect((await api(hub.url, 'POST', '/api/v1/chat/sessions', { token, body: '{oops', headers: { 'content-type': 'application/json' } })).status).toBe(400);
    expect((await api(hub.url, 'POST', '/api/v1/chat/sessions', { token, json: { session_id: 5, extra: 1 } })).status).toBe(422);
    expect(ids.size).toBe(6);
    const again = await api(hub.url, 'POST', '/api/v1/chat/sessions', { token, json: { session_id: empty.body.session_id } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ session_id: empty.body.session_id, created: false });
    const s = await open(token);
    for (const junk of [undefined, null, 'undefined', '']) {
      const ack = await emitAck(s, 'session:open', junk === undefined ? {} : { sessionId: junk });
      expect(ack.ok).toBe(true);
      expect(ack.data.created).toBe(true);
    }
    const list = await api(hub.url, 'GET', '/api/v1/chat/sessions', { token });
    expect(list.body.items).toHaveLength(10);
  });

  it('streams a reply whose deltas arrive in order and concatenate to the stored message', async () => {
    const s = await open(alice.token);
    const opened = await emitAck(s, 'session:open', {});
    // Optional options sent as null are the same as absent.
    const { ack, deltas, done, seen } = await converse(s, opened.data.sessionId, { segmentId: null, imageSha256: null, seed: null, industry: null });
    expect(ack).toMatchObject({ sessionId: opened.data.sessionId });
    expect(typeof ack.messageId).toBe('string');
    expect(deltas.length).toBeGreaterThan(1);
    const seqs = deltas.map((d) => d.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(deltas.map((d) => d.text).join('')).toBe(done.message.content);
    expect(done.seq).toBeGreaterThan(seqs[seqs.length - 1]);
    expect(done.message).toMatchObject({ role: 'assistant', status: 'done', job_id: ack.jobId, image: null });
    expect(done.message.content).toMatch(/[가-힣]/);
    // Seed 004's stages, in order.
    const stages = seen.filter((r) => r.event === 'job:progress').map((r) => r.data.stage);
    const order = ['pending', 'ingesting', 'generating', 'persisting'];
    expect(stages.filter((st, i) => st !== stages[i - 1] && order.includes(st))).toEqual(order);
    // The user's message and the reply are stored, newest first.
    const msgs = await api(hub.url, 'GET', `/api/v1/chat/sessions/${opened.data.sessionId}/messages`, { token: alice.token });
    expect(msgs.body.items.map((m: { role: string }) => m.role)).toEqual(['assistant', 'user']);
    expect(msgs.body.items[1].id).toBe(ack.messageId);
  });

  it('refuses another user’s session on the socket and over HTTP', async () => {
    const mine = await api(hub.url, 'POST', '/api/v1/chat/sessions', { token: alice.token, json: {} });
    const s = await open(bob.token);
    const ack = await emitAck(s, 'session:open', { sessionId: mine.body.session_id });
    expect(ack).toMatchObject({ ok: false, error: { code: 'session_forbidden' } });
    const send = await emitAck(s, 'message:send', { sessionId: mine.body.session_id, text: 'hijack', generationType: 'text', style: 'anime', aspectRatio: '1:1' });
    expect(send).toMatchObject({ ok: false, error: { code: 'session_forbidden' } });
    // Refused twice, and still not in the room: alice's reply never reaches bob.
    const seen: string[] = [];
    s.onAny((event) => seen.push(event));
    const aliceSocket = await open(alice.token);
    await emitAck(aliceSocket, 'session:open', { sessionId: mine.body.session_id });
    const sent = await emitAck(aliceSocket, 'message:send', { sessionId: mine.body.session_id, text: 'mine', generationType: 'text', style: 'anime', aspectRatio: '1:1' });
    await until(async () => (await api(hub.url, 'GET', `/api/v1/chat/sessions/${mine.body.session_id}/messages`, { token: alice.token })).body.items.length === 2, 20_000, 'alice reply');
    expect(sent.ok).toBe(true);
    expect(seen).toEqual([]);
    expect((await api(hub.url, 'GET', `/api/v1/chat/sessions/${mine.body.session_id}/messages`, { token: bob.token })).status).toBe(403);
    expect((await api(hub.url, 'POST', '/api/v1/chat/sessions', { token: bob.token, json: { session_id: mine.body.session_id } })).status).toBe(403);
    const guest = await guestToken();
    expect((await api(hub.url, 'GET', `/api/v1/chat/sessions/${mine.body.session_id}/messages`, { token: guest })).status).toBe(403);
  });

  it('attaches a guest’s sessions to the user who signs in presenting the guest token', async () => {
    const guest = await guestToken();
    const s = await open(guest);
    const opened = await emitAck(s, 'session:open', {});
    await converse(s, opened.data.sessionId);
    const user = await registerAndLogin(hub.url, 'carol_studio');
    // Before: not hers.
    expect((await api(hub.url, 'GET', `/api/v1/chat/sessions/${opened.data.sessionId}/messages`, { token: user.token })).status).toBe(403);
    const att = await api(hub.url, 'POST', '/api/v1/chat/sessions', { token: user.token, json: { session_id: opened.data.sessionId, guest_token: guest } });
    expect(att.status).toBe(200);
    expect(att.body).toMatchObject({ session_id: opened.data.sessionId, attached: 1, created: false });
    const msgs = await api(hub.url, 'GET', `/api/v1/chat/sessions/${opened.data.sessionId}/messages`, { token: user.token });
    expect(msgs.body.items).toHaveLength(2);
    expect((await api(hub.url, 'GET', '/api/v1/chat/sessions', { token: user.token })).body.items.map((x: { id: string }) => x.id)).toContain(opened.data.sessionId);
    // Its generations (and their costs) are the user's now; the guest token no longer opens it.
    expect((await api(hub.url, 'GET', '/api/v1/generations', { token: user.token })).body.items).toHaveLength(1);
    expect((await emitAck(s, 'session:open', { sessionId: opened.data.sessionId })).error.code).toBe('session_forbidden');
    // A token that is not a guest's is refused.
    expect((await api(hub.url, 'POST', '/api/v1/chat/sessions', { token: user.token, json: { guest_token: bob.token } })).body.code).toBe('invalid_guest_token');
  });

  it('pages a 20-message conversation back exactly, newest first', async () => {
    const s = await open(bob.token);
    const opened = await emitAck(s, 'session:open', {});
    const sessionId = opened.data.sessionId as string;
    for (let i = 0; i < 10; i++) await converse(s, sessionId, { text: `coffee ad number ${i}`, seed: i });
    const all: { id: string; role: string; content: string }[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const res: { body: { items: typeof all; next_cursor: string | null } } = await api(hub.url, 'GET', `/api/v1/chat/sessions/${sessionId}/messages${cursor ? `?cursor=${cursor}` : ''}`, { token: bob.token });
      sizes.push(res.body.items.length);
      all.push(...res.body.items);
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(sizes).toEqual([15, 5]);
    expect(all).toHaveLength(20);
    expect(new Set(all.map((m) => m.id)).size).toBe(20);
    const ids = all.map((m) => Number(m.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(all.filter((m) => m.role === 'user').map((m) => m.content).reverse()).toEqual(Array.from({ length: 10 }, (_, i) => `coffee ad number ${i}`));
    const reopened = await emitAck(s, 'session:open', { sessionId });
    expect(reopened.data.messages.map((m: { id: string }) => m.id)).toEqual(all.slice(0, 15).map((m) => m.id));
    expect((await api(hub.url, 'GET', `/api/v1/chat/sessions/${sessionId}/messages?limit=7`, { token: bob.token })).body.items).toHaveLength(7);
    expect((await api(hub.url, 'GET', `/api/v1/chat/sessions/${sessionId}/messages?cursor=garbage!!`, { token: bob.token })).status).toBe(400);
  }, 120_000);

  it('recovers the deltas missed during a reconnect with `since`', async () => {
    hub.config.studio.local.tokenDelayMs = 40;
    try {
      const s1 = await open(alice.token);
      const opened = await emitAck(s1, 'session:open', {});
      const sessionId = opened.data.sessionId as string;
      const first: Rec[] = record(s1);
      const ack = await emitAck(s1, 'message:send', { sessionId, text: 'Write an ad for running shoes', generationType: 'text', style: 'ultra_realistic', aspectRatio: '1:1', keywords: ['light', 'fast'] });
      expect(ack.ok).toBe(true);
      await until(() => first.filter((r) => r.event === 'message:delta').length >= 3, 20_000, 'three deltas');
      s1.close();
      const before = first.filter((r) => r.event === 'message:delta').map((r) => r.data);
      const last = before[before.length - 1].seq as number;
      await new Promise((r) => setTimeout(r, 300));
      const s2 = await open(alice.token);
      const after = record(s2);
      const back = await emitAck(s2, 'session:open', { sessionId, since: last });
      expect(back.data.recovered).toBe(true);
      const missed = back.data.events.filter((e: Rec) => e.event === 'message:delta').map((e: Rec) => e.data);
      expect(missed.length).toBeGreaterThan(0);
      expect(missed[0].seq).toBe(last + 1);
      await until(() => after.some((r) => r.event === 'message:done') || back.data.events.some((e: Rec) => e.event === 'message:done'), 30_000, 'message:done');
      const live = after.filter((r) => r.event === 'message:delta').map((r) => r.data);
      const bySeq = new Map<number, string>();
      for (const d of [...before, ...missed, ...live]) bySeq.set(d.seq, d.text);
      const text = [...bySeq.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t).join('');
      const done = after.find((r) => r.event === 'message:done')?.data ?? back.data.events.find((e: Rec) => e.event === 'message:done').data;
      expect(text).toBe(done.message.content);
      // A seq the stream never had: not recovered, the stored messages are the truth.
      const bogus = await emitAck(s2, 'session:open', { sessionId, since: 1_000_000 });
      expect(bogus.data.recovered).toBe(false);
    } finally {
      hub.config.studio.local.tokenDelayMs = 2;
    }
  }, 60_000);

  it('stops a running reply on message:cancel (guests too), and only the session’s owner may', async () => {
    hub.config.studio.local.tokenDelayMs = 50;
    try {
      const guest = await guestToken();
      const s = await open(guest);
      const seen = record(s);
      const { data } = await emitAck(s, 'session:open', {});
      const sent = await emitAck(s, 'message:send', { sessionId: data.sessionId, text: 'A long ad for a very slow reply', generationType: 'text', style: 'anime', aspectRatio: '1:1' });
      await until(() => seen.some((r) => r.event === 'message:delta'), 20_000, 'first delta');
      const other = await open(bob.token);
      expect((await emitAck(other, 'message:cancel', { sessionId: data.sessionId, jobId: sent.data.jobId })).error.code).toBe('session_forbidden');
      expect((await emitAck(s, 'message:cancel', { sessionId: data.sessionId, jobId: '7d1b7b5e-1111-4111-8111-111111111111' })).error.code).toBe('job_not_found');
      expect((await emitAck(s, 'message:cancel', { sessionId: data.sessionId, jobId: 'nope' })).error.code).toBe('validation_failed');
      const ack = await emitAck(s, 'message:cancel', { sessionId: data.sessionId, jobId: sent.data.jobId });
      expect(ack).toMatchObject({ ok: true, data: { jobId: sent.data.jobId, status: 'cancelled' } });
      await until(() => seen.some((r) => r.event === 'message:done'), 20_000, 'message:done');
      const done = seen.find((r) => r.event === 'message:done')!.data.message;
      expect(done).toMatchObject({ status: 'failed', error: { code: 'cancelled' } });
      expect((await emitAck(s, 'message:cancel', { sessionId: data.sessionId, jobId: sent.data.jobId })).error.code).toBe('job_finished');
      // The session is free again.
      hub.config.studio.local.tokenDelayMs = 2;
      expect((await emitAck(s, 'message:send', { sessionId: data.sessionId, text: 'again', generationType: 'text', style: 'anime', aspectRatio: '1:1' })).ok).toBe(true);
    } finally {
      hub.config.studio.local.tokenDelayMs = 2;
    }
  }, 60_000);

  it('composes an ad image from an uploaded photo through POST /generate', async () => {
    const photo = await makePng(300, 200);
    const part = (data: Buffer): Part => ({ name: 'image', filename: 'p.png', type: 'image/png', data });
    const s = await open(alice.token);
    const res = await upload(hub.url, '/api/v1/generate', alice.token, [
      { name: 'input_text', value: '여름 한정 아이스 커피 광고' },
      { name: 'generation_type', value: 'image' },
      { name: 'aspect_ratio', value: '9:16' },
      { name: 'style', value: 'semi_realistic' },
      { name: 'keywords', value: '아이스,여름' },
      part(photo),
    ]);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ status: 'queued' });
    const seen = record(s);
    const opened = await emitAck(s, 'session:open', { sessionId: res.body.session_id });
    await until(async () => seen.some((r) => r.event === 'message:done') || (await api(hub.url, 'GET', `/api/v1/chat/sessions/${res.body.session_id}/messages`, { token: alice.token })).body.items.length === 2, 30_000, 'image reply');
    expect(opened.ok).toBe(true);
    const msgs = await api(hub.url, 'GET', `/api/v1/chat/sessions/${res.body.session_id}/messages`, { token: alice.token });
    const [reply, mine] = msgs.body.items;
    expect(mine.image.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(reply.image.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(reply.content).toMatch(/아이스|여름/);
    const img = await fetch(hub.url + reply.image.url);
    expect(img.status).toBe(200);
    const meta = await sharp(Buffer.from(await img.arrayBuffer())).metadata();
    expect(meta.width! / meta.height!).toBeCloseTo(9 / 16, 2);
    const gens = await api(hub.url, 'GET', `/api/v1/generations?session_id=${res.body.session_id}&content_type=image`, { token: alice.token });
    expect(gens.body.items[0]).toMatchObject({ job_id: res.body.job_id, aspect_ratio: '9:16', style: 'semi_realistic', status: 'completed', model: 'local-template', keywords: ['아이스', '여름'] });
    expect(gens.body.items[0].seed).toEqual(expect.any(Number));
    expect(gens.body.items[0].industry).toBe('food_beverage');
    expect(gens.body.items[0].input_image.sha256).toBe(mine.image.sha256);
    // The attached photo may be named by hash later; someone else's hash may not.
    const again = await emitAck(s, 'message:send', { sessionId: res.body.session_id, text: 'same photo, square', generationType: 'image', style: 'anime', aspectRatio: '1:1', imageSha256: mine.image.sha256 });
    expect(again.ok).toBe(true);
    const bobSocket = await open(bob.token);
    const bobSession = await emitAck(bobSocket, 'session:open', {});
    const stolen = await emitAck(bobSocket, 'message:send', { sessionId: bobSession.data.sessionId, text: 'x', generationType: 'image', style: 'anime', aspectRatio: '1:1', imageSha256: mine.image.sha256 });
    expect(stolen).toMatchObject({ ok: false, error: { code: 'image_not_found' } });
  }, 60_000);

  it('refuses bad input with clear errors and queues nothing', async () => {
    const count = async () => Number((await hub.orm.em.fork().execute<{ n: string }[]>('select count(*) as n from studio_generations'))[0]!.n);
    const before = await count();
    const s = await open(alice.token);
    const { data } = await emitAck(s, 'session:open', {});
    const base = { sessionId: data.sessionId, text: 'coffee', generationType: 'text', style: 'anime', aspectRatio: '1:1' };
    const bad: [string, unknown][] = [
      ['no text', { ...base, text: undefined }],
      ['blank text', { ...base, text: '   ' }],
      ['unknown style', { ...base, style: 'watercolour' }],
      ['unknown ratio', { ...base, aspectRatio: '2:1' }],
      ['unknown type', { ...base, generationType: 'video' }],
      ['unknown field', { ...base, evil: true }],
      ['session not a uuid', { ...base, sessionId: 'undefined' }],
      ['bad hash', { ...base, imageSha256: 'abc' }],
      ['NUL in text', { ...base, text: 'a\u0000b' }],
      ['not an object', 'hello'],
      ['huge keywords', { ...base, keywords: Array.from({ length: 50 }, () => 'k') }],
    ];
    for (const [what, payload] of bad) {
      const ack = await emitAck(s, 'message:send', payload);
      expect(ack.ok, what).toBe(false);
      expect(ack.error.code, what).toBe('validation_failed');
    }
    expect((await emitAck(s, 'message:send', { ...base, segmentId: 999999 })).error.code).toBe('segment_not_found');
    expect((await emitAck(s, 'message:send', { ...base, sessionId: '7d1b7b5e-1111-4111-8111-111111111111' })).error.code).toBe('session_not_found');
    expect((await emitAck(s, 'message:send', { ...base, provider: 'openai' })).error.code).toBe('provider_not_configured');
    const notImage = await upload(hub.url, '/api/v1/generate', alice.token, [{ name: 'input_text', value: 'x' }, { name: 'image', filename: 'a.png', type: 'image/png', data: Buffer.from('definitely not an image') }]);
    expect(notImage.status).toBe(415);
    const noText = await upload(hub.url, '/api/v1/generate', alice.token, [{ name: 'generation_type', value: 'text' }]);
    expect(noText.status).toBe(422);
    const openai = await upload(hub.url, '/api/v1/generate', alice.token, [{ name: 'input_text', value: 'x' }, { name: 'provider', value: 'openai' }]);
    expect(openai.status).toBe(503);
    expect(openai.body.code).toBe('provider_not_configured');
    expect((await upload(hub.url, '/api/v1/generate', undefined, [{ name: 'input_text', value: 'x' }])).status).toBe(401);
    expect(await count()).toBe(before);
    // One reply at a time per session.
    hub.config.studio.local.tokenDelayMs = 30;
    try {
      expect((await emitAck(s, 'message:send', base)).ok).toBe(true);
      expect((await emitAck(s, 'message:send', base)).error.code).toBe('session_busy');
    } finally {
      hub.config.studio.local.tokenDelayMs = 2;
    }
  });

  it('keeps costs, segments and analytics', async () => {
    const seg = await api(hub.url, 'POST', '/api/v1/segments', { token: alice.token, json: { name: '2030 여성', description: '20-30대 여성', criteria: { age_range: '20-30', gender: 'female' } } });
    expect(seg.status).toBe(201);
    expect((await api(hub.url, 'POST', '/api/v1/segments', { token: alice.token, json: { name: '' } })).status).toBe(422);
    expect((await api(hub.url, 'POST', '/api/v1/segments', { token: alice.token, json: { name: 'x', criteria: 'nope' } })).status).toBe(422);
    expect((await api(hub.url, 'GET', '/api/v1/segments', { token: alice.token })).body.segments.map((x: { id: number }) => x.id)).toContain(seg.body.id);
    expect((await api(hub.url, 'GET', '/api/v1/segments', { token: bob.token })).body.segments).toHaveLength(0);
    const s = await open(alice.token);
    const { data } = await emitAck(s, 'session:open', {});
    await until(async () => (await api(hub.url, 'GET', '/api/v1/generations?limit=100', { token: alice.token })).body.items.every((g: { status: string }) => g.status !== 'queued'), 30_000, 'earlier replies');
    const { ack, done } = await converse(s, data.sessionId, { segmentId: seg.body.id, text: 'Gym membership ad' });
    expect(done.message.content).toContain('2030 여성');
    const post = (kind: string, id: string, token = alice.token) => api(hub.url, 'POST', '/api/v1/analytics/events', { token, json: { job_id: ack.jobId, kind, client_event_id: id } });
    expect((await post('impression', 'e1')).status).toBe(201);
    expect((await post('impression', 'e1')).status).toBe(200); // a repeat counts once
    for (let i = 2; i <= 10; i++) await post('impression', `e${i}`);
    await post('click', 'c1');
    await post('click', 'c2');
    await post('conversion', 'v1');
    expect((await post('share', 'x')).status).toBe(422);
    expect((await api(hub.url, 'POST', '/api/v1/analytics/events', { token: alice.token, json: { job_id: '7d1b7b5e-1111-4111-8111-111111111111', kind: 'click', client_event_id: 'z' } })).status).toBe(404);
    const ov = await api(hub.url, 'GET', '/api/v1/analytics/overview', { token: alice.token });
    expect(ov.body).toMatchObject({ total_impressions: 10, total_clicks: 2, total_conversions: 1, avg_ctr: 20, avg_conversion_rate: 50 });
    expect(ov.body.segments).toEqual([expect.objectContaining({ segment_id: seg.body.id, name: '2030 여성', total_ads: 1, total_impressions: 10, avg_ctr: 20 })]);
    expect((await api(hub.url, 'GET', '/api/v1/analytics/overview', { token: bob.token })).body.total_impressions).toBe(0);
    // Costs: the summary equals the sum of the history; local work costs nothing but records its tokens.
    const summary = (await api(hub.url, 'GET', '/api/v1/costs/summary', { token: alice.token })).body;
    const history = (await api(hub.url, 'GET', '/api/v1/costs/history?limit=500', { token: alice.token })).body;
    expect(history.total).toBe(summary.total_jobs);
    expect(summary.total_cost).toBeCloseTo(history.history.reduce((n: number, h: { estimated_cost: number }) => n + h.estimated_cost, 0), 10);
    expect(summary.completion_tokens).toBe(history.history.reduce((n: number, h: { completion_tokens: number }) => n + h.completion_tokens, 0));
    expect(summary.completion_tokens).toBeGreaterThan(0);
    expect(summary.cost_by_model).toHaveProperty('local-template');
    expect(history.history.every((h: { user_id: number }) => h.user_id === alice.userId)).toBe(true);
    expect((await api(hub.url, 'GET', '/api/v1/costs/summary?job_type=image', { token: alice.token })).body.text_jobs).toBe(0);
    expect((await api(hub.url, 'DELETE', `/api/v1/segments/${seg.body.id}`, { token: bob.token })).status).toBe(404);
    expect((await api(hub.url, 'DELETE', `/api/v1/segments/${seg.body.id}`, { token: alice.token })).status).toBe(204);
    expect((await api(hub.url, 'GET', '/api/v1/costs/summary', { token: (await guestToken()) })).status).toBe(403);
  }, 60_000);

  it('documents the routes and the /studio events', async () => {
    const doc = (await api(hub.url, 'GET', '/openapi.json')).body;
    for (const p of ['/api/v1/chat/sessions', '/api/v1/chat/sessions/{id}/messages', '/api/v1/generate', '/api/v1/generations', '/api/v1/segments', '/api/v1/segments/{id}', '/api/v1/costs/summary', '/api/v1/costs/history', '/api/v1/analytics/overview', '/api/v1/analytics/events']) {
      expect(doc.paths[p], p).toBeDefined();
    }
    const asyncDoc = JSON.stringify((await api(hub.url, 'GET', '/asyncapi.json')).body);
    for (const e of ['session:open', 'message:send', 'message:delta', 'message:done']) expect(asyncDoc).toContain(e);
  });
});
