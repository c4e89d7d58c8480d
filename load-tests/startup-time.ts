/**
 * Startup time of `npm start` (what it runs: `tsx src/main.ts`) to the first 200 on /health.
 *
 *   npx tsx load-tests/startup-time.ts
 *
 * cold: a fresh DATA_DIR, so the embedded PostgreSQL runs initdb, creates its database and the hub applies
 * every migration. warm: 3 more starts on the same DATA_DIR (existing cluster, no migrations to apply).
 * external: 3 starts with DATABASE_URL pointing at a fresh database on the test PostgreSQL, for comparison.
 * Each run is stopped with SIGTERM and must exit 0 before the next starts. No Redis. Only 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTestDatabase } from '../test/helpers/db.js';
import { freePort } from '../test/helpers/net.js';

const ROOT = resolve(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const WARM_RUNS = 3;

/** Starts main, returns ms to the first 200 on /health, then stops it with SIGTERM and checks exit 0. */
async function timedStart(extraEnv: Record<string, string>): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  const port = await freePort();
  const started = performance.now();
  const child = spawn(TSX, ['src/main.ts'], {
    cwd: ROOT,
    env: { ...env, NODE_ENV: 'development', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(port), ...extraEnv },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let ms = -1;
  while (performance.now() - started < 120_000) {
    if (child.exitCode !== null) throw new Error(`main exited early with ${child.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status === 200, () => false);
    if (ok) {
      ms = performance.now() - started;
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill(ms < 0 ? 'SIGKILL' : 'SIGTERM');
  const code = await exited;
  if (ms < 0) throw new Error('no 200 on /health within 120 s');
  if (code !== 0) throw new Error(`main exited with ${code} after SIGTERM`);
  return Math.round(ms);
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'easel-startup-'));
  const rows: Array<[string, number]> = [];
  try {
    const embedded = { DATA_DIR: dataDir, EASEL__DB__EMBEDDED_PORT: String(await freePort()) };
    rows.push(['cold (embedded, initdb + migrations)', await timedStart(embedded)]);
    for (let i = 1; i <= WARM_RUNS; i++) rows.push([`warm #${i} (embedded, existing cluster)`, await timedStart(embedded)]);
    for (let i = 1; i <= WARM_RUNS; i++) {
      const db = await createTestDatabase();
      try {
        rows.push([`external #${i} (DATABASE_URL, fresh database + migrations)`, await timedStart({ DATA_DIR: dataDir, DATABASE_URL: db.url })]);
      } finally {
        await db.drop();
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log('| run | ms to first 200 on /health |');
  console.log('|---|---|');
  for (const [name, ms] of rows) console.log(`| ${name} | ${ms} |`);
  const warm = rows.filter(([n]) => n.startsWith('warm')).map(([, ms]) => ms).sort((a, b) => a - b);
  console.log(`\nwarm median ${warm[Math.floor(warm.length / 2)]} ms`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
