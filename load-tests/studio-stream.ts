/**
 * Studio streaming overhead (issue 9, "Measure"): time to first streamed token and tokens/s of an ad reply
 * through the hub, against the same fake OpenAI-compatible upstream called directly, in the same run.
 *
 *   npx tsx load-tests/studio-stream.ts                       # RUNS=3, GENS=5, TOKENS=200, PACES=20,0
 *   RUNS=1 GENS=2 TOKENS=50 npx tsx load-tests/studio-stream.ts   # smoke
 *
 * Upstream: test/helpers/fake-openai.ts in this process (SSE `data:` chunks, usage, `[DONE]`), TOKENS pieces
 * per reply, PACE ms between pieces (20: a model at 50 tokens/s; 0: as fast as the sockets go).
 * - direct: this process runs the worker's provider code (`streamChat`) against the upstream: TTFT = call →
 *   first piece; reply = call → last piece; tokens/s = TOKENS / reply.
 * - hub: a hub process (uWS, PostgreSQL, Redis: the session stream is the Redis one) and a worker process
 *   (`src/worker.ts`, provider openai) ; a socket.io client on `/studio` sends `message:send` and times the
 *   `message:delta` pushes: TTFT = emit → first delta, so it includes the message and job insert, NOTIFY,
 *   dispatch, the worker's request, and the relay worker → hub → Redis stream → client.
 * GENS replies per run, one after another, each side RUNS times, interleaved; medians over all replies.
 * Pieces written in one event-loop turn travel as one delta (worker and hub coalesce), so an unpaced reply
 * may arrive in very few deltas: compare reply times there, tokens/s at a model's pace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { tokenServiceFromConfig } from '../src/modules/identity/identity.factory.js';
import { streamChat, type OpenAiSettings } from '../src/modules/studio/providers/openai.js';
import { loadConfig } from '../src/platform/config.js';
import { startChildHub } from '../test/helpers/child-hub.js';
import { api, registerAndLogin } from '../test/helpers/clients.js';
import { REDIS_URL } from '../test/helpers/db.js';
import { startFakeOpenAi, type FakeOpenAi } from '../test/helpers/fake-openai.js';
import { fmt, freshDatabase, stopChild } from './baselines/harness.js';
import { announce, interleaved, machineLoad, median, runCount } from './baselines/stats.js';

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const GENS = num('GENS', 5);
const TOKENS = num('TOKENS', 200);
const PACES = (process.env.PACES ?? '20,0').split(',').map(Number);
const JWT_SECRET = `bench-${randomBytes(16).toString('hex')}`;
const KEY = 'sk-bench';

interface Sample {
  ttftMs: number;
  /** Request → last piece. */
  totalMs: number;
  tokensPerSec: number;
  pieces: number;
}
interface Result {
  ttftMs: number;
  totalMs: number;
  tokensPerSec: number;
  samples: Sample[];
}

const summarise = (samples: Sample[]): Result => ({
  ttftMs: median(samples.map((s) => s.ttftMs)),
  totalMs: median(samples.map((s) => s.totalMs)),
  tokensPerSec: median(samples.map((s) => s.tokensPerSec)),
  samples,
});
/** Tokens of the reply over the time from the request to its last token (so it includes the TTFT). */
const rate = (n: number, t0: number, last: number) => (n * 1000) / Math.max(1e-3, last - t0);
/** The fake's pieces are `tok<i> `: a delta may carry several (the hub coalesces pieces that queue up). */
const countTokens = (text: string) => (text.match(/tok\d+ /g) ?? []).length;

async function directSide(fake: FakeOpenAi): Promise<Result> {
  const settings: OpenAiSettings = { baseUrl: fake.url, apiKey: KEY, model: 'gpt-3.5-turbo', imageModel: null, maxTokens: 300, timeoutMs: 30_000, idleTimeoutMs: 30_000 };
  const samples: Sample[] = [];
  for (let g = 0; g < GENS; g++) {
    const t0 = performance.now();
    let first = 0;
    let last = 0;
    let n = 0;
    await streamChat(settings, [{ role: 'user', content: `bench direct ${g}` }], {
      signal: new AbortController().signal,
      onDelta: () => {
        last = performance.now();
        if (n++ === 0) first = last;
      },
    });
    if (n !== TOKENS) throw new Error(`direct: ${n} pieces, expected ${TOKENS}`);
    samples.push({ ttftMs: first - t0, totalMs: last - t0, tokensPerSec: rate(n, t0, last), pieces: n });
  }
  return summarise(samples);
}

