import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startChildHub } from '../helpers/child-hub.js';
import { api, connectSocket, registerAndLogin } from '../helpers/clients.js';

const NO_UWS = ['--import', fileURLToPath(new URL('../helpers/no-uws.mjs', import.meta.url))];

// The hub runs in a child process whose module loader refuses uWebSockets.js, as on a platform without its binary.
describe('engine fallback when uWebSockets.js cannot load', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('auto falls back to node:http, says so, and serves HTTP and sockets', async () => {
    const hub = await startChildHub({ env: { HTTP_ENGINE: 'auto', DATABASE_URL: db.url }, nodeArgs: NO_UWS });
    try {
      expect((await api(hub.url, 'GET', '/health')).body.engine).toBe('node');
      expect(hub.logs.some((l) => l.level === 40 && String(l.msg).includes('falling back to node:http'))).toBe(true);
      const { token } = await registerAndLogin(hub.url, 'fallback_user');
      const socket = await connectSocket(hub.url, '/', token);
      expect(socket.connected).toBe(true);
      socket.close();
    } finally {
      expect(await hub.stop()).toBe(0);
    }
  });

  it('a forced uws engine that cannot load is a startup error, not a silent fallback', async () => {
    const failed = await startChildHub({ env: { HTTP_ENGINE: 'uws', DATABASE_URL: db.url }, nodeArgs: NO_UWS }).then(
      () => null,
      (err: Error & { code?: number | null; stderr?: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('HTTP_ENGINE=uws');
  });

  it('the same machine with the binary available uses uWS under auto', async () => {
    const hub = await startChildHub({ env: { HTTP_ENGINE: 'auto', DATABASE_URL: db.url } });
    try {
      expect((await api(hub.url, 'GET', '/health')).body.engine).toBe('uws');
    } finally {
      await hub.stop();
    }
  });
});
