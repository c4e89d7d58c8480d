import { io as ioClient, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.js';
import { mountNamespace } from '../../src/transport/socket/namespace.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { newRedisPrefix, startTestHub, type TestHub } from '../helpers/hub.js';
import { api, connectSocket, registerAndLogin } from '../helpers/clients.js';

type ConnectError = Error & { data?: { code?: string; retryAfter?: number; limit?: number } };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LOGIN_LIMITS = { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 } };

/** The connect_error of a refused handshake; fails the test if the socket connects. */
function refusal(url: string, namespace: string, token: string | undefined, headers?: Record<string, string>): Promise<ConnectError> {
  return new Promise((resolve, reject) => {
    const s = ioClient(url + namespace, { auth: token === undefined ? {} : { token }, transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: headers });
    s.once('connect', () => (s.close(), reject(new Error('handshake unexpectedly accepted'))));
    s.once('connect_error', (err: ConnectError) => (s.close(), resolve(err)));
  });
}

function connectWith(url: string, token: string, headers: Record<string, string>): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = ioClient(`${url}/`, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: headers });
    s.once('connect', () => resolve(s));
    s.once('connect_error', (err) => (s.close(), reject(err)));
  });
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(20);
  }
}

describe.each(['uws', 'node'] as const)('sockets per identity on %s', (engine) => {
  const MAX = 3;
  let db: TestDatabase;
  let hub: TestHub;
  const open: Socket[] = [];
  const track = (s: Socket) => (open.push(s), s);
  let slowConnections = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, engine, redis: true, overrides: { rateLimits: LOGIN_LIMITS, sockets: { maxPerIdentity: MAX } } });
    // A second namespace sharing the hub's admission, whose authentication takes 300 ms so a client can
    // leave mid-handshake on purpose.
    const nsp = mountNamespace(
      { name: '/slow', access: 'actor', summary: 'test only', pushes: [], events: [] },
      {
        io: hub.app.io,
        orm: hub.orm,
        authenticate: async (token: string) => {
          await sleep(300);
          return hub.app.identity.authenticate(hub.orm.em.fork(), token);
        },
        metrics: hub.app.metrics,
        logger: createLogger('silent'),
        eventLimit: () => hub.config.rateLimits.socketEvents,
        admission: hub.app.admission,
      },
    );
    nsp.on('connection', () => slowConnections++);
  });
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  it('refuses the socket past the cap with too_many_sockets, leaves other users alone, and frees a slot on close', async () => {
    const alice = await registerAndLogin(hub.url, `cap_a_${engine}`);
    const bob = await registerAndLogin(hub.url, `cap_b_${engine}`);
    const sockets = [];
    for (let i = 0; i < MAX; i++) sockets.push(track(await connectSocket(hub.url, '/', alice.token)));
    const err = await refusal(hub.url, '/', alice.token);
    expect(err.data).toEqual({ code: 'too_many_sockets', limit: MAX });
    expect(err.message).toMatch(/holds 3 sockets on this node.*close one/);
    // A refused handshake took no slot.
    expect(hub.app.admission.count(`user:${alice.userId}`)).toBe(MAX);
    // Bob is another identity with his own slots.
    track(await connectSocket(hub.url, '/', bob.token));

    sockets[0]!.close();
    await until(() => hub.app.admission.count(`user:${alice.userId}`) === MAX - 1);
    const again = track(await connectSocket(hub.url, '/', alice.token));
    expect(again.connected).toBe(true);
    expect((await refusal(hub.url, '/', alice.token)).data?.code).toBe('too_many_sockets');
    // Operators see refusals by code.
    const metrics = await api(hub.url, 'GET', '/metrics');
    expect(metrics.body).toMatch(/easel_errors_total\{[^}]*code="too_many_sockets"[^}]*\} [1-9]/);
  });

  it('counts namespace sockets across namespaces, including ones multiplexed over one connection', async () => {
    const carol = await registerAndLogin(hub.url, `cap_c_${engine}`);
    const root = track(await connectSocket(hub.url, '/', carol.token));
    // Same engine.io connection, second namespace: a slot of its own.
    const slow = track(root.io.socket('/slow', { auth: { token: carol.token } }));
    await new Promise<void>((r) => slow.once('connect', () => r()));
    track(await connectSocket(hub.url, '/slow', carol.token));
    expect(hub.app.admission.count(`user:${carol.userId}`)).toBe(3);
    expect((await refusal(hub.url, '/', carol.token)).data?.code).toBe('too_many_sockets');
    expect((await refusal(hub.url, '/slow', carol.token)).data?.code).toBe('too_many_sockets');
    slow.disconnect(); // leaves /slow only; the connection stays for /
    await until(() => hub.app.admission.count(`user:${carol.userId}`) === 2);
    expect(root.connected).toBe(true);
    track(await connectSocket(hub.url, '/', carol.token));
  });

  it('applies the cap to guests by guest id', async () => {
    const guest = await api(hub.url, 'POST', '/api/v1/auth/guest');
    for (let i = 0; i < MAX; i++) track(await connectSocket(hub.url, '/', guest.body.access_token));
    expect((await refusal(hub.url, '/', guest.body.access_token)).data?.code).toBe('too_many_sockets');
    const other = await api(hub.url, 'POST', '/api/v1/auth/guest');
    track(await connectSocket(hub.url, '/', other.body.access_token));
  });

  it('frees the slot of a client that leaves mid-handshake (socket.io drops it without a disconnect event)', async () => {
    const dave = await registerAndLogin(hub.url, `cap_d_${engine}`);
    const before = slowConnections;
    for (let i = 0; i < MAX + 2; i++) {
      const s = ioClient(`${hub.url}/slow`, { auth: { token: dave.token }, transports: ['websocket'], forceNew: true, reconnection: false });
      // The CONNECT packet is out once the transport is open; leave while the server still authenticates.
      s.io.once('open', () => setTimeout(() => s.close(), 50));
    }
    await sleep(600);
    expect(slowConnections).toBe(before); // every one of them was dropped, none connected
    await until(() => hub.app.admission.count(`user:${dave.userId}`) === 0);
    for (let i = 0; i < MAX; i++) track(await connectSocket(hub.url, '/', dave.token));
  });

  it('documents both refusals in /asyncapi.json', async () => {
    const doc = await api(hub.url, 'GET', '/asyncapi.json');
    const description: string = doc.body.channels[Object.keys(doc.body.channels)[0]!].description;
    expect(description).toMatch(/too_many_sockets.*data\.limit/);
    expect(description).toMatch(/rate_limited.*data\.retryAfter/);
  });

  it('refuses before counting when the token is bad, so a bad token never takes a slot', async () => {
    expect((await refusal(hub.url, '/', 'not.a.jwt')).data?.code).toBe('token_malformed');
    expect((await refusal(hub.url, '/', undefined)).data?.code).toBe('token_missing');
    const { token } = await hub.app.tokens.issueWorker('w-cap');
    expect((await refusal(hub.url, '/', token)).data?.code).toBe('forbidden');
    expect(hub.app.admission.count('worker:w-cap')).toBe(0);
  });
});