async function hubSide(socket: Socket, sessionId: string): Promise<Result> {
  const samples: Sample[] = [];
  for (let g = 0; g < GENS; g++) {
    let first = 0;
    let last = 0;
    let n = 0;
    let events = 0;
    let jobId = '';
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message:done within 120 s')), 120_000);
      const onDelta = (d: { jobId: string; text: string }) => {
        if (jobId && d.jobId !== jobId) return;
        last = performance.now();
        if (events++ === 0) first = last;
        n += countTokens(d.text);
      };
      const onDone = (d: { jobId: string; message: { status: string; error: unknown } }) => {
        if (d.jobId !== jobId) return;
        clearTimeout(timer);
        socket.off('message:delta', onDelta);
        socket.off('message:done', onDone);
        if (d.message.status !== 'done') reject(new Error(`reply failed: ${JSON.stringify(d.message.error)}`));
        else resolve();
      };
      socket.on('message:delta', onDelta);
      socket.on('message:done', onDone);
    });
    const t0 = performance.now();
    const ack = (await socket.timeout(10_000).emitWithAck('message:send', { sessionId, text: `bench hub ${g} ${randomBytes(3).toString('hex')}`, generationType: 'text', style: 'ultra_realistic', aspectRatio: '1:1', provider: 'openai' })) as { ok: boolean; data: { jobId: string }; error?: unknown };
    if (!ack.ok) throw new Error(`message:send refused: ${JSON.stringify(ack.error)}`);
    jobId = ack.data.jobId;
    await done;
    if (n !== TOKENS) throw new Error(`hub: ${n} tokens, expected ${TOKENS}`);
    samples.push({ ttftMs: first - t0, totalMs: last - t0, tokensPerSec: rate(n, t0, last), pieces: events });
  }
  return summarise(samples);
}

function startWorkerProcess(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], { env: { PATH: process.env.PATH, NODE_ENV: 'test', LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
}

async function main(): Promise<void> {
  const runs = runCount(3);
  announce(`studio-stream (${GENS} replies per run, ${TOKENS} pieces each, paces ${PACES.join('/')} ms)`, runs);
  const fake = await startFakeOpenAi({ reply: Array.from({ length: TOKENS }, (_, i) => `tok${i} `) });
  const db = await freshDatabase();
  const openaiEnv = { STUDIO_PROVIDER: 'openai', OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY, OPENAI_MODEL: 'gpt-3.5-turbo' };
  const hub = await startChildHub({
    env: { HTTP_ENGINE: 'uws', DATABASE_URL: db.url, REDIS_URL, JWT_SECRET, EASEL__REDIS__KEY_PREFIX: `bench-${randomBytes(4).toString('hex')}:`, ...openaiEnv,
      // Benchmark traffic from one client: the per-socket event and per-IP register limits are guards, not the subject.
      EASEL__RATE_LIMITS__SOCKET_EVENTS: JSON.stringify({ limit: 100_000, windowSeconds: 1 }),
      EASEL__JOBS__WORKER_EVENTS: JSON.stringify({ limit: 1_000_000, windowSeconds: 1 }) },
  });
  const tokens = tokenServiceFromConfig(loadConfig({ env: { NODE_ENV: 'test', JWT_SECRET } }));
  const worker = startWorkerProcess({ HUB_URL: hub.url, WORKER_TOKEN: (await tokens.issueWorker('bench-studio')).token, ...openaiEnv, EASEL__STUDIO__OPENAI__IDLE_TIMEOUT_MS: '60000' });
  const user = await registerAndLogin(hub.url, `bench_${randomBytes(3).toString('hex')}`);
  const socket = io(`${hub.url}/studio`, { auth: { token: user.token }, transports: ['websocket'] });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const { data } = (await socket.emitWithAck('session:open', {})) as { data: { sessionId: string } };
  const table: string[] = [];
  try {
    for (const pace of PACES) {
      fake.tokenDelayMs = pace;
      console.log(`\n## pace ${pace} ms between pieces`);
      // Warm-up: the worker's first job (process start, connection) and JIT on both sides.
      await directSide(fake);
      await hubSide(socket, data.sessionId);
      const results = await interleaved(runs, { direct: () => directSide(fake), hub: () => hubSide(socket, data.sessionId) }, (side, run, r) =>
        console.log(`  run ${run} ${side}: TTFT median ${fmt(r.ttftMs)} ms (${r.samples.map((s) => fmt(s.ttftMs)).join(' / ')}), reply ${fmt(r.totalMs)} ms, ${fmt(r.tokensPerSec, 0)} tokens/s in ${fmt(median(r.samples.map((s) => s.pieces)), 0)} deltas`),
      );
      const all = (side: 'direct' | 'hub') => results[side]!.flatMap((r) => r.samples);
      const d = summarise(all('direct'));
      const h = summarise(all('hub'));
      table.push(
        `| ${pace} | ${fmt(d.ttftMs)} | ${fmt(h.ttftMs)} | ${fmt(h.ttftMs / d.ttftMs, 1)}× (+${fmt(h.ttftMs - d.ttftMs)} ms) | ${fmt(d.totalMs)} | ${fmt(h.totalMs)} | ${fmt(h.totalMs / d.totalMs, 2)} | ${fmt(d.tokensPerSec, 0)} | ${fmt(h.tokensPerSec, 0)} | ${fmt(h.tokensPerSec / d.tokensPerSec, 2)} |`,
      );
    }
    console.log(`\n| pace ms | TTFT direct ms | TTFT hub ms | hub / direct | reply direct ms | reply hub ms | hub / direct | tokens/s direct | tokens/s hub | hub / direct |\n|---|---|---|---|---|---|---|---|---|---|`);
    for (const row of table) console.log(row);
    const costs = await api(hub.url, 'GET', '/api/v1/costs/summary', { token: user.token });
    console.log(`# ${costs.body.total_jobs} replies through the hub, ${costs.body.completion_tokens} completion tokens recorded; ${machineLoad().note}`);
  } finally {
    socket.close();
    await stopChild(worker);
    await hub.stop();
    await fake.close();
    await db.drop();
  }
}

await main();
