import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { migrations } from '../../src/migrations/index.js';
import { json, route } from '../../src/transport/http/types.js';
import { api, connectSocket, emitAck, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every `#/...` $ref in a document must point at something in that document. */
function unresolvedRefs(doc: Doc): string[] {
  const bad: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') {
        const target = v.startsWith('#/') ? v.slice(2).split('/').reduce<unknown>((acc, p) => (acc as Doc | undefined)?.[p], doc) : undefined;
        if (target === undefined) bad.push(v);
      } else walk(v);
    }
  };
  walk(doc);
  return bad;
}

function resolveRef(doc: Doc, ref: string): Doc {
  const target = ref.slice(2).split('/').reduce<Doc | undefined>((acc, p) => acc?.[p], doc);
  if (!target) throw new Error(`unresolved ${ref}`);
  return target;
}

function runScript(script: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `scripts/${script}`, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('ops endpoints (single node, uws)', () => {
  let db: TestDatabase;
  let hub: TestHub;
  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, engine: 'uws' });
    // Added after startup and before the first /openapi.json request: the document must still list it.
    hub.app.router.add(
      route({
        method: 'GET',
        path: '/api/v1/_late/:item_id/things',
        summary: 'A route registered late',
        tags: ['late'],
        auth: 'actor',
        params: z.strictObject({ item_id: z.coerce.number().int().positive() }),
        query: z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(20), cursor: z.string().optional().describe('opaque cursor') }),
        responses: { 200: z.object({ items: z.array(z.object({ id: z.int() })), next_cursor: z.string().nullable() }) },
        handler: async () => json({ items: [], next_cursor: null }),
      }),
    );
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  it('GET /health answers with the engine', async () => {
    const res = await api(hub.url, 'GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', engine: 'uws' });
    expect(typeof res.body.uptime_s).toBe('number');
  });

  it('GET /ready reports the database and says Redis is not configured', async () => {
    const res = await api(hub.url, 'GET', '/ready');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ready');
    expect(res.body.checks.db).toBe('ok');
    expect(res.body.checks.redis).toMatch(/not configured/);
  });

  it('GET /metrics exposes HTTP, socket and error metrics', async () => {
    const { token } = await registerAndLogin(hub.url, 'metrics_user');
    expect((await api(hub.url, 'GET', '/no/such/route')).status).toBe(404);
    const socket = await connectSocket(hub.url, '/', token);
    try {
      expect((await emitAck(socket, 'auth:refresh', { token })).ok).toBe(true);
      expect((await emitAck(socket, 'no:such:event', {})).ok).toBe(false);
      const res = await api(hub.url, 'GET', '/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = res.body as string;
      expect(text).toMatch(/^easel_http_request_duration_seconds_bucket\{.*route="\/api\/v1\/auth\/register".*status="201"/m);
      expect(text).toMatch(/^easel_sockets_connected\{namespace="\/"\} 1$/m);
      expect(text).toMatch(/^easel_socket_events_total\{namespace="\/",event="auth:refresh",outcome="ok"\} 1$/m);
      expect(text).toMatch(/^easel_socket_events_total\{namespace="\/",event="unknown",outcome="unknown_event"\} 1$/m);
      expect(text).toMatch(/^easel_errors_total\{transport="http",code="route_not_found"\} 1$/m);
      expect(text).toMatch(/^easel_errors_total\{transport="socket",code="unknown_event"\} 1$/m);
      expect(text).toMatch(/^easel_process_cpu_seconds_total /m);
    } finally {
      socket.close();
    }
    // The gauge goes back down when the socket leaves.
    await expect.poll(async () => (await api(hub.url, 'GET', '/metrics')).body as string).toMatch(/^easel_sockets_connected\{namespace="\/"\} 0$/m);
  });

  it('GET /openapi.json documents every route in the router', async () => {
    const res = await api<Doc>(hub.url, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const doc = res.body;
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: 'Easel', version: expect.any(String) });
    const routes = hub.app.router.routes;
    expect(routes.length).toBeGreaterThan(10);
    for (const r of routes) {
      const path = r.path.replace(/:(\w+)/g, '{$1}');
      expect(doc.paths[path]?.[r.method.toLowerCase()], `${r.method} ${r.path}`).toMatchObject({ summary: r.summary, tags: r.tags });
    }
    const operations = Object.values(doc.paths as Doc).flatMap((item) => Object.keys(item));
    expect(operations.length).toBe(routes.length);
    for (const p of ['/health', '/ready', '/metrics', '/openapi.json', '/asyncapi.json', '/docs']) expect(doc.paths[p]?.get, p).toBeDefined();
    expect(unresolvedRefs(doc)).toEqual([]);
    const ids = Object.values(doc.paths as Doc).flatMap((item) => Object.values(item as Doc).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('documents auth request bodies, security and problem responses', async () => {
    const doc = (await api<Doc>(hub.url, 'GET', '/openapi.json')).body;
    const register = doc.paths['/api/v1/auth/register'].post;
    const body = register.requestBody.content['application/json'].schema;
    expect(body).toMatchObject({ type: 'object', additionalProperties: false, required: expect.arrayContaining(['username', 'password']) });
    expect(body.properties.password).toMatchObject({ type: 'string', minLength: 8 });
    expect(register.responses['201'].content['application/json'].schema.properties).toHaveProperty('username');
    expect(register.responses['422'].content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
    expect(register.responses['429']).toBeDefined(); // rate limited route
    expect(register.security).toEqual([]);

    const token = doc.paths['/api/v1/auth/token'].post;
    expect(Object.keys(token.requestBody.content)).toEqual(expect.arrayContaining(['application/json', 'application/x-www-form-urlencoded']));
    expect(token.requestBody.content['application/x-www-form-urlencoded'].schema.properties).toHaveProperty('username');
    expect(token.responses['200'].content['application/json'].schema.properties).toHaveProperty('refresh_token');
    expect(doc.paths['/api/v1/auth/refresh'].post.requestBody.content['application/json'].schema.required).toEqual(['refresh_token']);

    const me = doc.paths['/api/v1/auth/me'];
    expect(me.get.security).toEqual([{ bearer: [] }]);
    expect(me.get['x-auth']).toBe('user');
    expect(me.get.responses['401'].content['application/problem+json']).toBeDefined();
    expect(me.delete.requestBody.content['application/json'].schema.required).toEqual(['current_password']);
    expect(doc.paths['/api/v1/auth/logout'].post.security).toEqual([{}, { bearer: [] }]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.Problem).toMatchObject({ type: 'object', required: expect.arrayContaining(['type', 'title', 'status', 'detail', 'code']) });
    for (const item of Object.values(doc.paths as Doc)) {
      for (const op of Object.values(item as Doc)) {
        expect(op.responses.default.content['application/problem+json'].schema.$ref).toBe('#/components/schemas/Problem');
      }
    }
  });

  it('converts path and query parameters of a late route', async () => {
    const op = (await api<Doc>(hub.url, 'GET', '/openapi.json')).body.paths['/api/v1/_late/{item_id}/things']?.get;
    expect(op).toBeDefined();
    const params = Object.fromEntries((op.parameters as Doc[]).map((p) => [`${p.in}:${p.name}`, p]));
    expect(params['path:item_id']).toMatchObject({ required: true, schema: { type: 'integer', exclusiveMinimum: 0 } });
    expect(params['query:limit']).toMatchObject({ required: false, schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } });
    expect(params['query:cursor']).toMatchObject({ required: false, description: 'opaque cursor' });
    expect(op.security).toEqual([{ bearer: [] }]);
    expect(op.responses['403']).toBeDefined();
  });

  it('GET /asyncapi.json lists every namespace with its events and pushes', async () => {
    const res = await api<Doc>(hub.url, 'GET', '/asyncapi.json');
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.asyncapi).toBe('3.0.0');
    expect(unresolvedRefs(doc)).toEqual([]);
    const channels = Object.entries(doc.channels as Doc);
    const addresses = channels.map(([, c]) => c.address);
    expect(addresses).toEqual(hub.app.namespaces.map((n) => n.name));
    const ops = Object.values(doc.operations as Doc);
    for (const ns of hub.app.namespaces) {
      const [id] = channels.find(([, c]) => c.address === ns.name)!;
      const names = (action: string) =>
        ops
          .filter((o) => o.channel.$ref === `#/channels/${id}` && o.action === action)
          .map((o) => resolveRef(doc, resolveRef(doc, o.messages[0].$ref).$ref).name);
      expect(names('receive'), ns.name).toEqual(expect.arrayContaining(['auth:refresh', ...ns.events.map((e) => e.event)]));
      expect(names('send'), ns.name).toEqual(expect.arrayContaining(['auth:expired', ...ns.pushes.map((p) => p.event)]));
      expect(doc.channels[id]['x-access']).toBe(ns.access);
    }
    const refresh = ops.find((o) => o.channel.$ref === '#/channels/root' && o.title === 'emit auth:refresh')!;
    const payload = resolveRef(doc, resolveRef(doc, refresh.messages[0].$ref).$ref).payload;
    expect(payload).toMatchObject({ type: 'object', required: ['token'], additionalProperties: false });
    expect(refresh.reply.messages).toHaveLength(1);
    // Same document on a second request (cached), still valid JSON.
    expect((await api<Doc>(hub.url, 'GET', '/asyncapi.json')).body).toEqual(doc);
  });
});

describe('ops with Redis (node engine)', () => {
  let db: TestDatabase;
  let hub: TestHub;
  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, engine: 'node', redis: true });
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  it('GET /ready checks Redis too', async () => {
    const res = await api(hub.url, 'GET', '/ready');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', checks: { db: 'ok', redis: 'ok' } });
  });

  it('serves the same documents on the node engine', async () => {
    const doc = (await api<Doc>(hub.url, 'GET', '/openapi.json')).body;
    expect(Object.keys(doc.paths)).toContain('/api/v1/auth/register');
    expect((await api(hub.url, 'GET', '/health')).body.engine).toBe('node');
  });
});

