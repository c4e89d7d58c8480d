import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { send } from '../helpers/http-raw.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const LIMIT = 3;

/** The per-IP limit on /auth/token shows which address the hub took for the client. */
describe.each(['uws', 'node'] as const)('X-Forwarded-For and trusted proxies on %s', (engine) => {
  let db: TestDatabase;
  let direct: TestHub; // trustedProxies [] (the default): exposed without a proxy
  let proxied: TestHub; // the loopback peer (this test) is the trusted proxy

  beforeAll(async () => {
    db = await createTestDatabase();
    const rateLimits = { token: { limit: LIMIT, windowSeconds: 60 } };
    direct = await startTestHub({ dbUrl: db.url, engine, redis: true, overrides: { rateLimits } });
    proxied = await startTestHub({ dbUrl: db.url, engine, redis: true, overrides: { rateLimits, server: { trustedProxies: ['127.0.0.1', '::1'] } } });
    expect(direct.config.server.trustedProxies).toEqual([]);
  });
  afterAll(async () => {
    await direct?.stop();
    await proxied?.stop();
    await db?.drop();
  });

  const attempt = (hub: TestHub, forwarded: string) =>
    send(hub.url, 'POST', '/api/v1/auth/token', {
      headers: { 'content-type': 'application/json', 'x-forwarded-for': forwarded },
      body: Buffer.from(JSON.stringify({ username: 'nobody', password: 'wrong-password' })),
    }).then((r) => r.status);

  it('a spoofed header from an untrusted peer is ignored: rotating it does not escape the limit', async () => {
    const statuses = [];
    for (let i = 0; i < LIMIT + 2; i++) statuses.push(await attempt(direct, `198.51.100.${i}`));
    expect(statuses.slice(0, LIMIT).every((s) => s !== 429)).toBe(true);
    expect(statuses.slice(LIMIT)).toEqual([429, 429]);
  });

  it('from a trusted peer the header is honoured: each forwarded client has its own budget', async () => {
    for (let i = 0; i < LIMIT; i++) expect(await attempt(proxied, '203.0.113.1')).not.toBe(429);
    expect(await attempt(proxied, '203.0.113.1')).toBe(429);
    expect(await attempt(proxied, '203.0.113.2')).not.toBe(429);
  });

  it('only the right-most untrusted hop counts: a client prepending addresses stays in its own bucket', async () => {
    for (let i = 0; i < LIMIT; i++) expect(await attempt(proxied, `192.0.2.${i}, 203.0.113.50`)).not.toBe(429);
    expect(await attempt(proxied, '192.0.2.99, 203.0.113.50')).toBe(429);
  });
});
