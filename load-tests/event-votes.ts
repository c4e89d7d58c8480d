/**
 * Live event votes: VIEWERS socket.io clients follow one live event (`event:join`) and each votes once per
 * matchup window the moment `event:matchup` arrives, for MATCHUPS matchups. Three sides, interleaved RUNS
 * times, medians reported:
 *   - two nodes: two hub processes (Redis adapter), viewers split between them, one clock (lease);
 *   - one node:  one hub process, in-memory adapter (no REDIS_URL);
 *   - seed 000:  the seed's design as a peer: a node:http endpoint doing one INSERT per vote (pg pool of
 *                10, like a hub's), no live updates; the same viewers POST one vote each per round.
 *
 *   npx tsx load-tests/event-votes.ts                                       # 2,000 viewers, 3 matchups, RUNS=3
 *   VIEWERS=100 MATCHUPS=1 RUNS=1 npx tsx load-tests/event-votes.ts         # smoke
 *   SPREAD_MS=1500 npx tsx load-tests/event-votes.ts                        # votes spread over 1.5 s, not one burst
 *
 * Reported per run: votes/s accepted (counted acks over the span from the first vote sent to the last ack
 * of each matchup), vote ack latency p50/p99, and for the hub sides the tally fan-out delay p50/p99: for
 * the k-th acked vote, the time from its ack until the first `event:tally` with at least k votes reached
 * each of PROBES probe viewers (the slowest probe per vote). Users, images and the admin are inserted
 * with SQL and tokens minted with the hubs' JWT_SECRET. Viewers live in VIEWER_PROCS child processes.
 * Needs `ulimit -n` above about 2 × VIEWERS.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { tokenServiceFromConfig } from '../src/modules/identity/identity.factory.js';
import { loadConfig } from '../src/platform/config.js';
import { REDIS_URL } from '../test/helpers/db.js';
import { seedImages } from '../test/helpers/events.js';
import { fmt, freePort, freshDatabase, stopChild } from './baselines/harness.js';
import { announce, interleaved, median, percentile, runCount } from './baselines/stats.js';

const ROOT = resolve(import.meta.dirname, '..');
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const VIEWERS = num('VIEWERS', 2000);
const MATCHUPS = num('MATCHUPS', 3);
const WINDOW_MS = num('WINDOW_MS', 3000);
const VIEWER_PROCS = Math.max(1, num('VIEWER_PROCS', 2));
const PROBES = num('PROBES', 20);
/** 0 (default): every viewer votes the instant the matchup opens (the burst). >0: each vote waits a uniform
 * random 0..SPREAD_MS first, as a crowd reacting over a second or two would; votes/s is then the offered rate. */