describe('handshake attempts per IP', () => {
  const LIMIT = { limit: 5, windowSeconds: 2 };
  let db: TestDatabase;
  let a: TestHub;
  let b: TestHub;
  let token: string;
  const open: Socket[] = [];
  const track = (s: Socket) => (open.push(s), s);

  beforeAll(async () => {
    db = await createTestDatabase();
    const prefix = newRedisPrefix();
    const overrides = { rateLimits: { ...LOGIN_LIMITS, socketHandshake: LIMIT }, sockets: { maxPerIdentity: 100 } };
    // Two nodes on one Redis prefix. Node engine: socket.io's uWS integration patches the adapter prototype
    // process-wide, so a uWS hub cannot share this process with another live hub.
    a = await startTestHub({ dbUrl: db.url, engine: 'node', redis: prefix, overrides });
    b = await startTestHub({ dbUrl: db.url, engine: 'node', redis: prefix, overrides });
    token = (await registerAndLogin(a.url, 'burst_user')).token;
  });
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await db?.drop();
  });

  it('refuses a burst past the limit with rate_limited on every node, then admits after the window', async () => {
    await sleep(LIMIT.windowSeconds * 1000); // start on a fresh window
    // Attempts count whether or not they carry a token: a token-less flood is throttled too.
    expect((await refusal(a.url, '/', undefined)).data?.code).toBe('token_missing');
    const results = await Promise.allSettled(Array.from({ length: LIMIT.limit + 3 }, (_, i) => connectSocket(i % 2 ? a.url : b.url, '/', token)));
    for (const r of results) if (r.status === 'fulfilled') track(r.value);
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as ConnectError);
    expect(results.length - refused.length).toBe(LIMIT.limit - 1);
    expect(refused).toHaveLength(4);
    for (const err of refused) {
      expect(err.data?.code).toBe('rate_limited');
      expect(err.data?.retryAfter).toBeGreaterThanOrEqual(1);
      expect(err.data?.retryAfter).toBeLessThanOrEqual(LIMIT.windowSeconds);
      expect(err.message).toMatch(/retry in \d+s/);
    }
    // The limit is shared through Redis: node B refuses too.
    expect((await refusal(b.url, '/', token)).data?.code).toBe('rate_limited');
    await sleep(LIMIT.windowSeconds * 1000 + 100);
    expect(track(await connectSocket(b.url, '/', token)).connected).toBe(true);
    expect(track(await connectSocket(a.url, '/', token)).connected).toBe(true);
  });

  it('ignores X-Forwarded-For unless the peer is a trusted proxy, so a spoofed header cannot dodge the limit', async () => {
    await sleep(LIMIT.windowSeconds * 1000);
    for (let i = 0; i < LIMIT.limit; i++) track(await connectWith(a.url, token, { 'x-forwarded-for': `10.0.0.${i}` }));
    expect((await refusal(a.url, '/', token, { 'x-forwarded-for': '10.0.0.99' })).data?.code).toBe('rate_limited');
  });

});

describe('handshake attempts per IP behind a trusted proxy (uws)', () => {
  const LIMIT = { limit: 5, windowSeconds: 2 };
  let db: TestDatabase;
  let proxied: TestHub;
  let token: string;
  const open: Socket[] = [];
  const track = (s: Socket) => (open.push(s), s);

  beforeAll(async () => {
    db = await createTestDatabase();
    const overrides = { rateLimits: { ...LOGIN_LIMITS, socketHandshake: LIMIT }, sockets: { maxPerIdentity: 100 }, server: { trustedProxies: ['127.0.0.1', '10.0.0.0/8'] } };
    proxied = await startTestHub({ dbUrl: db.url, engine: 'uws', redis: true, overrides });
    token = (await registerAndLogin(proxied.url, 'proxied_user')).token;
  });
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  afterAll(async () => {
    await proxied?.stop();
    await db?.drop();
  });

  it('behind a trusted proxy, limits each forwarded client address separately', async () => {
    for (let i = 0; i < LIMIT.limit; i++) track(await connectWith(proxied.url, token, { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' }));
    expect((await refusal(proxied.url, '/', token, { 'x-forwarded-for': '203.0.113.7' })).data?.code).toBe('rate_limited');
    expect(track(await connectWith(proxied.url, token, { 'x-forwarded-for': '203.0.113.8' })).connected).toBe(true);
  });
});
