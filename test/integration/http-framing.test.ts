import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusTitle } from '../../src/platform/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { rawExchange, statusLines } from '../helpers/http-raw.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

/** Raw-socket checks of what goes on the wire: status lines and refused request framing. */
describe.each(['uws', 'node'] as const)('HTTP framing on %s', (engine) => {
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

  const post = (headers: string, body: string) => `POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}\r\n${body}`;

  it('status lines carry the standard reason phrase', async () => {
    const register = JSON.stringify({ username: `framing_${engine}`, password: 'correct-horse-battery' });
    const { text } = await rawExchange(
      hub.app.port,
      'GET /health HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n' +
        'DELETE /health HTTP/1.1\r\nHost: x\r\n\r\n' +
        `POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${register.length}\r\nConnection: close\r\n\r\n${register}`,
      3000,
    );
    expect(statusLines(text)).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 404 Not Found', 'HTTP/1.1 405 Method Not Allowed', 'HTTP/1.1 201 Created']);
  });

  it('a request pipelined behind bad framing is never served', async () => {
    const smuggled = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';
    const { text, closedByServer } = await rawExchange(hub.app.port, post('Content-Length: 2\r\nContent-Length: 40\r\n', `{}${smuggled}`), 3000);
    expect(statusLines(text).every((l) => l === 'HTTP/1.1 400 Bad Request')).toBe(true);
    expect(text).not.toContain('"status":"ok"');
    expect(closedByServer).toBe(true);
    // A fresh connection from the same address is served again.
    expect(statusLines((await rawExchange(hub.app.port, `GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).text)).toEqual(['HTTP/1.1 200 OK']);
  });

  it.each([
    ['two different Content-Length headers', 'Content-Length: 2\r\nContent-Length: 10\r\n'],
    ['the same Content-Length twice', 'Content-Length: 2\r\nContent-Length: 2\r\n'],
    ['a malformed Content-Length', 'Content-Length: 2x\r\n'],
    ['a list in Content-Length', 'Content-Length: 2, 2\r\n'],
    ['a negative Content-Length', 'Content-Length: -2\r\n'],
    ['Content-Length with Transfer-Encoding', 'Content-Length: 2\r\nTransfer-Encoding: chunked\r\n'],
  ])('%s: 400 and the connection is closed', async (_name, headers) => {
    const { text, closedByServer } = await rawExchange(hub.app.port, post(headers, '{}'), 3000);
    expect(statusLines(text)[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(closedByServer).toBe(true);
  });
});

describe('statusTitle', () => {
  it('knows every common code and falls back by class', () => {
    expect(statusTitle(200)).toBe('OK');
    expect(statusTitle(201)).toBe('Created');
    expect(statusTitle(206)).toBe('Partial Content');
    expect(statusTitle(304)).toBe('Not Modified');
    expect(statusTitle(413)).toBe('Content Too Large');
    expect(statusTitle(499)).toBe('Client Error');
    expect(statusTitle(599)).toBe('Server Error');
  });
});
