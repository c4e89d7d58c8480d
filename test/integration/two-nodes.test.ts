import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, REDIS_URL, type TestDatabase } from '../helpers/db.js';
import { newRedisPrefix, startTestHub, type TestHub } from '../helpers/hub.js';
import { api, connectSocket, nextEvent, registerAndLogin } from '../helpers/clients.js';
import { startChildHub, type ChildHub } from '../helpers/child-hub.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The token limit gets a long window so a fixed-window rollover cannot reset it mid-test.
const TOKEN_LIMIT = { limit: 10, windowSeconds: 600 };

function startNodeB(engine: 'uws' | 'node', dbUrl: string, prefix: string): Promise<ChildHub> {
  return startChildHub({
    env: {
      HTTP_ENGINE: engine,
      DATABASE_URL: dbUrl,
      REDIS_URL,
      EASEL__REDIS__KEY_PREFIX: prefix,
      EASEL__RATE_LIMITS__TOKEN: JSON.stringify(TOKEN_LIMIT),
      EASEL__SERVER__SHUTDOWN_GRACE_MS: '2000',
    },
  });
}

// Two hubs on loopback sharing one database and one Redis key prefix: what a load balancer would front.
describe.each([
  ['uws', 'uws'],
  ['uws', 'node'],
  ['node', 'uws'],
] as const)('two nodes (A %s in-process, B %s process)', (engineA, engineB) => {
  let db: TestDatabase;
  let a: TestHub;
  let b: ChildHub;
  const open: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const prefix = newRedisPrefix();
    a = await startTestHub({ dbUrl: db.url, engine: engineA, redis: prefix, overrides: { rateLimits: { token: TOKEN_LIMIT } } });
    b = await startNodeB(engineB, db.url, prefix);
  });
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await db?.drop();
  });

  it('B serves on the requested engine', async () => {
    expect((await api(b.url, 'GET', '/health')).body.engine).toBe(engineB);
    expect((await api(b.url, 'GET', '/ready')).body).toMatchObject({ status: 'ready', checks: { db: 'ok', redis: 'ok' } });
  });

  it('delivers a push made on A to the user sockets on B (and on A), and to nobody else', async () => {
    const user = await registerAndLogin(a.url, `xnode_${engineA}_${engineB}`);
    const other = await registerAndLogin(b.url, `xnode_other_${engineA}_${engineB}`);
    const onB = await connectSocket(b.url, '/', user.token);
    const onBPolling = await connectSocket(b.url, '/', user.token, ['polling']);
    const onA = await connectSocket(a.url, '/', user.token);
    const otherOnB = await connectSocket(b.url, '/', other.token);
    open.push(onB, onBPolling, onA, otherOnB);
    let leaked = 0;
    otherOnB.on('test:ping', () => leaked++);
    let dupes = 0;
    onB.on('test:ping', () => dupes++);
    // The adapter subscribes to a room's Redis channel asynchronously after the join.
    await sleep(150);
    const all = Promise.all([nextEvent(onB, 'test:ping'), nextEvent(onBPolling, 'test:ping'), nextEvent(onA, 'test:ping')]);
    a.app.notifier.toUser(user.userId, 'test:ping', { from: 'A', n: 1 });
    expect(await all).toEqual([
      { from: 'A', n: 1 },
      { from: 'A', n: 1 },
      { from: 'A', n: 1 },
    ]);
    await sleep(150);
    expect(leaked).toBe(0);
    expect(dupes).toBe(1);
  });

  it('counts a per-IP HTTP rate limit across nodes', async () => {
    const attempt = (base: string) => api(base, 'POST', '/api/v1/auth/token', { json: { username: 'nobody_here', password: 'wrong-password-1' } });
    // Loopback is one IP for both nodes; a node-local counter on B would stay far below the limit.
    expect((await attempt(b.url)).status).toBe(401);
    let statusA = 0;
    for (let i = 0; i < TOKEN_LIMIT.limit + 2 && statusA !== 429; i++) statusA = (await attempt(a.url)).status;
    expect(statusA).toBe(429);
    const onB = await attempt(b.url);
    expect(onB.status).toBe(429);
    expect(onB.headers.get('content-type')).toContain('application/problem+json');
    expect(onB.body).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(Number(onB.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
