import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, connectSocket, emitAck, registerAndLogin } from '../helpers/clients.js';
import { freePort } from '../helpers/net.js';
import { exited, processAlive } from '../helpers/process.js';

/**
 * `npm start` on a machine with no DATABASE_URL and no REDIS_URL: the hub starts a real embedded PostgreSQL
 * under DATA_DIR on its own port (never 5432), serves HTTP and sockets, and stops cleanly on SIGTERM,
 * taking the database process with it. The second start reuses the cluster (warm start).
 *
 * The child is `npm start` itself and the SIGTERM goes to npm alone, as with `npm start &` then `kill $!`:
 * npm forwards it to its script's process, which `exec`s node, so the hub drains and stops the cluster.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const EMBEDDED_LOG = 'no DATABASE_URL: started embedded PostgreSQL';

interface Started {
  child: ChildProcess;
  url: string;
  ms: number;
  output: () => string;
}

function childEnv(dataDir: string, port: number, pgPort: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // CI exports both; the point of this test is their absence.
  for (const name of Object.keys(env)) {
    if (name === 'DATABASE_URL' || name === 'REDIS_URL' || name.startsWith('EASEL__') || name.startsWith('npm_')) delete env[name];
  }
  return {
    ...env,
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    EASEL__DB__EMBEDDED_PORT: String(pgPort),
  };
}

async function startMain(dataDir: string, port: number, pgPort: number, timeoutMs = 90_000): Promise<Started> {
  const started = Date.now();
  const child = spawn('npm', ['start'], { cwd: ROOT, env: childEnv(dataDir, port, pgPort), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  while (Date.now() - started < timeoutMs) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`npm start exited early (${child.exitCode ?? child.signalCode}):\n${output}`);
    }
    // Both: a 200 can be read before the log lines that precede it reach this process's pipe reader.
    const ok = await fetch(`${url}/health`).then((r) => r.status === 200, () => false);
    if (ok && output.includes('"msg":"hub listening"')) return { child, url, ms: Date.now() - started, output: () => output };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`no 200 from /health within ${timeoutMs} ms:\n${output}`);
}

/** The postmaster's pid from its lock file, while the cluster runs. */
function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

describe('npm start without DATABASE_URL and REDIS_URL (embedded PostgreSQL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'easel-embedded-'));
  const running: Started[] = [];
  const pgPids: number[] = [];
  const credentials = { username: 'embedded_user', password: 'correct-horse-battery' };

  afterAll(() => {
    // Only on failure is anything still up: kill our child and its cluster, never anything else.
    for (const s of running) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    for (const pid of pgPids) if (processAlive(pid)) process.kill(pid, 'SIGQUIT');
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Runs the checks; if one fails, stops the hub anyway so the next test's start does not find it running. */
  async function checked(s: Started, checks: () => Promise<void>): Promise<void> {
    try {
      await checks();
    } finally {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGTERM');
        await exited(s.child, 30_000).catch(() => s.child.kill('SIGKILL'));
      }
    }
  }

  async function stopAndCheck(s: Started, pgPid: number): Promise<void> {
    s.child.kill('SIGTERM');
    const { code, signal } = await exited(s.child, 30_000);
    expect({ code, signal }, s.output()).toEqual({ code: 0, signal: null });
    expect(s.output()).toContain('"msg":"stopped"');
    expect(processAlive(pgPid)).toBe(false);
    // A clean PostgreSQL shutdown removes its lock file; a killed one leaves it behind.
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  }

  it('cold start: initdb, serves HTTP and an authenticated socket, exits 0 on SIGTERM', { timeout: 180_000 }, async () => {
    const [port, pgPort] = [await freePort(), await freePort()];
    const s = await startMain(dataDir, port, pgPort);
    running.push(s);
    console.log(`[embedded-start] cold start (initdb) to first 200 on /health: ${s.ms} ms`);
    await checked(s, async () => {
      expect(s.output()).toContain(EMBEDDED_LOG);
      expect(s.output()).toMatch(/"port":\d+,"fresh":true/);
      expect(s.output()).toContain('no REDIS_URL: single node');
      const pgPid = postmasterPid(dataDir);
      pgPids.push(pgPid);
      expect(processAlive(pgPid)).toBe(true);
      expect(readFileSync(`/proc/${pgPid}/cmdline`, 'utf8')).toContain(`-p\0${pgPort}`);

      const ready = await api(s.url, 'GET', '/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.checks.db).toBe('ok');

      const { token } = await registerAndLogin(s.url, credentials.username, credentials.password);
      const socket = await connectSocket(s.url, '/', token);
      try {
        const ack = await emitAck(socket, 'auth:refresh', { token });
        expect(ack.ok).toBe(true);
      } finally {
        socket.close();
      }

      await stopAndCheck(s, pgPid);
    });
  });

  it('warm start on the same DATA_DIR keeps the data and exits 0 on SIGTERM', { timeout: 180_000 }, async () => {
    const [port, pgPort] = [await freePort(), await freePort()];
    const s = await startMain(dataDir, port, pgPort);
    running.push(s);
    console.log(`[embedded-start] warm start (existing cluster) to first 200 on /health: ${s.ms} ms`);
    await checked(s, async () => {
      expect(s.output()).toMatch(/"port":\d+,"fresh":false/);
      const pgPid = postmasterPid(dataDir);
      pgPids.push(pgPid);

      const login = await api(s.url, 'POST', '/api/v1/auth/token', { json: credentials });
      expect(login.status).toBe(200);
      const socket = await connectSocket(s.url, '/', login.body.access_token);
      socket.close();

      await stopAndCheck(s, pgPid);
    });
  });
});
