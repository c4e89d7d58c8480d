/**
 * `npm run cluster` (scripts/cluster.ts): N hub processes and M workers on loopback against the local PostgreSQL
 * and Redis. Two hubs and one worker: both hubs ready, one account and one token valid on both, media uploaded
 * to one served by the other (shared DATA_DIR), a like on one hub pushed to a watcher on the other (Redis), the
 * worker registered; stop() ends every process. The CLI refuses bad flags with its usage text.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../../scripts/cluster.js';
import { makePng } from '../../src/modules/media/test-fixtures.js';
import { api, connectSocket, emitAck, nextEvent, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('npm run cluster: two hubs and a worker on loopback', () => {
  let db: TestDatabase;
  let cluster: RunningCluster;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    cluster = await startCluster({ hubs: 2, workers: 1, port: 0, databaseUrl: db.url, logLevel: 'warn' });
  }, 150_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    await cluster?.stop();
    await db?.drop();
  }, 60_000);

  it('starts every hub ready and the worker registered', async () => {
    expect(cluster.hubs).toHaveLength(2);
    expect(new Set(cluster.hubs.map((h) => h.port)).size).toBe(2);
    for (const hub of cluster.hubs) {
      const ready = await api(hub.url, 'GET', '/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.checks).toEqual({ db: 'ok', redis: 'ok' });
    }
    expect(cluster.workers).toHaveLength(1);
    expect(cluster.workers[0]!.child.exitCode).toBeNull();
    expect(cluster.workers[0]!.hubUrl).toBe(cluster.hubs[0]!.url);
  });

  it('shares accounts, media and broadcasts: post on hub1, like on hub1, watcher and download on hub2', async () => {
    const [a, b] = cluster.hubs as [RunningCluster['hubs'][number], RunningCluster['hubs'][number]];
    const poster = await registerAndLogin(a.url, 'cluster_poster');
    expect((await api(b.url, 'GET', '/api/v1/auth/me', { token: poster.token })).status).toBe(200);

    const form = new FormData();
    form.append('prompt', 'cluster test');
    form.append('file', new Blob([await makePng(40, 30)], { type: 'image/png' }), 'c.png');
    const posted = await fetch(`${a.url}/api/v1/images`, { method: 'POST', body: form, headers: { authorization: `Bearer ${poster.token}` } });
    expect(posted.status).toBe(201);
    const image = (await posted.json()) as { id: number; media: { sha256: string } } & Record<string, unknown>;
    const sha = image.media?.sha256 ?? (JSON.stringify(image).match(/[0-9a-f]{64}/) ?? [])[0];
    expect(sha).toMatch(/^[0-9a-f]{64}$/);
    const served = await fetch(`${b.url}/api/v1/media/${sha}`);
    expect(served.status).toBe(200);

    const watcher = await connectSocket(b.url, '/', poster.token);
    sockets.push(watcher);
    expect((await emitAck(watcher, 'image:watch', { imageId: image.id })).ok).toBe(true);
    const liker = await registerAndLogin(a.url, 'cluster_liker');
    const pushed = nextEvent<{ imageId: number; like_count: number }>(watcher, 'image:likes', 15_000);
    expect((await api(a.url, 'PUT', `/api/v1/images/${image.id}/like`, { token: liker.token })).status).toBe(200);
    expect(await pushed).toMatchObject({ imageId: image.id, like_count: 1 });
  });

  it('stop() ends every process and removes the temporary DATA_DIR', async () => {
    const { dataDir } = cluster;
    await cluster.stop();
    for (const p of [...cluster.hubs, ...cluster.workers]) expect(p.child.exitCode !== null || p.child.signalCode !== null, p.name).toBe(true);
    expect(existsSync(dataDir)).toBe(false);
  }, 60_000);
});

describe('npm run cluster: bad flags', () => {
  const cases: [string[], string][] = [
    [['--hubs', '0'], '--hubs must be a whole number >= 1'],
    [['--workers', '-1'], '--workers'],
    [['--engine', 'nginx'], '--engine must be auto, uws or node'],
    [['--port', '65535', '--hubs', '2'], 'leaves no room'],
    [['--bogus'], 'Unknown option'],
  ];
  it(`each of ${cases.map(([a]) => a.join(' ')).join(', ')} exits 2 with its reason and the usage`, async () => {
    const run = (args: string[]) =>
      new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/cluster.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('exit', (status) => resolve({ status, stderr }));
      });
    const results = await Promise.all(cases.map(([args]) => run(args)));
    cases.forEach(([args, message], i) => {
      const res = results[i]!;
      expect(res.status, `${args.join(' ')}: ${res.stderr}`).toBe(2);
      expect(res.stderr, args.join(' ')).toContain(message);
      expect(res.stderr, args.join(' ')).toContain('usage: npm run cluster');
    });
  }, 60_000);
});
