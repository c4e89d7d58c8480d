import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.js';
import { startWorker, type RunningWorker } from '../../src/worker/worker.start.js';
import { startChildHub, type ChildHub } from '../helpers/child-hub.js';
import { api, connectSocket, emitAck } from '../helpers/clients.js';
import { createTestDatabase, REDIS_URL, type TestDatabase } from '../helpers/db.js';
import { newRedisPrefix, startTestHub, type TestHub } from '../helpers/hub.js';
import { until } from '../helpers/jobs.js';

/**
 * Two hubs sharing PostgreSQL and Redis, the worker on B, the guest on A: the reply's deltas (relayed by B)
 * reach A through the adapter with the session's seq; the guest drops mid-reply, reconnects to B with
 * `since`, and gets what it missed from the shared stream: with the live pushes, every seq is there (a piece
 * pushed while the replay is read may come both ways; the client keeps one per seq).
 */

type Rec = { event: string; data: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('ad studio across two hubs', () => {
  let db: TestDatabase;
  let a: TestHub;
  let b: ChildHub;
  let worker: RunningWorker;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const prefix = newRedisPrefix();
    // B in its own process (two uWS hubs cannot share one: socket.io patches its adapter per process).
    b = await startChildHub({ env: { HTTP_ENGINE: 'uws', DATABASE_URL: db.url, REDIS_URL, EASEL__REDIS__KEY_PREFIX: prefix, EASEL__SERVER__SHUTDOWN_GRACE_MS: '1000' } });
    a = await startTestHub({ dbUrl: db.url, redis: prefix, overrides: { studio: { local: { tokenDelayMs: 40 } } } });
    // The worker (this process) connects to B only.
    const { token } = await a.app.tokens.issueWorker('studio-nodes-worker');
    worker = await startWorker(a.config, { logger: createLogger('silent', 'test-worker'), hubUrl: b.url, token });
    await worker.connection.ready();
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    await worker?.stop(1000);
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  it('relays deltas from the worker’s node and recovers missed ones on the other node', async () => {
    const token = (await api(a.url, 'POST', '/api/v1/auth/guest')).body.access_token as string;
    const onA = await connectSocket(a.url, '/studio', token);
    sockets.push(onA);
    const first: Rec[] = [];
    for (const e of ['message:delta', 'job:progress']) onA.on(e, (data: unknown) => first.push({ event: e, data }));
    const { data } = await emitAck(onA, 'session:open', {});
    const sent = await emitAck(onA, 'message:send', { sessionId: data.sessionId, text: '주말 브런치 카페 광고', generationType: 'image', style: 'anime', aspectRatio: '4:3', keywords: ['브런치'] });
    expect(sent.ok, JSON.stringify(sent)).toBe(true);
    await until(() => first.filter((r) => r.event === 'message:delta').length >= 4, 20_000, 'deltas on A');
    onA.close();
    const before = first.filter((r) => r.event === 'message:delta').map((r) => r.data);
    expect(before.map((d) => d.seq)).toEqual(before.map((_, i) => i + 1));
    expect(first.some((r) => r.event === 'job:progress' && r.data.stage === 'generating')).toBe(true);
    await new Promise((r) => setTimeout(r, 200));

    const onB = await connectSocket(b.url, '/studio', token);
    sockets.push(onB);
    const live: Rec[] = [];
    for (const e of ['message:delta', 'message:done']) onB.on(e, (d: unknown) => live.push({ event: e, data: d }));
    const back = await emitAck(onB, 'session:open', { sessionId: data.sessionId, since: before[before.length - 1].seq });
    expect(back.ok).toBe(true);
    expect(back.data.recovered).toBe(true);
    const replayed: Rec[] = back.data.events;
    await until(() => [...replayed, ...live].some((r) => r.event === 'message:done'), 30_000, 'message:done');
    const all = [...before, ...replayed.filter((r) => r.event === 'message:delta').map((r) => r.data), ...live.filter((r) => r.event === 'message:delta').map((r) => r.data)];
    // A piece pushed between joining the room and reading the history comes both ways: the client keeps
    // one per seq (the same piece), and no seq is missing.
    const bySeq = new Map<number, string>();
    for (const d of all) {
      if (bySeq.has(d.seq)) expect(bySeq.get(d.seq)).toBe(d.text);
      bySeq.set(d.seq, d.text);
    }
    const seqs = [...bySeq.keys()].sort((x, y) => x - y);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const done = [...replayed, ...live].find((r) => r.event === 'message:done')!.data;
    expect(done.seq).toBe(seqs.length + 1);
    expect(seqs.map((q) => bySeq.get(q)).join('')).toBe(done.message.content);
    expect(done.message.image.sha256).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);
});