const SPREAD_MS = num('SPREAD_MS', 0);
const jitter = () => (SPREAD_MS > 0 ? sleep(Math.random() * SPREAD_MS) : Promise.resolve());
const JWT_SECRET = `bench-${randomBytes(16).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Job {
  urls: string[];
  eventId: number;
  tokens: string[];
  userIds: number[];
  probes: number;
  /** 'hub': socket votes; 'seed': HTTP POSTs to urls[0], one burst per `go` message. */
  mode: 'hub' | 'seed';
}
interface Report {
  /** [sent, acked, counted] epoch ms per vote. */
  votes: [number, number, boolean][];
  /** Per probe: [matchupId, total, epoch ms] per tally. */
  tallies: [number, number, number][][];
  errors: number;
}

/* ---------- viewer process (forked with --viewers) ---------- */

async function viewerProcess(): Promise<void> {
  const sockets: Socket[] = [];
  const report: Report = { votes: [], tallies: [], errors: 0 };
  let job: Job;
  let voted = 0;
  const castHub = (socket: Socket, matchupId: number) => {
    const sent = Date.now();
    socket
      .timeout(30_000)
      .emitWithAck('event:vote', { eventId: job.eventId, matchupId, choice: Math.random() < 0.5 ? 'left' : 'right' })
      .then((ack: { ok: boolean; data?: { counted: boolean } }) => (ack.ok ? report.votes.push([sent, Date.now(), ack.data!.counted]) : report.errors++))
      .catch(() => report.errors++);
  };
  process.on('message', async (msg: { type: string; job?: Job; round?: number }) => {
    if (msg.type === 'join' && msg.job) {
      job = msg.job;
      if (job.mode === 'hub') {
        for (let i = 0; i < job.tokens.length; i += 100) {
          await Promise.all(
            job.tokens.slice(i, i + 100).map(async (token, j) => {
              const index = i + j;
              const socket = io(`${job.urls[index % job.urls.length]}/tournament`, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false, timeout: 30_000 });
              sockets.push(socket);
              await new Promise<void>((ok, fail) => (socket.once('connect', ok), socket.once('connect_error', fail)));
              const probe: [number, number, number][] | null = index < job.probes ? [] : null;
              if (probe) report.tallies.push(probe);
              socket.on('event:tally', (t: { matchupId: number; left_votes: number; right_votes: number }) => probe?.push([t.matchupId, t.left_votes + t.right_votes, Date.now()]));
              socket.on('event:matchup', (m: { matchup: { id: number; round: number; slot: number } }) => {
                if (m.matchup.round * 1000 + m.matchup.slot < MATCHUPS) void jitter().then(() => castHub(socket, m.matchup.id));
              });
              const ack = (await socket.timeout(30_000).emitWithAck('event:join', { eventId: job.eventId })) as { ok: boolean };
              if (!ack.ok) throw new Error(`event:join refused: ${JSON.stringify(ack)}`);
            }),
          );
        }
      }
      process.send!({ type: 'ready' });
    } else if (msg.type === 'go') {
      // Seed side: every viewer POSTs one vote at once, as a crowd does when a matchup appears.
      await Promise.all(
        job.userIds.map(async (userId) => {
          await jitter();
          const sent = Date.now();
          try {
            const res = await fetch(`${job.urls[0]}/vote`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ matchup_id: msg.round, user_id: userId, winner_id: 1 + (userId % 2) }) });
            await res.text();
            if (res.ok) report.votes.push([sent, Date.now(), true]);
            else report.errors++;
          } catch {
            report.errors++;
          }
        }),
      );
      process.send!({ type: 'done', voted: ++voted });
    } else if (msg.type === 'stop') {
      process.send!({ type: 'report', report });
      for (const s of sockets) s.close();
      setTimeout(() => process.exit(0), 100);
    }
  });
  process.send!({ type: 'up' });
}

/* ---------- seed 000 peer (run with --seed-server) ---------- */

function seedServer(): void {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const v = JSON.parse(body) as { matchup_id: number; user_id: number; winner_id: number };
      pool.query('insert into seed_votes (matchup_id, user_id, winner_id) values ($1, $2, $3)', [v.matchup_id, v.user_id, v.winner_id]).then(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
        () => res.writeHead(500).end(),
      );
    });
  });
  server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.({ type: 'up' }));
}

/* ---------- orchestrator ---------- */

function once<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((ok, fail) => {
    const onMsg = (m: { type: string } & T) => m.type === type && (child.off('message', onMsg), ok(m));
    child.on('message', onMsg);
    child.once('exit', (code) => fail(new Error(`child exited with ${code} waiting for ${type}`)));
  });
}

async function startViewers(job: Omit<Job, 'tokens' | 'userIds' | 'probes'>, tokens: string[], userIds: number[]) {
  const per = Math.ceil(tokens.length / VIEWER_PROCS);
  const kids = await Promise.all(
    Array.from({ length: VIEWER_PROCS }, async (_, k) => {
      const child = fork(import.meta.filename, ['--viewers'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      await once(child, 'up');
      const ready = once(child, 'ready');
      child.send({ type: 'join', job: { ...job, tokens: tokens.slice(k * per, (k + 1) * per), userIds: userIds.slice(k * per, (k + 1) * per), probes: Math.ceil(PROBES / VIEWER_PROCS) } });
      await ready;
      return child;
    }),
  );
  return {
    async go(round: number) {
      await Promise.all(kids.map((c) => (c.send({ type: 'go', round }), once(c, 'done'))));
    },
    async stop(): Promise<Report[]> {
      const reports = await Promise.all(kids.map(async (c) => (c.send({ type: 'stop' }), (await once<{ report: Report }>(c, 'report')).report)));
      await Promise.all(kids.map((c) => stopChild(c)));
      return reports;
    },
  };
}

async function startHub(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--hub'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, NODE_ENV: 'test', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(port), JWT_SECRET, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 60_000; ; await sleep(200)) {
    if (child.exitCode !== null) throw new Error(`hub exited with ${child.exitCode}`);
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) return { child, url };
    if (Date.now() > deadline) throw new Error('hub did not become ready');
  }
}

interface RunResult {
  votesPerSec: number;
  p50: number;
  p99: number;
  fanP50: number;
  fanP99: number;
  errors: number;
}

/** Votes/s over each burst (first send to last ack), ack latency, and per vote the slowest probe's tally delay. */
function summarise(reports: Report[], bursts: number): RunResult {
  const votes = reports.flatMap((r) => r.votes).sort((a, b) => a[0] - b[0]);
  const counted = votes.filter((v) => v[2]);
  const gap = Math.max(WINDOW_MS / 2, 200);
  let span = 0;
  for (let i = 0, start = 0; i <= votes.length; i++) {
    // A new burst starts where sends jump by more than half a window.
    if (i === votes.length || (i > start && votes[i]![0] - votes[i - 1]![0] > gap)) {
      span += Math.max(...votes.slice(start, i).map((v) => v[1])) - votes[start]![0];
      start = i;
    }
  }
  const latencies = votes.map((v) => v[1] - v[0]);
  const fan: number[] = [];
  const probes = reports.flatMap((r) => r.tallies);
  if (probes.length) {
    // Per matchup: the k-th ack (in ack order) against each probe's first tally with total >= k after it.
    const acks = counted.map((v) => v[1]).sort((a, b) => a - b);
    let offset = 0;
    for (const matchup of [...new Set(probes.flat().map((t) => t[0]))].sort((a, b) => a - b).slice(0, bursts)) {
      const inBurst = acks.slice(offset, offset + acks.length / bursts);
      offset += inBurst.length;
      inBurst.forEach((ackedAt, k) => {
        const delays = probes.map((p) => p.find((t) => t[0] === matchup && t[1] >= k + 1 && t[2] >= ackedAt)?.[2]).filter((x): x is number => x !== undefined).map((t) => t - ackedAt);
        if (delays.length) fan.push(Math.max(...delays));
      });
    }
  }
  const errors = reports.reduce((s, r) => s + r.errors, 0);
  return { votesPerSec: counted.length / (span / 1000), p50: percentile(latencies, 50), p99: percentile(latencies, 99), fanP50: percentile(fan, 50), fanP99: percentile(fan, 99), errors };
}

interface Ctx {
  dbUrl: string;
  admin: string;
  tokens: string[];
  userIds: number[];
  images: number[];
}

async function runHubs(ctx: Ctx, nodes: 1 | 2): Promise<RunResult> {
  const prefix = `easel-bench:${randomBytes(4).toString('hex')}:`;
  const events = { windowMs: WINDOW_MS, graceMs: 500, tickMs: 100, leaseMs: 3000, tallyMs: 250, breakMs: 1000, historySize: 256, voteBatchMs: 2 };
  const env: Record<string, string> = { DATABASE_URL: ctx.dbUrl, EASEL__EVENTS: JSON.stringify(events), EASEL__RATE_LIMITS__SOCKET_EVENTS: '{"limit":1000,"windowSeconds":1}' };
  if (nodes === 2) Object.assign(env, { REDIS_URL, EASEL__REDIS__KEY_PREFIX: prefix });
  const hubs = await Promise.all(Array.from({ length: nodes }, () => startHub(env)));
  try {
    const made = await fetch(`${hubs[0]!.url}/api/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', entrants: 8, selection: 'list', image_ids: ctx.images.slice(0, 8) }),
    });
    const eventId = ((await made.json()) as { id: number }).id;
    const viewers = await startViewers({ urls: hubs.map((h) => h.url), eventId, mode: 'hub' }, ctx.tokens, ctx.userIds);
    await sleep(500);
    await fetch(`${hubs[0]!.url}/api/v1/events/${eventId}/start`, { method: 'POST', headers: { authorization: `Bearer ${ctx.admin}` } });
    await sleep(MATCHUPS * (WINDOW_MS + 500 + 1000) + 1500);
    return summarise(await viewers.stop(), MATCHUPS);
  } finally {
    await Promise.all(hubs.map((h) => stopChild(h.child)));
  }
}

