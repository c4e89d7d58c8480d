/**
 * The deployment files: docker-compose.yml validated by Compose itself (`docker compose config`, or Debian's
 * docker-compose v1; neither needs a Docker daemon for `config`), and statically: every service built from
 * this repository runs a script that exists, the hubs run without the in-process worker, the load balancer
 * reaches every hub and is the hubs' only trusted proxy, and the worker's start command really yields a token.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Service {
  build?: unknown;
  image?: string;
  command?: string[] | string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }> | string[];
  volumes?: string[];
  networks?: Record<string, { ipv4_address?: string }>;
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
const nginx = read('config/nginx.conf');
const dockerfile = read('Dockerfile');

/** The repository files a command runs: `node [--import tsx] <file>`, `npm run <script>` (followed), `sh -c "…"` (scanned). */
function scriptsOf(command: string[] | string, seen = new Set<string>()): string[] {
  const words = typeof command === 'string' ? command.split(/\s+/).filter(Boolean) : command;
  if (words[0] === 'sh' && words[1] === '-c') return scriptsOf(words.slice(2).join(' ').replace(/[;&|]/g, ' '), seen);
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === 'npm' && words[i + 1] === 'run') {
      const name = words[i + 2]!;
      expect(pkg.scripts, `npm run ${name}`).toHaveProperty(name);
      if (!seen.has(name)) {
        seen.add(name);
        out.push(...scriptsOf(pkg.scripts[name]!, seen));
      }
      i += 2;
    } else if ((w === 'node' || w === 'tsx') && i + 1 < words.length) {
      let j = i + 1;
      while (words[j]?.startsWith('-')) j += words[j] === '--import' ? 2 : 1;
      if (words[j]) out.push(words[j]!);
      i = j;
    }
  }
  return out;
}

function composeTool(): string[] | null {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  return null;
}
const tool = composeTool();
const inCi = Boolean(process.env.CI);

function runCompose(env: Record<string, string>, ...args: string[]) {
  const [cmd, ...pre] = tool!;
  return spawnSync(cmd!, [...pre, '-f', 'docker-compose.yml', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    timeout: 30_000,
  });
}

