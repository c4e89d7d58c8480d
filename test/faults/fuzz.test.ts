import fc from 'fast-check';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyRoute } from '../../src/transport/http/types.js';
import type { NamespaceSpec, SocketEventSpec } from '../../src/transport/socket/namespace.js';
import { api, connectSocket, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { adminToken } from '../helpers/events.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { send } from '../helpers/http-raw.js';
import { multipart, upload, type Part } from '../helpers/multipart.js';
import { makePng } from '../../src/modules/media/test-fixtures.js';
import { nasty, schemaArbitraries } from '../helpers/zod-arbitrary.js';

/** A form field from any generated value: objects (null-prototype ones included) as JSON, never a throw. */
function formValue(val: unknown): string {
  try {
    return typeof val === 'object' && val !== null ? JSON.stringify(val) : String(val);
  } catch {
    return Object.prototype.toString.call(val);
  }
}

/**
 * Property-based fuzzing of every HTTP route (from the router's table) and every socket event (from the
 * namespaces' specs), the same enumeration /openapi.json and /asyncapi.json use, so new routes and events
 * are fuzzed without touching this file. Payloads come from each zod schema (shaped, malformed, nasty).
 * Properties: no 5xx, every error a problem+json / `{ ok: false, error: { code, message } }`, every
 * documented success body valid against its schema, no `internal` error counted, the hub healthy after.
 *
 * Reproduce a failure: FUZZ_SEED=<seed printed below> npx vitest run test/faults/fuzz.test.ts
 * (FUZZ_RUNS=<n> runs per route and event, default 20; FUZZ_ENGINE=node for the node:http engine)
 */
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS_PER_ROUTE = Number(process.env.FUZZ_RUNS ?? 20);
const RUNS_PER_EVENT = Number(process.env.FUZZ_RUNS ?? 20);
/** Deeper runs (FUZZ_RUNS=200) take longer than CI's default budget. */
const DEEP_TIMEOUT_MS = Math.max(120_000, RUNS_PER_ROUTE * 5000);
/** The HTTP parsing differs per engine; the dispatcher and handlers behind it are shared. */
const ENGINE = process.env.FUZZ_ENGINE === 'node' ? 'node' : 'uws';

type Tokens = Record<'user' | 'admin' | 'guest' | 'worker', string>;

interface FuzzRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body?: Buffer | string;
}

const garbageSegment = fc.constantFrom('%ZZ', '..', '%2F..%2F', '%00', 'a'.repeat(3000), '-1', '0', '1e9', '99999999999999999999', 'null', '%F0%9F%92%A5', '%C0%AF');

/** Ids of rows the setup created (an image, a photo job, a live event), so handlers past the lookup run too. */
const known: string[] = ['1', '2'];

function paramsArb(route: AnyRoute): fc.Arbitrary<Record<string, string>> {
  const names = route.path.split('/').filter((s) => s.startsWith(':')).map((s) => s.slice(1));
  if (!names.length) return fc.constant({});
  const shaped = route.params ? schemaArbitraries(route.params).shaped : fc.constant({});
  const one = (value: unknown) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.constant(encodeURIComponent(String(value ?? ''))) },
      { weight: 3, arbitrary: fc.constantFrom(...known) },
      { weight: 1, arbitrary: garbageSegment },
      { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map(encodeURIComponent) },
    );
  return shaped.chain((p) => fc.record(Object.fromEntries(names.map((n) => [n, one((p as Record<string, unknown> | null)?.[n])]))) as fc.Arbitrary<Record<string, string>>);
}

function queryArb(route: AnyRoute): fc.Arbitrary<string> {
  const raw = fc.constantFrom('', 'limit=-1', 'limit=1e400', 'cursor=%ZZ', 'a=1&a=2&a=3', '&&&=&=', '__proto__[x]=1', 'limit=' + '9'.repeat(400));
  if (!route.query) return fc.oneof(fc.constant(''), raw);
  const toQuery = (v: unknown) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return `q=${encodeURIComponent(JSON.stringify(v) ?? '')}`;
    const params = new URLSearchParams();
    for (const [k, val] of Object.entries(v)) {
      if (Array.isArray(val)) for (const item of val) params.append(k, String(item));
      else params.append(k, typeof val === 'object' && val !== null ? JSON.stringify(val) : String(val));
    }
    return params.toString();
  };
  return fc.oneof({ weight: 4, arbitrary: schemaArbitraries(route.query).payload.map(toQuery) }, { weight: 1, arbitrary: raw });
}