async function runSeed(ctx: Ctx): Promise<RunResult> {
  const port = await freePort();
  const child = fork(import.meta.filename, ['--seed-server'], { execArgv: ['--import', 'tsx'], env: { ...process.env, DATABASE_URL: ctx.dbUrl, PORT: String(port) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await once(child, 'up');
  try {
    const viewers = await startViewers({ urls: [`http://127.0.0.1:${port}`], eventId: 0, mode: 'seed' }, ctx.tokens, ctx.userIds);
    for (let round = 1; round <= MATCHUPS; round++) {
      const t0 = Date.now();
      await viewers.go(round);
      await sleep(Math.max(0, WINDOW_MS - (Date.now() - t0)));
    }
    return summarise(await viewers.stop(), MATCHUPS);
  } finally {
    await stopChild(child);
  }
}

const line = (r: RunResult) =>
  `${fmt(r.votesPerSec, 0)} votes/s, ack p50 ${fmt(r.p50)} ms p99 ${fmt(r.p99)} ms, tally fan-out p50 ${Number.isNaN(r.fanP50) ? 'n/a' : `${fmt(r.fanP50)} ms`} p99 ${Number.isNaN(r.fanP99) ? 'n/a' : `${fmt(r.fanP99)} ms`}${r.errors ? `, ${r.errors} errors` : ''}`;

async function main(): Promise<void> {
  const runs = runCount(3);
  announce(`event-votes: ${VIEWERS} viewers, ${MATCHUPS} matchups of ${WINDOW_MS} ms, ${SPREAD_MS ? `votes spread over ${SPREAD_MS} ms` : "votes in one burst"}, ${VIEWER_PROCS} viewer processes`, runs);
  const db = await freshDatabase();
  try {
    const setup = await startHub({ DATABASE_URL: db.url });
    await stopChild(setup.child);
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    const ids = (await sql.query<{ id: number }>(`insert into users (username, role) select 'bench_' || g, case when g = 1 then 'admin' else 'user' end from generate_series(1, $1::int) g returning id`, [VIEWERS + 2])).rows.map((r) => r.id);
    const images = await seedImages(sql, ids[1]!, 8);
    await sql.query('create table seed_votes (id serial primary key, matchup_id int not null, user_id int not null, winner_id int not null, created_at timestamptz not null default now())');
    await sql.end();
    const tokens = tokenServiceFromConfig(loadConfig({ env: { NODE_ENV: 'test', JWT_SECRET } }));
    const minted = await Promise.all(ids.map(async (id, i) => (await tokens.issueAccess({ id, role: i === 0 ? 'admin' : 'user' })).token));
    const ctx: Ctx = { dbUrl: db.url, admin: minted[0]!, tokens: minted.slice(2), userIds: ids.slice(2), images };
    const results = await interleaved(runs, { 'two nodes': () => runHubs(ctx, 2), 'one node': () => runHubs(ctx, 1), 'seed 000 (HTTP, INSERT per vote)': () => runSeed(ctx) }, (side, run, r) =>
      console.log(`run ${run} ${side}: ${line(r)}`),
    );
    console.log('\nmedians:');
    const med: Record<string, RunResult> = {};
    for (const [side, rs] of Object.entries(results)) {
      const m = (f: (r: RunResult) => number) => median(rs.map(f));
      med[side] = { votesPerSec: m((r) => r.votesPerSec), p50: m((r) => r.p50), p99: m((r) => r.p99), fanP50: m((r) => r.fanP50), fanP99: m((r) => r.fanP99), errors: m((r) => r.errors) };
      console.log(`  ${side}: ${line(med[side])}`);
    }
    const seed = med['seed 000 (HTTP, INSERT per vote)']!.votesPerSec;
    console.log(`  ratio votes/s two nodes / seed: ${fmt(med['two nodes']!.votesPerSec / seed, 2)}×, one node / seed: ${fmt(med['one node']!.votesPerSec / seed, 2)}×`);
  } finally {
    await db.drop();
  }
}

if (process.argv.includes('--viewers')) void viewerProcess();
else if (process.argv.includes('--seed-server')) seedServer();
else
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