describe('docker compose config', () => {
  it('a Compose implementation is available (CI installs docker-compose; elsewhere this and the next tests skip)', () => {
    if (!tool && !inCi) {
      console.warn('neither `docker compose` nor `docker-compose` is installed: skipping the Compose validation (apt-get install docker-compose)');
      return;
    }
    expect(tool, 'docker compose / docker-compose').not.toBeNull();
  });

  it.skipIf(!tool && !inCi)('validates the file, and the normalised services are the documented topology', () => {
    const res = runCompose({ JWT_SECRET: 'a'.repeat(64) }, 'config');
    expect(res.status, res.stderr).toBe(0);
    const normal = parse(res.stdout) as { services: Record<string, Service> };
    expect(Object.keys(normal.services).sort()).toEqual(['hub1', 'hub2', 'lb', 'migrate', 'postgres', 'redis', 'worker', 'worker-token']);
    for (const hub of ['hub1', 'hub2']) {
      const s = normal.services[hub]!;
      expect(s.command).toEqual(['node', '--import', 'tsx', 'src/main.ts', '--hub']);
      expect(s.environment).toMatchObject({ REDIS_URL: 'redis://redis:6379', JWT_SECRET: 'a'.repeat(64), MEDIA_STORAGE: 'local' });
      expect(s.depends_on).toMatchObject({ migrate: { condition: 'service_completed_successfully' }, postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    }
    expect(normal.services.worker!.depends_on).toMatchObject({ 'worker-token': { condition: 'service_completed_successfully' } });
  });

  it.skipIf(!tool && !inCi)('refuses to run without JWT_SECRET and says so', () => {
    const res = runCompose({}, 'config', '-q');
    expect(res.status).not.toBe(0);
    expect(res.stderr + res.stdout).toContain('set JWT_SECRET');
  });
});

describe('docker-compose.yml, statically', () => {
  const built = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);

  it('every service built from this repository runs a script that exists', () => {
    expect(built.map(([name]) => name).sort()).toEqual(['hub1', 'hub2', 'migrate', 'worker', 'worker-token']);
    for (const [name, s] of built) {
      expect(s.command, name).toBeDefined();
      const files = scriptsOf(s.command!);
      expect(files.length, `${name}: ${JSON.stringify(s.command)}`).toBeGreaterThan(0);
      for (const file of files) expect(existsSync(join(ROOT, file)), `${name} runs ${file}`).toBe(true);
    }
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile);
    for (const file of scriptsOf(JSON.parse(cmd![1]!) as string[])) expect(existsSync(join(ROOT, file)), `Dockerfile CMD ${file}`).toBe(true);
  });

  it('the checker itself catches a missing script and an unknown npm script', () => {
    expect(scriptsOf(['node', '--import', 'tsx', 'src/missing.ts'])).toEqual(['src/missing.ts']);
    expect(existsSync(join(ROOT, 'src/missing.ts'))).toBe(false);
    expect(() => scriptsOf(['npm', 'run', 'no-such-script'])).toThrow();
    expect(scriptsOf(['npm', 'run', 'worker'])).toEqual(['src/worker.ts']);
  });

  it('hubs run without the in-process worker (--hub); jobs go to the worker service', () => {
    for (const hub of ['hub1', 'hub2']) expect(compose.services[hub]!.command).toContain('--hub');
    expect(scriptsOf(compose.services.worker!.command!)).toEqual(['src/worker.ts']);
    expect(compose.services.worker!.environment).not.toHaveProperty('JWT_SECRET');
    expect(compose.services.worker!.environment).not.toHaveProperty('DATABASE_URL');
  });

  it('the worker start command takes WORKER_TOKEN when set, else the token file', () => {
    const script = (compose.services.worker!.command as string[])[2]!.replace(/\$\$/g, '$');
    const dir = mkdtempSync(join(tmpdir(), 'easel-wt-'));
    try {
      writeFileSync(join(dir, 'worker-token'), 'from-file\n');
      const probe = script.replace('/app/run/worker-token', join(dir, 'worker-token')).replace(/exec node .*$/, 'printf "%s" "$WORKER_TOKEN"');
      const run = (env: Record<string, string>) => spawnSync('sh', ['-c', probe], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } }).stdout;
      expect(run({})).toBe('from-file');
      expect(run({ WORKER_TOKEN: '' })).toBe('from-file');
      expect(run({ WORKER_TOKEN: 'mine' })).toBe('mine');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const nginxBin = spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!nginxBin)('nginx accepts config/nginx.conf (`nginx -t`, hub names replaced by loopback addresses; skipped without nginx)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'easel-nginx-'));
    try {
      const conf = join(dir, 'nginx.conf');
      writeFileSync(conf, nginx.replace(/server hub(\d+):/g, 'server 127.0.0.$1:'));
      const res = spawnSync('nginx', ['-t', '-c', conf, '-g', `pid ${join(dir, 'nginx.pid')};`], { encoding: 'utf8', timeout: 10_000 });
      expect(res.status, res.stderr).toBe(0);
      expect(res.stderr).toContain('syntax is ok');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the load balancer reaches every hub on the image port, passes upgrades, and is the hubs\' only trusted proxy', () => {
    const upstream = /upstream easel_hubs \{([^}]*)\}/.exec(nginx)![1]!;
    const servers = [...upstream.matchAll(/server (\S+):(\d+)/g)].map((m) => `${m[1]}:${m[2]}`);
    const port = /PORT=(\d+)/.exec(dockerfile)![1];
    expect(servers.sort()).toEqual(['hub1', 'hub2'].map((h) => `${h}:${port}`));
    // Sticky by client IP (socket.io polling); websocket-only clients need no stickiness.
    expect(upstream).toMatch(/^\s*ip_hash;/m);
    expect(nginx).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(nginx).toMatch(/proxy_set_header Connection \$connection_upgrade;/);
    // Idle sockets outlive socket.io's ping interval + timeout (25 s + 20 s).
    expect(Number(/proxy_read_timeout (\d+)s;/.exec(nginx)![1])).toBeGreaterThan(45);
    const lb = compose.services.lb!;
    expect(lb.volumes).toContain('./config/nginx.conf:/etc/nginx/nginx.conf:ro');
    const lbAddress = lb.networks!.default!.ipv4_address;
    for (const hub of ['hub1', 'hub2']) expect(compose.services[hub]!.environment!.TRUSTED_PROXIES).toBe(lbAddress);
  });
});
