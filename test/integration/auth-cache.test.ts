import pg from 'pg';
import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, connectSocket, registerAndLogin } from '../helpers/clients.js';
import { startChildHub, type ChildHub } from '../helpers/child-hub.js';
import { createTestDatabase, REDIS_URL, type TestDatabase } from '../helpers/db.js';
import { newRedisPrefix, startTestHub, type TestHub } from '../helpers/hub.js';

const PASSWORD = 'correct-horse-battery';
// Node A's TTL is short so the TTL bound itself is testable; B's is long, so anything B learns within
// the test's deadline came over pub/sub, not from expiry.
const A_TTL_MS = 1500;
const PUBSUB_DEADLINE_MS = 1000;
const limits = { token: { limit: 1000, windowSeconds: 600 }, register: { limit: 1000, windowSeconds: 600 } };
const identity = (ttlMs: number) => ({ userCache: { ttlMs, maxEntries: 1000 } });

async function eventually(check: () => Promise<boolean>, deadlineMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > deadlineMs) throw new Error(`not within ${deadlineMs}ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function refused(base: string, token: string, code?: string): () => Promise<boolean> {
  return async () => {
    const res = await api(base, 'GET', '/api/v1/auth/me', { token });
    return res.status === 401 && (!code || res.body.code === code);
  };
}

function handshakeError(base: string, token: string): Promise<{ message: string; data?: { code: string } } | null> {
  return connectSocket(base, '/', token).then(
    (s) => {
      s.close();
      return null;
    },
    (err: { message: string; data?: { code: string } }) => err,
  );
}

function disconnected(socket: Socket): Promise<string> {
  return new Promise((resolve) => (socket.disconnected ? resolve('already') : socket.once('disconnect', (reason) => resolve(reason))));
}

const change = (base: string, token: string, current: string, next: string) =>
  api(base, 'PATCH', '/api/v1/auth/me', { token, json: { current_password: current, new_password: next } });

describe('user auth cache across two in-process nodes (node:http)', () => {
  let db: TestDatabase;
  let a: TestHub;
  let b: TestHub;
  let sql: pg.Client;
  const open: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const prefix = newRedisPrefix();
    a = await startTestHub({ dbUrl: db.url, engine: 'node', redis: prefix, overrides: { rateLimits: limits, identity: { ...identityDefaults(), ...identity(A_TTL_MS) } } });
    b = await startTestHub({ dbUrl: db.url, engine: 'node', redis: prefix, overrides: { rateLimits: limits, identity: { ...identityDefaults(), ...identity(60_000) } } });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  afterAll(async () => {
    await sql?.end();
    await b?.stop();
    await a?.stop();
    await db?.drop();
  });

  it('authenticates handshakes and requests from the cache: one load per user, not one per request', async () => {
    const user = await registerAndLogin(a.url, 'cached_user');
    const before = b.app.identity.authCacheStats().loads;
    for (let i = 0; i < 5; i++) open.push(await connectSocket(b.url, '/', user.token));
    for (let i = 0; i < 5; i++) expect((await api(b.url, 'GET', '/api/v1/auth/me', { token: user.token })).status).toBe(200);
    expect(b.app.identity.authCacheStats().loads - before).toBe(1);
  });

  /** The hubs' own timers (the event clock's lease, the job sweeps, LISTEN) query whenever they are due. */
  const BACKGROUND = [/\bupdate events e set lease_owner\b/, /\bjobs\b/, /^\s*(listen|unlisten)\b/i];

  it('with a warm cache: a handshake makes no query, GET /auth/me exactly one', async () => {
    const user = await registerAndLogin(b.url, 'query_count');
    open.push(await connectSocket(b.url, '/', user.token)); // warms B's cache
    // Every query of this process (both in-process hubs, ORM or not) goes through pg.Client#query.
    const original = pg.Client.prototype.query;
    const seen: string[] = [];
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const q = args[0] as string | { text: string };
      const text = typeof q === 'string' ? q : q.text;
      if (this !== sql && !BACKGROUND.some((re) => re.test(text))) seen.push(text);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    try {
      const s = await connectSocket(b.url, '/', user.token);
      s.close();
      expect(seen).toEqual([]);
      expect((await api(b.url, 'GET', '/api/v1/auth/me', { token: user.token })).status).toBe(200);
      expect(seen).toEqual(['select id, username, display_name, role, created_at from users where id = $1']);
    } finally {
      pg.Client.prototype.query = original;
    }
  });

  it('keeps serving from the cache when the row goes behind its back, and stops after the TTL (the bound)', async () => {
    const user = await registerAndLogin(a.url, 'ttl_user');
    open.push(await connectSocket(a.url, '/', user.token)); // cached on A now
    await sql.query('delete from users where id = $1', [user.userId]); // no invalidation published
    const s = await connectSocket(a.url, '/', user.token); // served from the cache: no database read
    s.close();
    const waited = await eventually(async () => (await handshakeError(a.url, user.token))?.data?.code === 'user_not_found', A_TTL_MS + 1000);
    expect(waited).toBeGreaterThan(200);
  });

  it('a deletion on A is refused on B (HTTP and handshake) within the bound, and ends live sockets on both', async () => {
    const user = await registerAndLogin(a.url, 'deleted_user');
    const onB = await connectSocket(b.url, '/', user.token);
    const onA = await connectSocket(a.url, '/', user.token);
    open.push(onA, onB);
    expect((await api(b.url, 'GET', '/api/v1/auth/me', { token: user.token })).status).toBe(200); // B has it cached
    const gone = [disconnected(onB), disconnected(onA)];
    expect((await api(a.url, 'DELETE', '/api/v1/auth/me', { token: user.token, json: { current_password: PASSWORD } })).status).toBe(204);
    await eventually(refused(b.url, user.token, 'user_not_found'), PUBSUB_DEADLINE_MS);
    expect((await handshakeError(b.url, user.token))?.data?.code).toBe('user_not_found');
    expect(await Promise.all(gone)).toEqual(['io server disconnect', 'io server disconnect']);
  });

  it('a role change on A is seen by B within the bound', async () => {
    const user = await registerAndLogin(a.url, 'role_user');
    const asSeenBy = async (hub: TestHub) => {
      const actor = await hub.app.identity.authenticate(() => hub.orm.em.fork(), user.token);
      return actor.kind === 'user' ? actor.role : actor.kind;
    };
    expect(await asSeenBy(b)).toBe('user');
    await a.app.identity.setRole(a.orm.em.fork(), user.userId, 'admin');
    expect(await asSeenBy(a)).toBe('admin');
    await eventually(async () => (await asSeenBy(b)) === 'admin', PUBSUB_DEADLINE_MS);
    await a.app.identity.setRole(a.orm.em.fork(), user.userId, 'user');
    await eventually(async () => (await asSeenBy(b)) === 'user', PUBSUB_DEADLINE_MS);
  });

  it('a password change kills older access tokens on both nodes and ends live sockets; the token issued after it works', async () => {
    const user = await registerAndLogin(a.url, 'pw_change');
    const onB = await connectSocket(b.url, '/', user.token);
    open.push(onB);
    expect((await api(b.url, 'GET', '/api/v1/auth/me', { token: user.token })).status).toBe(200);
    const gone = disconnected(onB);
    expect((await change(a.url, user.token, PASSWORD, 'brand-new-password')).status).toBe(200);
    // Within the same second as the change: versions, not iat, tell the tokens apart.
    const fresh = await api(a.url, 'POST', '/api/v1/auth/token', { json: { username: 'pw_change', password: 'brand-new-password' } });
    expect(fresh.status).toBe(200);
    expect((await api(a.url, 'GET', '/api/v1/auth/me', { token: user.token })).body.code).toBe('token_revoked');
    await eventually(refused(b.url, user.token, 'token_revoked'), PUBSUB_DEADLINE_MS);
    expect((await handshakeError(b.url, user.token))?.data?.code).toBe('token_revoked');
    expect(await gone).toBe('io server disconnect');
    for (const hub of [a, b]) expect((await api(hub.url, 'GET', '/api/v1/auth/me', { token: fresh.body.access_token })).status).toBe(200);
    const s = await connectSocket(b.url, '/', fresh.body.access_token);
    s.close();
  });
});

describe('user auth cache across uWS nodes (A in-process, B its own process)', () => {
  let db: TestDatabase;
  let a: TestHub;
  let b: ChildHub;
  const open: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const prefix = newRedisPrefix();
    a = await startTestHub({ dbUrl: db.url, engine: 'uws', redis: prefix, overrides: { rateLimits: limits } });
    b = await startChildHub({
      env: {
        HTTP_ENGINE: 'uws',
        DATABASE_URL: db.url,
        REDIS_URL,
        EASEL__REDIS__KEY_PREFIX: prefix,
        EASEL__IDENTITY__USER_CACHE: JSON.stringify({ ttlMs: 60_000, maxEntries: 1000 }),
        EASEL__SERVER__SHUTDOWN_GRACE_MS: '2000',
      },
    });
  });
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await db?.drop();
  });

  it('a password change on A revokes on B and ends B\'s sockets; a deletion on B is refused on A', async () => {
    const user = await registerAndLogin(a.url, 'uws_pw');
    const onB = await connectSocket(b.url, '/', user.token);
    open.push(onB);
    const gone = disconnected(onB);
    expect((await change(a.url, user.token, PASSWORD, 'brand-new-password')).status).toBe(200);
    await eventually(refused(b.url, user.token, 'token_revoked'), PUBSUB_DEADLINE_MS);
    expect(await gone).toBe('io server disconnect');

    const fresh = (await api(b.url, 'POST', '/api/v1/auth/token', { json: { username: 'uws_pw', password: 'brand-new-password' } })).body.access_token as string;
    open.push(await connectSocket(a.url, '/', fresh));
    expect((await api(b.url, 'DELETE', '/api/v1/auth/me', { token: fresh, json: { current_password: 'brand-new-password' } })).status).toBe(204);
    await eventually(refused(a.url, fresh, 'user_not_found'), PUBSUB_DEADLINE_MS);
    expect((await handshakeError(a.url, fresh))?.data?.code).toBe('user_not_found');
  });
});

function identityDefaults() {
  return {
    loginPerAccount: { limit: 1000, windowSeconds: 600 },
    passwordCheckPerAccount: { limit: 1000, windowSeconds: 600 },
    passwordCheckPerIp: { limit: 1000, windowSeconds: 600 },
    scrypt: { concurrency: 0, queue: 64 },
  };
}

describe('user auth cache on a single node without Redis', () => {
  let db: TestDatabase;
  let hub: TestHub;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, engine: 'uws', redis: false, overrides: { rateLimits: limits } });
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  it('applies a password change at once: the old token is refused and its live socket ended', async () => {
    const user = await registerAndLogin(hub.url, 'solo_pw');
    const socket = await connectSocket(hub.url, '/', user.token);
    try {
      expect((await api(hub.url, 'GET', '/api/v1/auth/me', { token: user.token })).status).toBe(200);
      const gone = disconnected(socket);
      expect((await change(hub.url, user.token, PASSWORD, 'brand-new-password')).status).toBe(200);
      expect((await api(hub.url, 'GET', '/api/v1/auth/me', { token: user.token })).body.code).toBe('token_revoked');
      expect(await gone).toBe('io server disconnect');
    } finally {
      socket.close();
    }
  });
});
