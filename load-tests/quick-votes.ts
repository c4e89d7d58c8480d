/**
 * Quick-matchup vote path: VOTERS users each fetch a matchup and vote on it, ROUNDS times, all voters at
 * once, against one hub process. Two sides, interleaved RUNS times, medians reported:
 *   - socket: `match:next` then `match:vote` on `/tournament` (one socket per voter);
 *   - http:   `GET /api/v1/tournaments/match` then `POST /api/v1/tournaments/vote`.
 * Each vote is a signed-token check, one statement inserting the vote and locking both rating rows, the
 * Glicko-2 update and a commit; a fetch reads the (cached) candidate list and the voter's recent pairs.
 *
 *   npx tsx load-tests/quick-votes.ts                                   # 200 voters × 10 rounds, 50 images, RUNS=3
 *   VOTERS=20 ROUNDS=2 IMAGES=10 RUNS=1 npx tsx load-tests/quick-votes.ts  # smoke
 *
 * Reported per run: counted votes/s (over the span from the first fetch to the last vote ack), vote ack
 * latency p50/p99, matchup fetch latency p50/p99. Users and images are inserted with SQL, tokens minted
 * with the hub's JWT_SECRET.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { tokenServiceFromConfig } from '../src/modules/identity/identity.factory.js';
import { loadConfig } from '../src/platform/config.js';
import { seedImages } from '../test/helpers/events.js';
import { fmt, freePort, freshDatabase, stopChild } from './baselines/harness.js';
import { announce, interleaved, median, percentile, runCount } from './baselines/stats.js';

const ROOT = resolve(import.meta.dirname, '..');
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const VOTERS = num('VOTERS', 200);
const ROUNDS = num('ROUNDS', 10);
const IMAGES = num('IMAGES', 50);
const JWT_SECRET = `bench-${randomBytes(16).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RunResult {
  votesPerSec: number;
  voteP50: number;
  voteP99: number;
  matchP50: number;
  matchP99: number;
  errors: number;
}

async function startHub(dbUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--hub'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      JWT_SECRET,
      DATABASE_URL: dbUrl,
      // Votes are what is measured: no fit during the run, and no per-socket event limit in the way.
      EASEL__TOURNAMENTS__FIT__INTERVAL_MS: '0',
      EASEL__RATE_LIMITS__SOCKET_EVENTS: JSON.stringify({ limit: 100_000, windowSeconds: 1 }),
      EASEL__SOCKETS__MAX_PER_IDENTITY: '1000',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 60_000; ; await sleep(200)) {
    if (child.exitCode !== null) throw new Error(`hub exited with ${child.exitCode}`);
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) return { child, url };
    if (Date.now() > deadline) throw new Error('hub did not become ready');
  }
}

function summarise(started: number, votes: number[], matches: number[], counted: number, errors: number): RunResult {
  const seconds = (Date.now() - started) / 1000;
  return { votesPerSec: counted / seconds, voteP50: percentile(votes, 50), voteP99: percentile(votes, 99), matchP50: percentile(matches, 50), matchP99: percentile(matches, 99), errors };
}

async function runSocket(url: string, tokens: string[]): Promise<RunResult> {
  const sockets = await Promise.all(
    tokens.map(
      (token) =>
        new Promise<Socket>((ok, fail) => {
          const s = io(`${url}/tournament`, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
          s.once('connect', () => ok(s));
          s.once('connect_error', fail);
        }),
    ),
  );
  const votes: number[] = [];
  const matches: number[] = [];
  let counted = 0;
  let errors = 0;
  const started = Date.now();
  await Promise.all(
    sockets.map(async (s) => {
      for (let r = 0; r < ROUNDS; r++) {
        const t0 = performance.now();
        const next = (await s.timeout(30_000).emitWithAck('match:next', {})) as { ok: boolean; data: { matchup: { matchup_token: string; left: { id: number } } } };
        const t1 = performance.now();
        matches.push(t1 - t0);
        if (!next.ok) {
          errors++;
          continue;
        }
        const ack = (await s.timeout(30_000).emitWithAck('match:vote', { matchupToken: next.data.matchup.matchup_token, winnerId: next.data.matchup.left.id })) as { ok: boolean; data?: { counted: boolean } };
        votes.push(performance.now() - t1);
        if (ack.ok && ack.data?.counted) counted++;
        else errors++;
      }
    }),
  );
  const result = summarise(started, votes, matches, counted, errors);
  for (const s of sockets) s.close();
  return result;
}

async function runHttp(url: string, tokens: string[]): Promise<RunResult> {
  const votes: number[] = [];
  const matches: number[] = [];
  let counted = 0;
  let errors = 0;
  const started = Date.now();
  await Promise.all(
    tokens.map(async (token) => {
      const authorization = `Bearer ${token}`;
      for (let r = 0; r < ROUNDS; r++) {
        const t0 = performance.now();
        const res = await fetch(`${url}/api/v1/tournaments/match`, { headers: { authorization } });
        const body = (await res.json()) as { matchup: { matchup_token: string; left: { id: number } } };
        const t1 = performance.now();
        matches.push(t1 - t0);
        if (res.status !== 200) {
          errors++;
          continue;
        }
        const voted = await fetch(`${url}/api/v1/tournaments/vote`, {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/json' },
          body: JSON.stringify({ matchup_token: body.matchup.matchup_token, winner_id: body.matchup.left.id }),
        });
        const result = (await voted.json()) as { counted?: boolean };
        votes.push(performance.now() - t1);
        if (voted.status === 200 && result.counted) counted++;
        else errors++;
      }
    }),
  );
  return summarise(started, votes, matches, counted, errors);
}

const line = (r: RunResult) =>
  `${fmt(r.votesPerSec, 0)} votes/s, vote ack p50 ${fmt(r.voteP50)} ms p99 ${fmt(r.voteP99)} ms, matchup p50 ${fmt(r.matchP50)} ms p99 ${fmt(r.matchP99)} ms${r.errors ? `, ${r.errors} errors` : ''}`;

async function main(): Promise<void> {
  const runs = runCount(3);
  announce(`quick-votes: ${VOTERS} voters × ${ROUNDS} rounds over ${IMAGES} images, one hub`, runs);
  const db = await freshDatabase();
  let hub: { child: ChildProcess; url: string } | null = null;
  try {
    hub = await startHub(db.url);
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    const ids = (await sql.query<{ id: number }>(`insert into users (username, role) select 'qv_' || g, 'user' from generate_series(1, $1::int) g returning id`, [VOTERS + 4])).rows.map((r) => r.id);
    // Four owners, so most pairs are allowed; voters own nothing.
    for (let o = 0; o < 4; o++) await seedImages(sql, ids[o]!, Math.ceil(IMAGES / 4));
    await sql.end();
    const tokens = tokenServiceFromConfig(loadConfig({ env: { NODE_ENV: 'test', JWT_SECRET } }));
    const minted = await Promise.all(ids.slice(4).map(async (id) => (await tokens.issueAccess({ id, role: 'user' })).token));
    const url = hub.url;
    const results = await interleaved(runs, { socket: () => runSocket(url, minted), http: () => runHttp(url, minted) }, (side, run, r) => console.log(`run ${run} ${side}: ${line(r)}`));
    console.log('\nmedians:');
    for (const [side, rs] of Object.entries(results)) {
      const m = (f: (r: RunResult) => number) => median(rs.map(f));
      console.log(`  ${side}: ${line({ votesPerSec: m((r) => r.votesPerSec), voteP50: m((r) => r.voteP50), voteP99: m((r) => r.voteP99), matchP50: m((r) => r.matchP50), matchP99: m((r) => r.matchP99), errors: m((r) => r.errors) })}`);
    }
  } finally {
    if (hub) await stopChild(hub.child);
    await db.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
