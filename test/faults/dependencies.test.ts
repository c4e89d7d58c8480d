import type { Socket } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { startChildHub, type ChildHub } from '../helpers/child-hub.js';
import { api, connectSocket, emitAck, nextEvent, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { makePng } from '../../src/modules/media/test-fixtures.js';
import { upload } from '../helpers/multipart.js';
import { startOwnPostgres, type OwnPostgres } from '../helpers/own-postgres.js';
import { startOwnRedis, type OwnRedis } from '../helpers/own-redis.js';
import { record, sleep, timed, waitFor } from './record.js';

/**
 * Operational behaviour when a dependency goes away (issue 11, item 3), against a Redis and a PostgreSQL of
 * this file's own (never the shared ones): Redis down: the hub keeps serving (reads, sign-in, sockets, local
 * pushes), never crashes on the adapter's failed publishes, and cross-node broadcasts resume when Redis is
 * back. PostgreSQL down: requests and socket events fail fast with 503 / an `*_unavailable` ack, never hang,
 * and succeed again once it is back.
 */
const UNAVAILABLE = /^db_unavailable$/;

describe('Redis outage: two nodes keep serving and broadcasts resume', () => {
  let redis: OwnRedis;
  let db: TestDatabase;
  let a: TestHub;
  let b: ChildHub;
  const open: Socket[] = [];
  const rejections: unknown[] = [];
  const onRejection = (r: unknown) => rejections.push(r);

  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    for (const s of open) s.close();
    await b?.stop();
    await a?.stop();
    await redis?.stop();
    await db?.drop();
  });

  it('serves reads, sign-in, sockets and local pushes while Redis is down; cross-node pushes resume after', async () => {
    process.on('unhandledRejection', onRejection);
    redis = await startOwnRedis();
    db = await createTestDatabase();
    a = await startTestHub({ dbUrl: db.url, overrides: { redis: { url: redis.url } } });
    b = await startChildHub({ env: { DATABASE_URL: db.url, REDIS_URL: redis.url, EASEL__REDIS__KEY_PREFIX: a.config.redis.keyPrefix } });
    const user = await registerAndLogin(a.url, 'redis_down_user');
    const owner = await registerAndLogin(a.url, 'redis_down_owner');
    const image = await upload(a.url, '/api/v1/images', owner.token, [{ name: 'prompt', value: 'p' }, { name: 'file', filename: 'a.png', type: 'image/png', data: await makePng(10, 10) }]);
    expect(image.status).toBe(201);
    const onA = await connectSocket(a.url, '/', user.token);
    const onB = await connectSocket(b.url, '/', user.token);
    open.push(onA, onB);
    await sleep(150); // the adapter subscribes to the room's channel asynchronously
    const first = nextEvent(onB, 'test:ping');
    a.app.notifier.toUser(user.userId, 'test:ping', { n: 1 });
    expect(await first).toEqual({ n: 1 });

    await redis.stop();
    const downAt = Date.now();
    // Reads, sign-in (its rate limit falls back to this node's counters) and the socket paths all answer.
    expect((await timed(() => api(a.url, 'GET', '/api/v1/images'))).value.status).toBe(200);
    const signIn = await timed(() => api(a.url, 'POST', '/api/v1/auth/token', { json: { username: 'redis_down_user', password: 'correct-horse-battery' } }));
    expect(signIn.value.status).toBe(200);
    expect(signIn.ms).toBeLessThan(5000);
    expect((await api(b.url, 'GET', '/api/v1/auth/me', { token: user.token })).status).toBe(200);
    const fresh = await connectSocket(a.url, '/', signIn.value.body.access_token as string);
    open.push(fresh);
    expect(await emitAck(fresh, 'job:watch', { jobId: '00000000-0000-4000-8000-000000000000' })).toMatchObject({ ok: false, error: { code: expect.stringMatching(/not_found|forbidden/) } });
    const ready = await api(a.url, 'GET', '/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.redis).not.toBe('ok');
    expect((await api(a.url, 'GET', '/health')).status).toBe(200);

    // Broadcasts while down: this node's sockets get them, the other node's cannot (pub/sub is at most once).
    let sentWhileDownSeenOnB = 0;
    onB.on('test:ping', (p: { n: number }) => {
      if (p.n === 2) sentWhileDownSeenOnB++;
    });
    const local = nextEvent(onA, 'test:ping');
    a.app.notifier.toUser(user.userId, 'test:ping', { n: 2 });
    expect(await local).toEqual({ n: 2 });
    // B broadcasts too (a like pushes image:likes through its adapter); its failed publish must not end it.
    expect((await api(b.url, 'PUT', `/api/v1/images/${image.body.id}/like`, { token: user.token })).status).toBeLessThan(300);
    // ioredis rejects queued publishes after maxRetriesPerRequest reconnect attempts (about a second here).
    await sleep(2500);
    expect((await api(b.url, 'GET', '/health')).status).toBe(200);
    expect(rejections).toEqual([]);
    const downMs = Date.now() - downAt;

    await redis.start();
    const back = Date.now();
    await waitFor(async () => (await api(a.url, 'GET', '/ready')).status === 200 && (await api(b.url, 'GET', '/ready')).status === 200, 20_000, 'both nodes ready');
    const readyMs = Date.now() - back;
    // Cross-node pushes resume once both adapters have resubscribed.
    let n = 100;
    let got = false;
    onB.on('test:ping', (p: { n: number }) => {
      if (p.n >= 100) got = true;
    });
    await waitFor(() => {
      a.app.notifier.toUser(user.userId, 'test:ping', { n: n++ });
      return got;
    }, 20_000, 'a push from A on B after Redis returned');
    const broadcastMs = Date.now() - back;
    expect(onB.connected && onA.connected).toBe(true);
    record({
      fault: 'Redis down ~' + Math.round(downMs / 1000) + ' s, then restarted (empty)',
      lost: `cross-node pushes sent while down (${sentWhileDownSeenOnB} of 1 seen on B: pub/sub is at most once; streams resume with since); nothing durable`,
      recovery: `/ready 200 on both nodes after ${readyMs} ms; cross-node push after ${broadcastMs} ms`,
      notes: 'reads, sign-in, socket connects and acks served throughout; no unhandled rejection on either node',
    });
  }, 60_000);
});

