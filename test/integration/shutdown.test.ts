import { Agent, request } from 'node:http';
import { io as ioClient, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { json, route } from '../../src/transport/http/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { api, connectSocket, nextEvent, registerAndLogin } from '../helpers/clients.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET over a given agent, so a request can ride an already-open keep-alive connection. */
function getVia(agent: Agent, url: string): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.each(['uws', 'node'] as const)('graceful shutdown on %s', (engine) => {
  let db: TestDatabase;
  let hub: TestHub | undefined;
  let token: string;
  const open: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const first = await startTestHub({ dbUrl: db.url, engine, redis: true });
    token = (await registerAndLogin(first.url, `shutdown_${engine}`)).token;
    await first.stop();
  });
  afterEach(async () => {
    for (const s of open.splice(0)) s.close();
    await hub?.stop();
    hub = undefined;
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('tells sockets to reconnect and closes them so socket.io-client auto-reconnects', async () => {
    hub = await startTestHub({ dbUrl: db.url, engine, redis: true });
    const ws = await connectSocket(hub.url, '/', token, ['websocket']);
    const polling = await connectSocket(hub.url, '/', token, ['polling']);
    // A client as an app would configure it: reconnection on.
    const app = ioClient(`${hub.url}/`, { auth: { token }, transports: ['websocket'], forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
    open.push(ws, polling, app);
    await new Promise<void>((r) => app.once('connect', () => r()));

    const sockets = [ws, polling, app];
    const notices = sockets.map((s) => nextEvent(s, 'server:shutdown', 5000));
    const reasons = sockets.map((s) => new Promise<string>((resolve) => s.once('disconnect', (reason) => resolve(reason))));
    const retried = new Promise<void>((resolve) => app.io.once('reconnect_attempt', () => resolve()));
    await hub.app.close();

    for (const notice of notices) expect(await notice).toMatchObject({ reconnect: true, reason: expect.any(String) });
    for (const reason of await Promise.all(reasons)) {
      // 'io server disconnect' would stop socket.io-client from reconnecting; a transport-level close does not.
      expect(['transport close', 'transport error']).toContain(reason);
    }
    for (const s of sockets) expect(s.active).toBe(true);
    await retried;
    // The node no longer accepts connections.
    await expect(api(hub.url, 'GET', '/health')).rejects.toThrow();
  });

  it('reports draining on /ready and lets an in-flight request finish before close resolves', async () => {
    hub = await startTestHub({ dbUrl: db.url, engine, redis: true });
    const events: string[] = [];
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    hub.app.router.add(
      route({
        method: 'GET',
        path: '/test/slow',
        summary: 'test only: answers after a delay',
        tags: ['test'],
        auth: 'none',
        handler: async () => {
          entered();
          await sleep(700);
          events.push('handler done');
          return json({ done: true });
        },
      }),
    );
    // A load balancer's health checker holds a keep-alive connection open.
    const checker = new Agent({ keepAlive: true, maxSockets: 1 });
    expect((await getVia(checker, `${hub.url}/ready`)).status).toBe(200);

    const slow = api(hub.url, 'GET', '/test/slow');
    await inHandler;
    const closed = hub.app.close().then(() => events.push('close resolved'));

    const ready = await getVia(checker, `${hub.url}/ready`).catch((err: Error) => err);
    if (engine === 'uws') {
      // uWS keeps idle keep-alive connections through the drain, so the checker sees the 503.
      expect(ready).toMatchObject({ status: 503, body: { status: 'unavailable', checks: { shutdown: 'draining' } } });
    } else if (!(ready instanceof Error)) {
      // node:http closes idle connections when it stops listening; if the request got through, it says draining.
      expect(ready).toMatchObject({ status: 503, body: { checks: { shutdown: 'draining' } } });
    }

    const res = await slow;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ done: true });
    await closed;
    // Server-side order: the handler finished (and its response was written) before close resolved. When the
    // client sees the response is a network matter, so it is not part of the assertion.
    expect(events).toEqual(['handler done', 'close resolved']);
    checker.destroy();
  });

  it('a second close() waits for the same drain instead of resolving early', async () => {
    hub = await startTestHub({ dbUrl: db.url, engine, redis: true });
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    const events: string[] = [];
    hub.app.router.add(
      route({ method: 'GET', path: '/test/slow2', summary: 'test only', tags: ['test'], auth: 'none', handler: async () => (entered(), await sleep(500), events.push('handler done'), json({ done: true })) }),
    );
    const slow = api(hub.url, 'GET', '/test/slow2');
    await inHandler;
    const first = hub.app.close().then(() => events.push('first close'));
    // What bootstrap's stop() does after a signal already started the drain: it must not close the ORM early.
    const second = hub.app.close().then(() => events.push('second close'));
    await Promise.all([first, second, slow]);
    expect((await slow).status).toBe(200);
    // Both closes resolve only after the in-flight handler finished (server-side order).
    expect(events[0]).toBe('handler done');
    expect(events.slice(1).sort()).toEqual(['first close', 'second close']);
    await hub.app.close();
  });
});
