import { randomBytes } from 'node:crypto';
import type { Agent } from 'node:http';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AnyRoute } from '../../src/transport/http/types.js';
import { registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { keepAliveAgent, send, type RawResponse } from '../helpers/http-raw.js';
import { multipart, upload } from '../helpers/multipart.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

/**
 * Regression for the uWS crash: a response sent before the request body was read (404, 401, 405,
 * 413...) left uWS delivering the rest of the body to a handler that paused the finished response,
 * and uWS threw from native code, ending the process. Every route, every answer-early path, with
 * bodies from empty to several MB, twice on one keep-alive connection, on both engines; the hub
 * must answer /health after each pair (a crash would also fail the run: the hub is in-process).
 */
const KB = 1024;
const SMALL = Buffer.alloc(KB, 'a');
const LARGE = Buffer.alloc(200 * KB, 'a');
const HUGE = Buffer.alloc(3 * 1024 * KB, 'a');
const MULTIPART = 'multipart/form-data; boundary=x';

function concretePath(route: AnyRoute): string {
  return route.path.replace(/:sha256/g, 'a'.repeat(64)).replace(/:type/g, 'upscale').replace(/:\w+/g, '1');
}

describe.each(['uws', 'node'] as const)('HTTP robustness on %s', (engine) => {
  let db: TestDatabase;
  let hub: TestHub;
  let token: string;
  let agent: Agent;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({
      dbUrl: db.url,
      engine,
      redis: true,
      overrides: { rateLimits: { register: { limit: 10_000, windowSeconds: 60 }, token: { limit: 10_000, windowSeconds: 60 } } },
    });
    token = (await registerAndLogin(hub.url, `robust_${engine}`)).token;
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });
  beforeAll(() => {
    agent = keepAliveAgent();
  });
  afterEach(() => {
    agent.destroy();
    agent = keepAliveAgent();
  });

  /** Sends the same request twice on one keep-alive connection, then checks the hub is alive. */
  async function twiceThenHealth(method: string, path: string, body: Buffer, headers: Record<string, string>): Promise<RawResponse[]> {
    const answers: RawResponse[] = [];
    for (let i = 0; i < 2; i++) answers.push(await send(hub.url, method, path, { headers, body, agent }));
    const health = await send(hub.url, 'GET', '/health', { agent });
    expect(health.status, `${method} ${path} (${body.length} bytes) left the hub unhealthy`).toBe(200);
    for (const a of answers) expect(a.status, `${method} ${path} ${a.body.slice(0, 200)}`).toBeLessThan(500);
    return answers;
  }

  it('every route (and HEAD, OPTIONS), unauthenticated and authenticated, with empty and 1 KB bodies', async () => {
    const routes = hub.app.router.routes;
    expect(routes.length).toBeGreaterThan(20);
    const calls = routes.flatMap((r) => [[r.method, concretePath(r)], ...(r.method === 'GET' ? [['HEAD', concretePath(r)], ['OPTIONS', concretePath(r)]] : [])]);
    for (const [method, path] of calls as [string, string][]) {
      for (const auth of [{}, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
        for (const body of [Buffer.alloc(0), SMALL]) {
          await twiceThenHealth(method, path, body, { 'content-type': 'application/json', ...auth });
        }
      }
    }
  });

  it('literal dot segments are ids, not another route: /images/. and /images/.. never list images', async () => {
    // Browsers normalise these away; raw clients (and proxies that pass paths through) do not.
    for (const id of ['.', '..', '%2E', '%2e%2e']) {
      const res = await send(hub.url, 'GET', `/api/v1/images/${id}`, { headers: { authorization: `Bearer ${token}` }, agent });
      expect(res.status, `/api/v1/images/${id}: ${res.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
  });

  it('answer-early paths with 200 KB bodies keep the connection (drained)', async () => {
    const early: [string, string, Record<string, string>][] = [
      ['POST', '/nope', {}],
      ['POST', '/health', {}], // wrong method: 405
      ['PUT', '/api/v1/auth/token', {}],
      ...hub.app.router.routes.filter((r) => r.auth !== 'none').map((r): [string, string, Record<string, string>] => [r.method, concretePath(r), {}]),
      ['POST', '/api/v1/media', { authorization: `Bearer ${token}` }],
      ['PATCH', '/api/v1/auth/me', { authorization: `Bearer ${token}` }],
    ];
    for (const [method, path, headers] of early) {
      const [, second] = await twiceThenHealth(method, path, LARGE, { 'content-type': MULTIPART, ...headers });
      expect(second!.reused, `${method} ${path}: connection was not kept`).toBe(true);
    }
  });

  it('answer-early paths with 3 MB bodies close the connection after delivering the answer', async () => {
    const cases: [string, string, number][] = [
      ['POST', '/nope', 404],
      ['DELETE', '/health', 405],
      ['POST', '/api/v1/media', 401],
      ['GET', '/api/v1/auth/me', 401],
      ['POST', '/api/v1/auth/token', 413],
    ];
    for (const [method, path, status] of cases) {
      const answers = await twiceThenHealth(method, path, HUGE, { 'content-type': path.includes('auth/token') ? 'application/json' : MULTIPART });
      for (const a of answers) {
        expect(a.status).toBe(status);
        expect(a.headers.connection).toBe('close');
      }
    }
  });

  it('repeated 413s on routes that wait before reading (rate limit, token lookup)', async () => {
    const json = { 'content-type': 'application/json' };
    const twoMb = Buffer.alloc(2 * 1024 * KB, 'a');
    for (let i = 0; i < 20; i++) {
      expect((await send(hub.url, 'POST', '/api/v1/auth/token', { headers: json, body: twoMb, agent })).status).toBe(413);
    }
    expect((await send(hub.url, 'POST', '/api/v1/auth/register', { headers: json, body: Buffer.alloc(15 * 1024 * KB, 'a'), agent })).status).toBe(413);
    const me = await send(hub.url, 'PATCH', '/api/v1/auth/me', { headers: { ...json, authorization: `Bearer ${token}` }, body: Buffer.alloc(50 * 1024 * KB, 'a'), agent });
    expect(me.status).toBe(413);
    expect((await send(hub.url, 'GET', '/health', { agent })).status).toBe(200);
  });

  it('a streamed response (a media file) to a request with an unread body, drained or closed', async () => {
    // Random pixels: too big for the small-blob memory cache, so the file goes out as a stream.
    const png = await sharp(randomBytes(400 * 400 * 3), { raw: { width: 400, height: 400, channels: 3 } }).png().toBuffer();
    const up = await upload(hub.url, '/api/v1/media', token, [{ name: 'file', filename: 'n.png', type: 'image/png', data: png }]);
    expect(up.status).toBe(201);
    const path = `/api/v1/media/${up.body.sha256}`;
    const size = (await send(hub.url, 'GET', path, { agent })).body.length;
    expect(size).toBeGreaterThan(300 * KB);
    for (const body of [LARGE, HUGE]) {
      const answers = await twiceThenHealth('GET', path, body, { 'content-type': 'application/octet-stream' });
      for (const a of answers) expect([a.status, a.body.length]).toEqual([200, size]);
      if (body === LARGE) expect(answers[1]!.reused).toBe(true);
    }
  });

  it('uploads that fill the body buffer leave their keep-alive connection readable for the next request', async () => {
    // An 850 KB upload arrives in more than one chunk and outruns the body stream, so reading pauses; uWS may
    // then hand over the last chunk while paused. The socket used to stay paused after such a request, and
    // the next request on the connection was never read (reset after uWS's idle timeout; Node 24's binary).
    const png = await sharp(randomBytes(500 * 560 * 3), { raw: { width: 500, height: 560, channels: 3 } }).png().toBuffer();
    expect(png.length).toBeGreaterThan(800 * KB);
    for (let i = 0; i < 10; i++) {
      const { body, contentType } = multipart([{ name: 'file', filename: `k${i}.png`, type: 'image/png', data: Buffer.concat([png, Buffer.from([i])]) }]);
      const up = await send(hub.url, 'POST', '/api/v1/media', { headers: { 'content-type': contentType, authorization: `Bearer ${token}` }, body, agent });
      expect(up.status, up.body.slice(0, 200)).toBeLessThan(500);
      const started = Date.now();
      const next = await send(hub.url, 'GET', '/health', { agent });
      expect([next.status, next.reused]).toEqual([200, true]);
      expect(Date.now() - started, 'the next request on the connection waited').toBeLessThan(3000);
    }
  });

  it('a signed-in 14.5 MB upload gets its 413 and leaves the hub up', async () => {
    const boundary = 'easelboundary';
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\nContent-Type: image/png\r\n\r\n`);
    const body = Buffer.concat([head, Buffer.alloc(14.5 * 1024 * KB, 0x61), Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const headers = { 'content-type': `multipart/form-data; boundary=${boundary}`, authorization: `Bearer ${token}` };
    for (let i = 0; i < 2; i++) expect((await send(hub.url, 'POST', '/api/v1/media', { headers, body, agent })).status).toBe(413);
    expect((await send(hub.url, 'GET', '/health', { agent })).status).toBe(200);
  });
});