const rawBodies = fc.constantFrom<string | Buffer>('', '{', 'null', '[]', '"x"', '{"a":', Buffer.from([0xff, 0xfe, 0x00, 0xc3]), '{"a":1,"a":2}', ' '.repeat(2000), '['.repeat(5000));

function bodyArb(route: AnyRoute): fc.Arbitrary<{ body?: Buffer | string; type?: string }> {
  const kind = route.bodyKind ?? (route.body ? 'json' : 'none');
  if (kind === 'stream') {
    const part: fc.Arbitrary<Part> = fc.oneof(
      fc.record({ name: fc.constantFrom('file', 'files', 'prompt', 'model_name', 'tournament_opt_in', 'lat', 'lng', 'scale', 'x'), value: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('1', '-91', 'true', 'NaN', '9'.repeat(300))) }),
      fc.record({
        name: fc.constantFrom('file', 'files', 'prompt'),
        filename: fc.constantFrom('a.png', '../../etc/passwd', '', 'x'.repeat(300), 'é.jpg'),
        type: fc.constantFrom('image/png', 'image/jpeg', 'text/plain', 'application/octet-stream'),
        data: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      }),
    );
    const good = fc.array(part, { maxLength: 5 }).map((parts) => {
      const m = multipart(parts);
      return { body: m.body, type: m.contentType };
    });
    const broken = fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.constantFrom('multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary=x', 'application/json', 'text/plain')).map(([b, type]) => ({ body: Buffer.from(b), type }));
    return fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: broken });
  }
  const json = route.body ? schemaArbitraries(route.body).payload : fc.jsonValue({ maxDepth: 2 });
  const types = kind === 'form-or-json' ? ['application/json', 'application/x-www-form-urlencoded'] : ['application/json'];
  const encoded = fc.tuple(json, fc.constantFrom(...types)).map(([v, type]) => {
    if (type === 'application/json') return { body: JSON.stringify(v) ?? 'null', type };
    const form = new URLSearchParams();
    if (v && typeof v === 'object') for (const [k, val] of Object.entries(v)) form.append(k, formValue(val));
    return { body: form.toString(), type };
  });
  const raw = fc.tuple(rawBodies, fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1', '')).map(([body, type]) => ({ body, ...(type ? { type } : {}) }));
  const none = fc.constant({});
  return kind === 'none' ? fc.oneof({ weight: 3, arbitrary: none }, { weight: 1, arbitrary: raw }) : fc.oneof({ weight: 5, arbitrary: encoded }, { weight: 2, arbitrary: raw }, { weight: 1, arbitrary: none });
}

function authArb(route: AnyRoute, tokens: Tokens): fc.Arbitrary<string | undefined> {
  const wanted = route.auth === 'admin' ? tokens.admin : route.auth === 'worker' ? tokens.worker : route.auth === 'none' ? undefined : tokens.user;
  const bearer = (t: string) => `Bearer ${t}`;
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(wanted === undefined ? undefined : bearer(wanted)) },
    { weight: 1, arbitrary: fc.constantFrom(tokens.user, tokens.admin, tokens.guest, tokens.worker).map(bearer) },
    { weight: 1, arbitrary: fc.constantFrom(undefined, 'Bearer', 'Bearer x.y.z', 'Basic YTpi', 'Bearer eyJhbGciOiJub25lIn0.e30.', `Bearer ${'a'.repeat(5000)}`) },
  );
}

function requestArb(route: AnyRoute, tokens: Tokens): fc.Arbitrary<FuzzRequest> {
  return fc.record({ params: paramsArb(route), query: queryArb(route), body: bodyArb(route), auth: authArb(route, tokens), head: fc.boolean() }).map(({ params, query, body, auth, head }) => {
    const path = route.path.replace(/:(\w+)/g, (_m, name: string) => params[name] ?? '');
    const headers: Record<string, string> = {};
    if (auth !== undefined) headers.authorization = auth;
    if (body.type) headers['content-type'] = body.type;
    const method = route.method === 'GET' && head ? 'HEAD' : route.method;
    return { method, path, query, headers, ...(body.body !== undefined && method !== 'HEAD' ? { body: body.body } : {}) };
  });
}

