import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { connectSocket, emitAck, registerAndLogin } from '../helpers/clients.js';

// What an idle socket holds on the hub beyond socket.io's own objects (load-tests/socket-memory.ts measures
// the bytes): no timer, no listener array or limiter entry of its own, no leftover upgrade response.
const SOCKETS = 40;
const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe.each(['uws', 'node'] as const)('per-socket footprint on %s', (engine) => {
  let db: TestDatabase;
  let hub: TestHub;
  let token: string;
  const open: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, engine, overrides: { sockets: { maxPerIdentity: SOCKETS + 10 } } });
    token = (await registerAndLogin(hub.url, `footprint_${engine}`)).token;
  });
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  it('arms no timer per socket (one expiry wheel per namespace)', async () => {
    open.push(await connectSocket(hub.url, '/', token));
    const before = timeouts();
    for (let i = 0; i < SOCKETS; i++) open.push(await connectSocket(hub.url, '/', token));
    // Two timers per socket belong to socket.io itself: the client's ping timeout (the clients live in this
    // process) and engine.io's server-side ping. A third per socket would be the hub's own (the old
    // setTimeout per socket for token expiry measured 3 per socket here).
    expect(timeouts() - before).toBeLessThanOrEqual(2 * SOCKETS + 5);
    const server = [...hub.app.io.of('/').sockets.values()];
    expect(server.length).toBe(SOCKETS + 1);
  });

  it('shares one any-listener array across sockets and still dispatches and rate-limits each socket', async () => {
    for (let i = 0; i < 3; i++) open.push(await connectSocket(hub.url, '/', token));
    const [a, b] = [...hub.app.io.of('/').sockets.values()];
    expect(a!.listenersAny()).toBe(b!.listenersAny());
    expect(Object.isFrozen(a!.listenersAny())).toBe(true);
    // A later onAny on one socket fails loudly instead of reaching every socket.
    expect(() => a!.onAny(() => {})).toThrow(TypeError);
    expect(await emitAck(open[0]!, 'no:such', {})).toMatchObject({ ok: false, error: { code: 'unknown_event' } });
    const { limit } = hub.config.rateLimits.socketEvents;
    const acks = await Promise.all(Array.from({ length: limit + 5 }, () => emitAck(open[1]!, 'no:such', {})));
    expect(acks.some((x) => x.error?.code === 'rate_limited')).toBe(true);
    expect(await emitAck(open[2]!, 'no:such', {})).toMatchObject({ error: { code: 'unknown_event' } });
  });

  // node:http's engine keeps no response for an upgraded request; uWS's kept one per socket (see
  // src/transport/socket/upgrade-response.ts).
  it.runIf(engine === 'uws')('keeps no HTTP response object for a WebSocket once it is connected', async () => {
    open.push(await connectSocket(hub.url, '/', token));
    const socket = [...hub.app.io.of('/').sockets.values()][0]!;
    const conn = socket.conn as unknown as { request: { res?: unknown }; transport: { name: string; socket?: { getUserData?: () => { response?: unknown } } } };
    expect(conn.transport.name).toBe('websocket');
    expect(conn.request.res ?? null).toBeNull();
    expect(conn.transport.socket!.getUserData!().response).toBeUndefined();
  });
});
