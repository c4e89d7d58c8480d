import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/clients.js';
import { freePort } from '../helpers/net.js';

/**
 * The npm scripts an operator runs beside `npm start`: `npm run migrate` and `npm run admin:create` use the
 * embedded PostgreSQL the running hub serves (they used to fail on its port, and the printed advice then
 * crashed the CLI's error handler), and a CLI prints any failure, whatever a promise rejected with.
 */

const ROOT = resolve(import.meta.dirname, '../..');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<Result> {
  return new Promise((done) => {
    execFile(file, args, { cwd: ROOT, env, timeout: timeoutMs }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

/** The environment with nothing configured but these variables (CI exports DATABASE_URL and REDIS_URL). */
function bareEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name === 'DATABASE_URL' || name === 'REDIS_URL' || name.startsWith('EASEL__') || name.startsWith('npm_')) delete env[name];
  }
  return { ...env, NODE_ENV: 'development', LOG_LEVEL: 'info', HOST: '127.0.0.1', ...extra };
}

describe('runCli prints every failure and exits 1', () => {
  const cases: [string, string, RegExp][] = [
    ['undefined', 'undefined', /^demo failed: rejected without an error \(undefined\)$/m],
    ['null', 'null', /^demo failed: rejected without an error \(null\)$/m],
    ['a string', "'disk full'", /^demo failed: disk full$/m],
    ['a plain object', "{ code: 'E42', detail: 'nope' }", /^demo failed: \{ code: 'E42', detail: 'nope' \}$/m],
    ['an Error', "new Error('boom')", /^demo failed: Error: boom\n\s+at /m],
  ];
  for (const [what, value, expected] of cases) {
    it(`when main rejects with ${what}`, async () => {
      const script = `import { runCli } from './scripts/cli.ts'; runCli('demo', 'usage: demo', () => Promise.reject(${value}));`;
      const r = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], process.env);
      expect(r.stderr).toMatch(expected);
      expect(r.stderr).not.toMatch(/TypeError/);
      expect(r.code).toBe(1);
    });
  }
});

describe('migrate and admin:create beside a running npm start (embedded PostgreSQL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'easel-scripts-'));
  let hub: ChildProcess | undefined;
  let pgPort = 0;
  let hubPort = 0;

  afterAll(() => {
    if (hub && hub.exitCode === null && hub.signalCode === null) hub.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string> = {}) => bareEnv({ DATA_DIR: dataDir, EASEL__DB__EMBEDDED_PORT: String(pgPort), ...extra });
  const postmasterLock = () => join(dataDir, 'pg', 'postmaster.pid');

  it('start the hub', { timeout: 180_000 }, async () => {
    [pgPort, hubPort] = [await freePort(), await freePort()];
    hub = spawn('npm', ['start'], { cwd: ROOT, env: env({ PORT: String(hubPort) }), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    hub.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 150_000;
    while (!(await fetch(`http://127.0.0.1:${hubPort}/health`).then((r) => r.ok, () => false))) {
      expect(hub.exitCode, `npm start exited: ${stderr}`).toBeNull();
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(existsSync(postmasterLock())).toBe(true);
  });

  it('npm run migrate uses the running database', { timeout: 120_000 }, async () => {
    const r = await run('npm', ['run', '-s', 'migrate'], env());
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: 'database is up to date (no pending migrations)\n' });
    expect(r.stderr).toContain(`using the embedded PostgreSQL of the hub running on ${dataDir}`);
  });

  it('also when EASEL__DB__EMBEDDED_PORT names another port (the old advice)', { timeout: 120_000 }, async () => {
    const r = await run('npm', ['run', '-s', 'migrate'], env({ EASEL__DB__EMBEDDED_PORT: String(await freePort()) }));
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: 'database is up to date (no pending migrations)\n' });
  });

  it('npm run admin:create writes to the database the hub serves', { timeout: 120_000 }, async () => {
    const r = await run('npm', ['run', '-s', 'admin:create', '--', '--username', 'root', '--password', 'long-enough-pass'], env());
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: "admin 'root': created\n" });
    const login = await api(`http://127.0.0.1:${hubPort}`, 'POST', '/api/v1/auth/token', { json: { username: 'root', password: 'long-enough-pass' } });
    expect(login.status).toBe(200);
    const me = await api(`http://127.0.0.1:${hubPort}`, 'GET', '/api/v1/auth/me', { token: login.body.access_token });
    expect(me.body.role).toBe('admin');
  });

  it('a second hub on the same DATA_DIR refuses and says what to do', { timeout: 120_000 }, async () => {
    const r = await run('npm', ['start'], env({ PORT: String(await freePort()) }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/embedded PostgreSQL in .* is already running \(pid \d+, port \d+\): another hub on this DATA_DIR owns it/);
    expect(r.stderr).not.toMatch(/TypeError/);
  });

  it('the scripts leave the hub its database; it stops it on SIGTERM', { timeout: 60_000 }, async () => {
    expect(await fetch(`http://127.0.0.1:${hubPort}/ready`).then((r) => r.status)).toBe(200);
    const exited = new Promise((done) => hub!.once('exit', (code) => done(code)));
    hub!.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(postmasterLock())).toBe(false);
  });

  it('with no hub running, migrate starts the embedded database and stops it again', { timeout: 120_000 }, async () => {
    const r = await run('npm', ['run', '-s', 'migrate'], env());
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: 'database is up to date (no pending migrations)\n' });
    expect(r.stderr).not.toContain('of the hub running on');
    expect(existsSync(postmasterLock())).toBe(false);
  });
});