describe('PostgreSQL outage: fail fast with 503, recover after', () => {
  let pg: OwnPostgres;
  let hub: TestHub;
  const open: Socket[] = [];

  afterAll(async () => {
    for (const s of open) s.close();
    await hub?.stop();
    await pg?.destroy();
  });

  it('answers 503 (HTTP) and *_unavailable (acks) quickly while down, and serves again once it is back', async () => {
    pg = await startOwnPostgres();
    hub = await startTestHub({ dbUrl: pg.url, redis: true });
    const user = await registerAndLogin(hub.url, 'pg_down_user');
    const tournament = await connectSocket(hub.url, '/tournament', user.token);
    open.push(tournament);

    await pg.stop();
    const downAt = Date.now();
    const reads = [
      () => api(hub.url, 'GET', '/api/v1/images'),
      () => api(hub.url, 'GET', '/api/v1/leaderboard'),
      () => api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'pg_down_user', password: 'correct-horse-battery' } }),
      () => api(hub.url, 'POST', '/api/v1/auth/register', { json: { username: 'pg_down_new', password: 'correct-horse-battery' } }),
    ];
    let slowest = 0;
    const codes = new Set<string>();
    for (const read of reads) {
      const { value: res, ms } = await timed(read);
      slowest = Math.max(slowest, ms);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.headers.get('retry-after')).toBe('2');
      expect(res.body.code).toMatch(UNAVAILABLE);
      codes.add(res.body.code as string);
    }
    // Never hang: the pool's connect timeout (5 s) bounds even an unreachable server; refused is immediate.
    expect(slowest).toBeLessThan(6000);
    const ack = await timed(() => emitAck(tournament, 'match:next', {}));
    expect(ack.value).toMatchObject({ ok: false, error: { code: expect.stringMatching(UNAVAILABLE) } });
    expect((await api(hub.url, 'GET', '/health')).status).toBe(200);
    const ready = await api(hub.url, 'GET', '/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.db).not.toBe('ok');

    await sleep(500);
    const downMs = Date.now() - downAt;
    await pg.start();
    const back = Date.now();
    await waitFor(async () => (await api(hub.url, 'GET', '/api/v1/images')).status === 200, 20_000, 'reads after PostgreSQL returned');
    const recoveredMs = Date.now() - back;
    expect((await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'pg_down_user', password: 'correct-horse-battery' } })).status).toBe(200);
    expect((await emitAck(tournament, 'match:next', {})).error?.code ?? 'ok').not.toMatch(UNAVAILABLE);
    expect((await api(hub.url, 'GET', '/ready')).status).toBe(200);
    record({
      fault: `PostgreSQL stopped ~${Math.round(downMs / 100) / 10} s (fast shutdown), then restarted`,
      lost: `nothing: every request while down got 503 + Retry-After (codes ${[...codes].join(', ')}) or an unavailable ack; none hung`,
      recovery: `slowest answer while down ${slowest} ms; first 200 read ${recoveredMs} ms after restart`,
      notes: 'socket stayed connected throughout; /health 200 and /ready 503 while down',
    });
  }, 60_000);
});