/** What is wrong with one response, or null. */
function judgeHttp(route: AnyRoute, req: FuzzRequest, status: number, type: string, text: string): string | null {
  if (status >= 500) return `status ${status}: ${text.slice(0, 300)}`;
  if (req.method === 'HEAD' || status === 204 || status === 304) return null;
  if (status >= 400) {
    if (!type.includes('application/problem+json')) return `error ${status} with content-type '${type}'`;
    let p: Record<string, unknown>;
    try {
      p = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return `error ${status} body is not JSON: ${text.slice(0, 200)}`;
    }
    if (p.status !== status || typeof p.code !== 'string' || typeof p.title !== 'string' || typeof p.detail !== 'string' || typeof p.type !== 'string') {
      return `malformed problem: ${text.slice(0, 300)}`;
    }
    return null;
  }
  const schema = route.responses?.[status];
  if (schema && type.includes('json')) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return `success ${status} body is not JSON`;
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) return `success ${status} does not match its documented schema: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
  }
  return null;
}

function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

function isAck(reply: unknown): string | null {
  if (!reply || typeof reply !== 'object') return `ack is not an object: ${JSON.stringify(reply)}`;
  const r = reply as { ok?: unknown; data?: unknown; error?: { code?: unknown; message?: unknown } };
  if (r.ok === true) return 'data' in r ? null : 'ok ack without data';
  if (r.ok === false && typeof r.error?.code === 'string' && typeof r.error.message === 'string') return r.error.code === 'internal' ? `internal error ack: ${r.error.message}` : null;
  return `malformed ack: ${JSON.stringify(reply).slice(0, 200)}`;
}

describe('fuzzing every route and socket event', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let tokens: Tokens;
  const failures: string[] = [];

  beforeAll(async () => {
    console.log(`fuzz seed ${SEED} on ${ENGINE} (reproduce: FUZZ_SEED=${SEED} FUZZ_ENGINE=${ENGINE} FUZZ_RUNS=${RUNS_PER_ROUTE} npx vitest run test/faults/fuzz.test.ts)`);
    db = await createTestDatabase();
    hub = await startTestHub({
      dbUrl: db.url,
      engine: ENGINE,
      redis: true,
      overrides: {
        auth: { admin: { username: 'fuzz_admin', password: 'fuzz-admin-password' } },
        // Limits would turn most runs into 429s after the first few: raise them so handlers are reached.
        rateLimits: { register: { limit: 100_000, windowSeconds: 60 }, token: { limit: 100_000, windowSeconds: 60 }, socketEvents: { limit: 100_000, windowSeconds: 1 }, socketHandshake: { limit: 100_000, windowSeconds: 10 } },
        identity: { loginPerAccount: { limit: 100_000, windowSeconds: 60 }, passwordCheckPerAccount: { limit: 100_000, windowSeconds: 60 }, passwordCheckPerIp: { limit: 100_000, windowSeconds: 60 } },
      },
    });
    await hub.app.identity.bootstrapAdmin(hub.orm.em.fork(), 'fuzz_admin', 'fuzz-admin-password');
    const user = await registerAndLogin(hub.url, 'fuzz_user');
    const guest = await api(hub.url, 'POST', '/api/v1/auth/guest');
    tokens = {
      user: user.token,
      admin: await adminToken(hub.url, 'fuzz_admin', 'fuzz-admin-password'),
      guest: guest.body.access_token as string,
      worker: (await hub.app.tokens.issueWorker('fuzz-worker')).token,
    };
    // Real rows to aim at: an image (and its media hash), a bestcut photo job.
    const png = (w: number) => makePng(w, 12);
    const image = await upload(hub.url, '/api/v1/images', tokens.user, [{ name: 'prompt', value: 'fuzz' }, { name: 'file', filename: 'a.png', type: 'image/png', data: await png(12) }]);
    expect(image.status).toBe(201);
    known.push(String(image.body.id), String(image.body.sha256 ?? image.body.media?.sha256 ?? ''));
    const job = await upload(hub.url, '/api/v1/photos/bestcut', tokens.user, [{ name: 'files', filename: 'a.png', type: 'image/png', data: await png(13) }, { name: 'files', filename: 'b.png', type: 'image/png', data: await png(14) }]);
    expect(job.status).toBe(202);
    known.push(String(job.body.job_id), 'upscale', 'bestcut');
  });

  afterAll(async () => {
    if (failures.length) console.log(`fuzz failures (seed ${SEED}):\n${failures.join('\n')}`);
    await hub?.stop();
    await db?.drop();
  });

  it('every HTTP route: no 5xx, errors are problem+json, successes match their schema', async () => {
    const routes = hub.app.router.routes;
    expect(routes.length).toBeGreaterThan(30);
    let sent = 0;
    const statuses = new Map<number, number>();
    const reached = new Set<string>();
    for (const [i, route] of routes.entries()) {
      const result = await fc.check(
        fc.asyncProperty(requestArb(route, tokens), async (req) => {
          sent++;
          const url = `${hub.url}${req.path}${req.query ? `?${req.query}` : ''}`;
          const path = url.slice(hub.url.length);
          const body = req.body === undefined ? undefined : Buffer.from(req.body);
          const res = await within(10_000, send(hub.url, req.method, path, { headers: req.headers, ...(body ? { body } : {}) }), `${req.method} ${url.slice(0, 120)}`);
          // Request lines past uWS's header limit are answered by the engine itself, before routing.
          if (path.length > 4000) return;
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status < 300) reached.add(`${route.method} ${route.path}`);
          // A path whose parameter came out empty may match a sibling route (`/events/` is the list).
          const matched = hub.app.router.match(req.method === 'HEAD' ? 'GET' : req.method, path.split('?')[0]!);
          const judged = matched && matched !== 'method' ? matched.route : route;
          const problem = judgeHttp(judged, req, res.status, String(res.headers['content-type'] ?? ''), res.body);
          if (problem) throw new Error(`${req.method} ${url.slice(0, 200)} -> ${problem}`);
        }),
        { seed: SEED + i, numRuns: RUNS_PER_ROUTE, endOnFailure: true },
      );
      if (result.failed) failures.push(`HTTP ${route.method} ${route.path}: ${result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance)} (seed ${SEED + i}, path ${result.counterexamplePath})`);
    }
    console.log(`fuzzed ${routes.length} routes with ${sent} requests; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}; ${reached.size} routes answered a success`);
    console.log(`routes never answered a success: ${routes.map((r) => `${r.method} ${r.path}`).filter((r) => !reached.has(r)).join(', ')}`);
    expect(failures.filter((f) => f.startsWith('HTTP'))).toEqual([]);
  }, DEEP_TIMEOUT_MS);

  it('every socket event: every ack well formed, no internal errors, sockets survive', async () => {
    const tokenFor = (spec: NamespaceSpec) => (spec.access === 'worker' ? tokens.worker : spec.access === 'admin' ? tokens.admin : tokens.user);
    let sent = 0;
    let eventCount = 0;
    const acks = new Map<string, number>();
    for (const [n, spec] of hub.app.namespaces.entries()) {
      let socket: Socket = await connectSocket(hub.url, spec.name, tokenFor(spec));
      const refresh = { event: 'auth:refresh', summary: '', schema: (await import('../../src/transport/socket/namespace.js')).AuthRefreshSchema, handler: async () => null } as SocketEventSpec;
      for (const [e, ev] of [...spec.events, refresh].entries()) {
        eventCount++;
        const arbs = schemaArbitraries(ev.schema);
        const args = fc.oneof({ weight: 8, arbitrary: arbs.payload.map((p) => [p]) }, { weight: 1, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.tuple(arbs.shaped, nasty) }, { weight: 1, arbitrary: fc.constant([Buffer.from([1, 2, 3])]) });
        const result = await fc.check(
          fc.asyncProperty(args, fc.boolean(), async (payload, withAck) => {
            sent++;
            if (!socket.connected) socket = await connectSocket(hub.url, spec.name, tokenFor(spec));
            if (!withAck) {
              socket.emit(ev.event, ...payload);
              return;
            }
            const reply = (await socket.timeout(10_000).emitWithAck(ev.event, ...payload)) as unknown;
            const problem = isAck(reply);
            if (problem) throw new Error(`${spec.name} ${ev.event}(${JSON.stringify(payload).slice(0, 200)}) -> ${problem}`);
            const r = reply as { ok: boolean; data?: unknown; error?: { code: string } };
            acks.set(r.ok ? 'ok' : r.error!.code, (acks.get(r.ok ? 'ok' : r.error!.code) ?? 0) + 1);
            if (r.ok && ev.reply) {
              const parsed = ev.reply.safeParse(r.data);
              if (!parsed.success) throw new Error(`${spec.name} ${ev.event} ok ack does not match its documented reply: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
            }
          }),
          { seed: SEED + 1000 + n * 100 + e, numRuns: RUNS_PER_EVENT, endOnFailure: true },
        );
        if (result.failed) failures.push(`socket ${spec.name} ${ev.event}: ${result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance)} (seed ${SEED + 1000 + n * 100 + e})`);
      }
      // Raw socket.io packets the typed client would never produce, written straight onto the transport.
      const engine = (socket.io as unknown as { engine: { write(msg: string): void } }).engine;
      const prefix = spec.name === '/' ? '' : `${spec.name},`;
      const raw = fc.oneof(
        fc.string({ maxLength: 60 }),
        fc.jsonValue({ maxDepth: 3 }).map((v) => `2${prefix}${JSON.stringify(v)}`),
        fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.nat(1_000_000)).map(([v, id]) => `2${prefix}${id}${JSON.stringify(['job:watch', v])}`),
        fc.constantFrom('2', '2[', `2${prefix}[]`, `2${prefix}[null]`, `2${prefix}[{}]`, `5${prefix}1-["x",{"_placeholder":true,"num":9}]`, `3${prefix}1[]`, '0', '1', `9${prefix}`, `2${prefix}["__proto__",{}]`),
      );
      const rawResult = await fc.check(
        fc.asyncProperty(raw, async (frame) => {
          sent++;
          if (!socket.connected) socket = await connectSocket(hub.url, spec.name, tokenFor(spec));
          engine.write(frame);
        }),
        { seed: SEED + 5000 + n, numRuns: RUNS_PER_EVENT * 2 },
      );
      if (rawResult.failed) failures.push(`raw ${spec.name}: ${String(rawResult.errorInstance)}`);
      socket.close();
    }
    console.log(`fuzzed ${eventCount} socket events on ${hub.app.namespaces.length} namespaces with ${sent} emits/frames; acks ${JSON.stringify(Object.fromEntries(acks))}`);
    expect(failures.filter((f) => !f.startsWith('HTTP'))).toEqual([]);
  }, DEEP_TIMEOUT_MS);

  it('handshakes with bad auth are refused with a code; the hub is healthy afterwards', async () => {
    for (const [i, spec] of hub.app.namespaces.entries()) {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.constantFrom<unknown>(undefined, '', 'x', tokens.guest, 12, null, ['a'], { a: 1 }), fc.string({ maxLength: 40 })), async (token) => {
          const result: { connected: boolean; code?: unknown } = await connectSocket(hub.url, spec.name, token as string).then(
            (s) => (s.close(), { connected: true }),
            (err: { data?: { code?: unknown } }) => ({ connected: false, code: err.data?.code }),
          );
          if (result.connected) expect(spec.access === 'actor' && token === tokens.guest).toBe(true);
          else expect(typeof result.code).toBe('string');
        }),
        { seed: SEED + 9000 + i, numRuns: 8 },
      );
    }
    // Healthy: liveness, readiness, a fresh sign-in, a socket round trip, and nothing counted as internal.
    expect((await api(hub.url, 'GET', '/health')).status).toBe(200);
    expect((await api(hub.url, 'GET', '/ready')).status).toBe(200);
    const again = await registerAndLogin(hub.url, 'fuzz_after');
    const s = await connectSocket(hub.url, '/', again.token);
    const ack = (await s.timeout(5000).emitWithAck('job:watch', { jobId: '00000000-0000-4000-8000-000000000000' })) as { ok: boolean; error?: { code: string } };
    expect(ack.ok).toBe(false);
    expect(ack.error?.code).toMatch(/not_found|forbidden/);
    s.close();
    const internal = (await hub.app.metrics.errors.get()).values.filter((v) => v.labels.code === 'internal');
    expect(internal.map((v) => v.labels)).toEqual([]);
  }, 60_000);
});