// Every test spawns tsx processes (2–4 s each on a loaded 2-core CI machine): the 30 s default is too close.
describe('CLI scripts', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let hub: TestHub | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  it('npm run migrate applies every migration once, then reports up to date', async () => {
    const first = await runScript('migrate.ts', [], { DATABASE_URL: db.url });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout.trim().split('\n')).toEqual(migrations.map((m) => `applied ${m.name}`));
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const rows = await client.query<{ name: string }>('select name from mikro_orm_migrations order by id');
      expect(rows.rows.map((r) => r.name)).toEqual(migrations.map((m) => m.name));
    } finally {
      await client.end();
    }
    const second = await runScript('migrate.ts', [], { DATABASE_URL: db.url });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/up to date/);
  });

  it('migrate rejects arguments and bad configuration', async () => {
    const args = await runScript('migrate.ts', ['--force'], { DATABASE_URL: db.url });
    expect(args.code).toBe(2);
    expect(args.stderr).toMatch(/usage: npm run migrate/);
    const badUrl = await runScript('migrate.ts', [], { DATABASE_URL: 'mysql://nope' });
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toMatch(/Invalid configuration[\s\S]*db\.url/);
  });

  it('npm run token:worker prints a token the hub accepts as that worker', async () => {
    hub = await startTestHub({ dbUrl: db.url });
    const out = await runScript('token-worker.ts', ['--id', 'gpu-1', '--ttl', '3600'], {});
    expect(out.code).toBe(0);
    const token = out.stdout.trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(out.stderr).toMatch(/expires in 3600s/);
    const actor = await hub.app.identity.authenticate(hub.orm.em.fork(), token);
    expect(actor).toMatchObject({ kind: 'worker', workerId: 'gpu-1' });
    expect(actor.expiresAt - Date.now() / 1000).toBeGreaterThan(3500);
    expect(actor.expiresAt - Date.now() / 1000).toBeLessThanOrEqual(3600);
  });

  it('token:worker explains bad arguments with exit code 2', async () => {
    const cases = [[], ['--id'], ['--id', 'gpu 1'], ['--id', 'gpu-1', '--ttl', 'soon'], ['--id', 'gpu-1', '--ttl', '0'], ['--id', 'a', '--nope']];
    const outs = await Promise.all(cases.map((args) => runScript('token-worker.ts', args, {})));
    cases.forEach((args, i) => {
      expect(outs[i]!.code, args.join(' ')).toBe(2);
      expect(outs[i]!.stderr).toMatch(/usage: npm run token:worker/);
      expect(outs[i]!.stdout).toBe('');
    });
  });

  it('npm run admin:create creates, then reports an existing admin; the admin can sign in', async () => {
    hub ??= await startTestHub({ dbUrl: db.url });
    const created = await runScript('admin-create.ts', ['--username', 'root', '--password', 's3cret-pass'], { DATABASE_URL: db.url });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/admin 'root': created/);
    const login = await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'root', password: 's3cret-pass' } });
    expect(login.status).toBe(200);
    const me = await api(hub.url, 'GET', '/api/v1/auth/me', { token: login.body.access_token });
    expect(me.body).toMatchObject({ username: 'root', role: 'admin' });
    const again = await runScript('admin-create.ts', ['--username', 'root'], { DATABASE_URL: db.url, ADMIN_PASSWORD: 'another-pass' });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already an admin/);
  });

  it('admin:create promotes an existing user, with the password from ADMIN_PASSWORD', async () => {
    hub ??= await startTestHub({ dbUrl: db.url });
    const { token } = await registerAndLogin(hub.url, 'promote_me');
    expect((await api(hub.url, 'GET', '/api/v1/auth/me', { token })).body.role).toBe('user');
    const out = await runScript('admin-create.ts', ['--username', 'promote_me'], { DATABASE_URL: db.url, ADMIN_PASSWORD: 'whatever-pass' });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/promoted/);
    expect((await api(hub.url, 'GET', '/api/v1/auth/me', { token })).body.role).toBe('admin');
  });

  it('admin:create explains bad arguments with exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [[], /--username is required[\s\S]*--password or ADMIN_PASSWORD is required/],
      [['--username', 'root'], /--password or ADMIN_PASSWORD is required/],
      [['--username', 'root', '--password', 'short'], /password: must be at least 8/],
      [['--username', 'no spaces!', '--password', 'long-enough'], /--username: letters, digits/],
      [['--username', 'root', '--password', 'long-enough', 'extra'], /Unexpected argument|positional/i],
    ];
    const outs = await Promise.all(cases.map(([args]) => runScript('admin-create.ts', args, { DATABASE_URL: db.url })));
    cases.forEach(([args, message], i) => {
      expect(outs[i]!.code, args.join(' ')).toBe(2);
      expect(outs[i]!.stderr).toMatch(message);
      expect(outs[i]!.stderr).toMatch(/usage: npm run admin:create/);
    });
  });
});
