import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { api, connectSocket, emitAck, registerAndLogin } from '../helpers/clients.js';

describe.each(['uws', 'node'] as const)('smoke on %s', (engine) => {
  let db: TestDatabase;
  let hub: TestHub;
  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, engine });
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  it('serves health on the requested engine and authenticates a socket', async () => {
    const health = await api(hub.url, 'GET', '/health');
    expect(health.body.engine).toBe(engine);
    const { token } = await registerAndLogin(hub.url, 'smoke_user');
    const socket = await connectSocket(hub.url, '/', token);
    const ack = await emitAck(socket, 'auth:refresh', { token });
    expect(ack.ok).toBe(true);
    const bad = await emitAck(socket, 'auth:refresh', { token: 5 });
    expect(bad).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    socket.close();
  });
});
