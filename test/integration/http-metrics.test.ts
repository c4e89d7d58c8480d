import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { rawExchange, send } from '../helpers/http-raw.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

describe.each(['uws', 'node'] as const)('HTTP metrics and aborted requests on %s', (engine) => {
  let db: TestDatabase;
  let hub: TestHub;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, engine, redis: true });
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  async function durationSeries(): Promise<string[]> {
    const res = await send(hub.url, 'GET', '/metrics');
    return res.body.split('\n').filter((l) => l.startsWith('easel_http_request_duration_seconds_count{'));
  }

  async function errorCount(code: string): Promise<number> {
    const { values } = await hub.app.metrics.errors.get();
    return values.filter((v) => v.labels.code === code).reduce((sum, v) => sum + v.value, 0);
  }

  it('random methods and paths do not grow the label set', async () => {
    const methods: string[] = [];
    const noise = async () => {
      const method = `M${randomBytes(4).toString('hex').toUpperCase()}`;
      methods.push(method);
      await rawExchange(hub.app.port, `${method} /${randomBytes(4).toString('hex')} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      await rawExchange(hub.app.port, `${method} /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      await send(hub.url, 'GET', `/nope/${randomBytes(4).toString('hex')}`);
    };
    await noise(); // the first round may add its (bounded) series
    await durationSeries();
    const before = await durationSeries();
    for (let i = 0; i < 40; i++) await noise();
    const after = await durationSeries();
    expect(after.length).toBe(before.length);
    const text = after.join('\n');
    for (const m of methods) expect(text).not.toContain(m);
    expect(text).not.toContain('/nope');
    if (engine === 'uws') expect(text).toContain('method="other"'); // node:http refuses unknown methods before routing
  });

  it('a client that drops mid-way through a JSON body is request_aborted, not a 500', async () => {
    const internalBefore = await errorCount('internal');
    const abortedBefore = await errorCount('request_aborted');
    await new Promise<void>((resolve) => {
      const socket = connect(hub.app.port, '127.0.0.1', () => {
        socket.write('PATCH /api/v1/auth/me HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"display_name":"');
        socket.write('x'.repeat(20_000), () => setTimeout(() => socket.destroy(), 50));
      });
      socket.on('close', () => resolve());
      socket.on('error', () => undefined);
    });
    // The route needs a token: its 401 goes out before the body is read, so that request was not
    // aborted; register is read at once.
    await new Promise<void>((resolve) => {
      const socket = connect(hub.app.port, '127.0.0.1', () => {
        socket.write('POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"username":"');
        socket.write('x'.repeat(20_000), () => setTimeout(() => socket.destroy(), 50));
      });
      socket.on('close', () => resolve());
      socket.on('error', () => undefined);
    });
    await expect.poll(() => errorCount('request_aborted'), { timeout: 3000 }).toBe(abortedBefore + 1);
    expect(await errorCount('internal')).toBe(internalBefore);
    const series = await durationSeries();
    expect(series.some((l) => l.includes('route="/api/v1/auth/register"') && l.includes('status="499"'))).toBe(true);
    expect(series.some((l) => l.includes('status="500"'))).toBe(false);
  });
});
