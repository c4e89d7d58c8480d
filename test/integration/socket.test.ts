import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { io as ioClient, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../../src/platform/logger.js';
import { mountNamespace, socketEvent } from '../../src/transport/socket/namespace.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { api, connectSocket, emitAck, nextEvent, registerAndLogin } from '../helpers/clients.js';

type Transport = 'websocket' | 'polling';

/** Signs an Easel-shaped access token with the hub's own secret, so only the chosen claims differ. */
async function signAccess(hub: TestHub, userId: number, expOffsetSeconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ typ: 'access', role: 'user' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(`user:${userId}`)
    .setIssuer(hub.config.auth.issuer)
    .setAudience(hub.config.auth.audience)
    .setIssuedAt(Math.min(now, now + expOffsetSeconds - 60))
    .setExpirationTime(now + expOffsetSeconds)
    .setJti(randomUUID())
    .sign(new TextEncoder().encode(hub.config.auth.jwtSecret));
}

/** The connect_error a refused handshake produces (fails the test if the socket connects). */
async function refusal(url: string, token: string | undefined, transports: Transport[] = ['websocket']): Promise<Error & { data?: { code?: string } }> {
  return connectSocket(url, '/', token, transports).then(
    (socket) => {
      socket.close();
      throw new Error('handshake unexpectedly accepted');
    },
    (err: Error & { data?: { code?: string } }) => err,
  );
}

function disconnectReason(socket: Socket, timeoutMs = 6000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no disconnect within ${timeoutMs}ms`)), timeoutMs);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

const LOGIN_LIMITS = { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(['uws', 'node'] as const)('root namespace on %s', (engine) => {
  let db: TestDatabase;
  let hub: TestHub;
  const open: Socket[] = [];
  const track = (s: Socket) => (open.push(s), s);

  beforeAll(async () => {
    db = await createTestDatabase();
    // Many accounts per file: lift the per-IP register/login limits (their own tests live with auth).
    hub = await startTestHub({ dbUrl: db.url, engine, redis: true, overrides: { rateLimits: LOGIN_LIMITS } });
  });
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  describe.each([[['websocket']], [['polling']]] as [Transport[]][])('handshake over %j', (transports) => {
    it('refuses a handshake without a token with token_missing', async () => {
      const err = await refusal(hub.url, undefined, transports);
      expect(err.data?.code).toBe('token_missing');
    });

    it('refuses a non-string token with token_missing', async () => {
      const err = await new Promise<Error & { data?: { code?: string } }>((resolve) => {
        const s = ioClient(`${hub.url}/`, { auth: { token: 5 }, transports, forceNew: true, reconnection: false });
        s.once('connect_error', (e) => (s.close(), resolve(e)));
        s.once('connect', () => (s.close(), resolve(new Error('connected'))));
      });
      expect(err.data?.code).toBe('token_missing');
    });

    it('refuses garbled, forged and expired tokens', async () => {
      expect((await refusal(hub.url, 'not.a.jwt', transports)).data?.code).toBe('token_malformed');
      expect((await refusal(hub.url, 'x'.repeat(20_000), transports)).data?.code).toBe('token_malformed');
      const { userId } = await registerAndLogin(hub.url, `hs_${transports[0]}_exp`);
      const expired = await signAccess(hub, userId, -120);
      expect((await refusal(hub.url, expired, transports)).data?.code).toBe('token_expired');
      const valid = await signAccess(hub, userId, 600);
      const forged = valid.slice(0, valid.lastIndexOf('.') + 1) + 'A'.repeat(43);
      expect((await refusal(hub.url, forged, transports)).data?.code).toBe('token_invalid_signature');
      // A signature-valid token for a user that does not exist.
      expect((await refusal(hub.url, await signAccess(hub, 999_999, 600), transports)).data?.code).toBe('user_not_found');
    });

    it('accepts a guest token on / and joins the guest room', async () => {
      const guest = await api(hub.url, 'POST', '/api/v1/auth/guest');
      expect(guest.status).toBe(200);
      const socket = track(await connectSocket(hub.url, '/', guest.body.access_token, transports));
      expect(socket.connected).toBe(true);
      const ping = nextEvent(socket, 'test:ping');
      hub.app.notifier.toRoom('/', `guest:${guest.body.guest_id}`, 'test:ping', { n: 1 });
      expect(await ping).toEqual({ n: 1 });
    });

    it('refuses a worker token on / with forbidden', async () => {
      const { token } = await hub.app.tokens.issueWorker('w1');
      expect((await refusal(hub.url, token, transports)).data?.code).toBe('forbidden');
    });

    it('joins user:<id>, so notifier.toUser reaches every socket of that user only', async () => {
      const alice = await registerAndLogin(hub.url, `room_${transports[0]}_a`);
      const bob = await registerAndLogin(hub.url, `room_${transports[0]}_b`);
      const a1 = track(await connectSocket(hub.url, '/', alice.token, transports));
      const a2 = track(await connectSocket(hub.url, '/', alice.token, transports));
      const b = track(await connectSocket(hub.url, '/', bob.token, transports));
      let bobGot = 0;
      b.on('test:ping', () => bobGot++);
      const got = Promise.all([nextEvent(a1, 'test:ping'), nextEvent(a2, 'test:ping')]);
      hub.app.notifier.toUser(alice.userId, 'test:ping', { hello: 'alice' });
      expect(await got).toEqual([{ hello: 'alice' }, { hello: 'alice' }]);
      await sleep(100);
      expect(bobGot).toBe(0);
    });
  });

  describe('payload handling', () => {
    let user: { token: string; userId: number };
    let socket: Socket;
    beforeAll(async () => {
      user = await registerAndLogin(hub.url, 'payload_user');
    });
    afterEach(() => socket?.close());

    it('answers malformed auth:refresh payloads with validation_failed acks', async () => {
      socket = await connectSocket(hub.url, '/', user.token);
      const bad: unknown[][] = [[{ token: 5 }], ['just-a-string'], [], [null], [42], [{ token: user.token, extra: true }], [{}], [{ token: '' }]];
      for (const args of bad) {
        const ack = await emitAck(socket, 'auth:refresh', ...args);
        expect(ack, JSON.stringify(args)).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
        expect(typeof ack.error.message).toBe('string');
      }
      // An auth:refresh with a token that fails verification is an error ack, not a disconnect.
      expect(await emitAck(socket, 'auth:refresh', { token: 'garbage' })).toMatchObject({ ok: false, error: { code: 'token_malformed' } });
      expect(socket.connected).toBe(true);
      const good = await emitAck(socket, 'auth:refresh', { token: user.token });
      expect(good).toMatchObject({ ok: true, data: { expiresAt: expect.any(Number) } });
    });

    it('acks unknown events with unknown_event and survives unknown events without an ack', async () => {
      socket = await connectSocket(hub.url, '/', user.token);
      expect(await emitAck(socket, 'no:such:event', { a: 1 })).toMatchObject({ ok: false, error: { code: 'unknown_event' } });
      socket.emit('no:such:event', { a: 1 });
      socket.emit('no:such:event');
      socket.emit('another:one', 'x', 2, { deep: [1, 2, 3] });
      expect(await emitAck(socket, 'no:such:event')).toMatchObject({ ok: false, error: { code: 'unknown_event' } });
      expect(socket.connected).toBe(true);
      expect((await api(hub.url, 'GET', '/health')).status).toBe(200);
    });

    it('rate-limits a flood per socket, keeps the socket, and recovers after the window', async () => {
      socket = await connectSocket(hub.url, '/', user.token);
      const bystander = track(await connectSocket(hub.url, '/', user.token));
      const { limit, windowSeconds } = hub.config.rateLimits.socketEvents;
      const acks = await Promise.all(Array.from({ length: 200 }, () => emitAck(socket, 'flood:event', {})));
      const codes = acks.map((a) => a.error?.code);
      const served = codes.filter((c) => c === 'unknown_event').length;
      const limited = codes.filter((c) => c === 'rate_limited').length;
      expect(served + limited).toBe(200);
      // A fixed window may roll over once during the burst: at most two windows' worth get through.
      expect(served).toBeGreaterThanOrEqual(limit);
      expect(served).toBeLessThanOrEqual(limit * 2);
      expect(acks.find((a) => a.error?.code === 'rate_limited').error.message).toMatch(/retry in \d+s/);
      expect(socket.connected).toBe(true);
      // The limit is per socket: another socket of the same user is not throttled by this one's flood.
      expect(await emitAck(bystander, 'flood:event', {})).toMatchObject({ error: { code: 'unknown_event' } });
      await sleep(windowSeconds * 1000 + 150);
      expect(await emitAck(socket, 'flood:event', {})).toMatchObject({ ok: false, error: { code: 'unknown_event' } });
      expect(await emitAck(socket, 'auth:refresh', { token: user.token })).toMatchObject({ ok: true });
      expect((await api(hub.url, 'GET', '/health')).status).toBe(200);
    });
  });

  describe('namespace wrapper with a real event', () => {
    // A namespace mounted only for this test, through the same wrapper the app uses, to exercise a schema,
    // a handler's result, a thrown non-AppError and limiter separation across namespaces.
    beforeAll(() => {
      const deps = {
        io: hub.app.io,
        orm: hub.orm,
        authenticate: (token: string) => hub.app.identity.authenticate(hub.orm.em.fork(), token),
        metrics: hub.app.metrics,
        logger: createLogger('silent'),
        eventLimit: () => hub.config.rateLimits.socketEvents,
      };
      mountNamespace(
        {
          name: '/wrapper-test',
          access: 'actor',
          summary: 'test only',
          pushes: [],
          events: [
            socketEvent({ event: 'echo', summary: 'echo', schema: z.strictObject({ n: z.int() }), handler: async ({ n }, { actor }) => ({ n, kind: actor.kind }) }),
            socketEvent({ event: 'boom', summary: 'throws', schema: z.strictObject({}), handler: async () => { throw new Error('secret internals'); } }),
          ],
        },
        deps,
      );
    });

    it('validates, acks results, hides internal errors and keeps limits per namespace socket', async () => {
      const { token } = await registerAndLogin(hub.url, 'wrapper_user');
      const t = track(await connectSocket(hub.url, '/wrapper-test', token));
      expect(await emitAck(t, 'echo', { n: 3 })).toEqual({ ok: true, data: { n: 3, kind: 'user' } });
      expect(await emitAck(t, 'echo', { n: 3, x: 1 })).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
      expect(await emitAck(t, 'echo', { n: 'three' })).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
      expect(await emitAck(t, 'boom', {})).toEqual({ ok: false, error: { code: 'internal', message: 'Internal server error' } });
      const root = track(await connectSocket(hub.url, '/', token));
      await Promise.all(Array.from({ length: 60 }, () => emitAck(t, 'echo', { n: 1 })));
      expect(await emitAck(t, 'echo', { n: 1 })).toMatchObject({ error: { code: 'rate_limited' } });
      expect(await emitAck(root, 'auth:refresh', { token })).toMatchObject({ ok: true });
    });
  });
});

describe.each(['uws', 'node'] as const)('token expiry on %s', (engine) => {
  let db: TestDatabase;
  let hub: TestHub;
  const open: Socket[] = [];
  const track = (s: Socket) => (open.push(s), s);

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, engine, redis: true, overrides: { auth: { accessTtlSeconds: 2, clockToleranceSeconds: 0 }, rateLimits: LOGIN_LIMITS } });
  });
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  it('pushes auth:expired and disconnects a socket whose token expires unrefreshed', async () => {
    const { token } = await registerAndLogin(hub.url, 'expiring');
    const socket = track(await connectSocket(hub.url, '/', token));
    const expired = nextEvent(socket, 'auth:expired', 4000);
    const reason = disconnectReason(socket);
    expect(await expired).toMatchObject({ reason: 'token_expired', message: expect.any(String) });
    expect(await reason).toBe('io server disconnect');
    // A server-side disconnect is final for socket.io-client: it does not auto-reconnect with the dead token.
    expect(socket.active).toBe(false);
  });

  it('keeps a socket that refreshed before expiry past the original expiry', async () => {
    const { token, userId } = await registerAndLogin(hub.url, 'refresher');
    const socket = track(await connectSocket(hub.url, '/', token));
    let expiredPush = false;
    socket.on('auth:expired', () => (expiredPush = true));
    const fresh = await signAccess(hub, userId, 60);
    const ack = await emitAck(socket, 'auth:refresh', { token: fresh });
    expect(ack).toMatchObject({ ok: true, data: { expiresAt: expect.any(Number) } });
    expect(ack.data.expiresAt).toBeGreaterThan(Math.floor(Date.now() / 1000) + 30);
    await sleep(3000);
    expect(expiredPush).toBe(false);
    expect(socket.connected).toBe(true);
    expect(await emitAck(socket, 'no:such', {})).toMatchObject({ error: { code: 'unknown_event' } });
  });

  it("refuses auth:refresh with another user's token (identity_mismatch) and keeps the old expiry", async () => {
    const a = await registerAndLogin(hub.url, 'mismatch_a');
    const b = await registerAndLogin(hub.url, 'mismatch_b');
    const socket = track(await connectSocket(hub.url, '/', a.token));
    const ack = await emitAck(socket, 'auth:refresh', { token: await signAccess(hub, b.userId, 60) });
    expect(ack).toMatchObject({ ok: false, error: { code: 'identity_mismatch' } });
    // A guest token is another identity too.
    const guest = await api(hub.url, 'POST', '/api/v1/auth/guest');
    expect(await emitAck(socket, 'auth:refresh', { token: guest.body.access_token })).toMatchObject({ ok: false, error: { code: 'identity_mismatch' } });
    // The refused refresh did not extend anything: the original token still expires.
    expect(await nextEvent(socket, 'auth:expired', 4000)).toMatchObject({ reason: 'token_expired' });
  });

  it('expiry on one namespace does not tear down a sibling namespace on the same connection', async () => {
    const deps = {
      io: hub.app.io,
      orm: hub.orm,
      authenticate: (token: string) => hub.app.identity.authenticate(hub.orm.em.fork(), token),
      metrics: hub.app.metrics,
      logger: createLogger('silent'),
      eventLimit: () => hub.config.rateLimits.socketEvents,
    };
    mountNamespace({ name: '/sibling', access: 'actor', summary: 'test only', pushes: [], events: [] }, deps);
    const { token, userId } = await registerAndLogin(hub.url, 'multiplexed');
    // Two namespaces multiplexed over one engine.io connection (one Manager).
    const root = track(ioClient(`${hub.url}/`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true }));
    await new Promise<void>((r) => root.once('connect', () => r()));
    // Manager.socket() connects by itself (autoConnect); calling connect() again would open a second socket.
    const sibling = track(root.io.socket('/sibling', { auth: { token } }));
    await new Promise<void>((r) => sibling.once('connect', () => r()));
    expect(await emitAck(sibling, 'auth:refresh', { token: await signAccess(hub, userId, 60) })).toMatchObject({ ok: true });
    const siblingGone: string[] = [];
    sibling.on('disconnect', (r) => siblingGone.push(r));
    const reason = disconnectReason(root);
    expect(await reason).toBe('io server disconnect');
    await sleep(200);
    expect(siblingGone).toEqual([]);
    expect(sibling.connected).toBe(true);
    expect(await emitAck(sibling, 'no:such', {})).toMatchObject({ error: { code: 'unknown_event' } });
  });
});
