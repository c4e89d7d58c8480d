import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Server, type Socket } from 'socket.io';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BestcutResult, UpscaleResult, type JobAssign } from '../../src/modules/jobs/jobs.events.js';
import { makePng, makeTextFile } from '../../src/modules/media/test-fixtures.js';

/**
 * The real worker process (`node --import tsx src/worker.ts`, NODE_ENV=production, no JWT_SECRET, no
 * DATABASE_URL, no REDIS_URL) against a fake hub written here: a bare socket.io server on `/workers` that
 * speaks jobs.events.ts, and a media route serving originals to the worker token. So the worker's side of
 * the protocol is tested on its own, with real sockets, real ONNX models from weights/ and real images.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'worker-token-for-tests';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

type Ack = (reply: unknown) => void;
interface Seen {
  event: string;
  payload: Record<string, unknown>;
  sid: string;
}

class FakeHub {
  readonly media = new Map<string, Buffer>();
  readonly mediaAuth: string[] = [];
  readonly seen: Seen[] = [];
  readonly pieces = new Map<string, { contentType: string; parts: Buffer[] }>();
  /** What the next hello acks as `resume` (default: everything the worker says it still runs). */
  resume: ((running: string[]) => string[]) | null = null;
  socket: Socket | null = null;
  /** Runs before the hello ack goes out. */
  onHello: ((socket: Socket) => Promise<void>) | null = null;
  /** Final answers (job:complete / job:fail) refused with this code, as many times as `count` says. */
  refuseAnswers: { code: string; count: number } | null = null;
  private waiters: Array<() => void> = [];
  private constructor(
    readonly http: HttpServer,
    readonly io: Server,
  ) {}

  static async start(): Promise<FakeHub> {
    const http = createServer();
    // The real hub's limit: larger outputs must come as job:output pieces.
    const io = new Server(http, { maxHttpBufferSize: 1_000_000 });
    const hub = new FakeHub(http, io);
    http.prependListener('request', (req, res) => {
      const m = /^\/api\/v1\/media\/([0-9a-f]{64})\?variant=original$/.exec(req.url ?? '');
      if (!m) return;
      hub.mediaAuth.push(String(req.headers.authorization));
      const bytes = hub.media.get(m[1]!);
      res.writeHead(bytes ? 200 : 404, { 'content-type': 'application/octet-stream' }).end(bytes ?? '');
    });
    const nsp = io.of('/workers');
    nsp.use((socket, next) => {
      if ((socket.handshake.auth as { token?: string }).token === TOKEN) return next();
      next(Object.assign(new Error('invalid worker token'), { data: { code: 'token_invalid' } }));
    });
    nsp.on('connection', (socket) => {
      hub.socket = socket;
      socket.onAny((event: string, payload: Record<string, unknown>, ack?: Ack) => {
        if (event === 'job:output') {
          const key = `${String(payload.jobId)}/${String(payload.name)}`;
          const pieces = hub.pieces.get(key) ?? { contentType: String(payload.contentType), parts: [] };
          pieces.parts.push(payload.data as Buffer);
          hub.pieces.set(key, pieces);
        }
        if (event === 'job:complete') {
          // Like the hub: pieces named in no inline output are outputs too.
          const outputs = payload.outputs as Array<{ name: string }>;
          for (const [key, p] of hub.pieces) {
            const [jobId, name] = key.split('/') as [string, string];
            if (jobId !== payload.jobId || outputs.some((o) => o.name === name)) continue;
            outputs.push(Object.assign({ name, contentType: p.contentType, data: Buffer.concat(p.parts) }, { pieces: p.parts.length }));
            hub.pieces.delete(key);
          }
        }
        hub.seen.push({ event, payload, sid: socket.id });
        if (event === 'worker:hello') {
          const running = payload.running as string[];
          const reply = { ok: true, data: { workerId: 'w-test', resume: hub.resume ? hub.resume(running) : running } };
          // The real hub dispatches inside its hello handler: an assign can overtake the hello ack.
          if (hub.onHello) hub.onHello(socket).then(() => ack?.(reply), () => ack?.(reply));
          else ack?.(reply);
        } else if ((event === 'job:complete' || event === 'job:fail') && hub.refuseAnswers && hub.refuseAnswers.count > 0) {
          hub.refuseAnswers.count -= 1;
          ack?.({ ok: false, error: { code: hub.refuseAnswers.code, message: 'refused by the fake hub' } });
        } else {
          ack?.({ ok: true, data: { status: 'ok' } });
        }
        for (const w of hub.waiters.splice(0)) w();
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    return hub;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  addMedia(bytes: Buffer): string {
    const id = sha(bytes);
    this.media.set(id, bytes);
    return id;
  }

  assign(type: JobAssign['type'], input: unknown, leaseMs = 30_000): string {
    const jobId = randomUUID();
    this.socket!.emit('job:assign', { jobId, type, input, attempt: 1, leaseMs } satisfies JobAssign);
    return jobId;
  }

  /** Events of `event` (for `jobId`, when given) seen so far. */
  events(event: string, jobId?: string): Seen[] {
    return this.seen.filter((s) => s.event === event && (jobId === undefined || s.payload.jobId === jobId || (s.payload.jobIds as string[] | undefined)?.includes(jobId)));
  }

  async waitFor(event: string, jobId?: string, timeoutMs = 20_000): Promise<Seen> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events(event, jobId)[0];
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no ${event} for ${jobId ?? 'any job'} within ${timeoutMs} ms; seen: ${this.seen.map((s) => s.event).join(', ')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  /** The job's final answer (complete or fail). */
  async answer(jobId: string, timeoutMs = 30_000): Promise<Seen> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.seen.find((s) => (s.event === 'job:complete' || s.event === 'job:fail') && s.payload.jobId === jobId);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no answer for ${jobId} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.io.close(() => r()));
  }
}

interface WorkerProc {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

function startWorkerProcess(hubUrl: string, env: Record<string, string> = {}): WorkerProc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
    cwd: ROOT,
    // Only what a deployed worker gets: no JWT_SECRET, DATABASE_URL or REDIS_URL in this environment.
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HUB_URL: hubUrl,
      WORKER_TOKEN: TOKEN,
      LOG_LEVEL: 'info',
      EASEL__WORKER__PROVIDERS: '["cpu"]',
      EASEL__WORKER__CPU_THREADS: '1',
      EASEL__WORKER__CONCURRENCY: '2',
      // Long enough for a small best cut beside a running upscale on a loaded machine; far short of a medium ×4 upscale.
      EASEL__WORKER__SHUTDOWN_GRACE_MS: '8000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => output.push(l));
  createInterface({ input: child.stderr! }).on('line', (l) => output.push(l));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => (signal && output.push(`[killed by ${signal}]`), resolve(code))));
  return { child, output, exited };
}

const isPng = async (data: unknown, width: number, height: number) => {
  expect(Buffer.isBuffer(data)).toBe(true);
  const meta = await sharp(data as Buffer).metadata();
  expect([meta.format, meta.width, meta.height]).toEqual(['png', width, height]);
};

describe('worker process against a fake hub', () => {
  let hub: FakeHub;
  let worker: WorkerProc;
  let small: string;
  let big: string;

  beforeAll(async () => {
    hub = await FakeHub.start();
    small = hub.addMedia(await makePng(32, 32));
    // 1024² at ×4 gives 25 tiles of 256²: long enough to cancel, disconnect or stop in the middle.
    big = hub.addMedia(await makePng(1024, 1024));
    worker = startWorkerProcess(hub.url);
  });
  afterAll(async () => {
    if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await hub.close();
  });

  it('announces its capabilities: job types, verified models, the provider in use, concurrency', async () => {
    const hello = await hub.waitFor('worker:hello', undefined, 45_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${worker.output.join('\n')}`);
    });
    expect(hello.payload).toEqual({
      capabilities: {
        types: expect.arrayContaining(['upscale', 'bestcut']),
        models: expect.arrayContaining(['rdn-slim-x2', 'rdn-slim-x4', 'rdn-medium-x2', 'rdn-medium-x4']),
        provider: 'cpu',
        concurrency: 2,
        version: '0.1.0',
      },
      instanceId: expect.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/),
      running: [],
    });
  });

  it('upscales a 32×32 image: fetches it with the worker token, reports progress, returns the PNG on the socket', async () => {
    const jobId = hub.assign('upscale', { sha256: small, scale: 2 });
    const done = await hub.answer(jobId);
    expect(done.event, JSON.stringify(done.payload)).toBe('job:complete');
    const { result, outputs } = done.payload as { result: Record<string, unknown>; outputs: Array<{ name: string; contentType: string; data: unknown }> };
    expect(result).toMatchObject({ width: 64, height: 64, model: 'rdn-slim-x2', provider: 'cpu' });
    expect(outputs).toHaveLength(1);
    expect(outputs[0]).toMatchObject({ name: result.sha256, contentType: 'image/png' });
    await isPng(outputs[0]!.data, 64, 64);
    expect(UpscaleResult.safeParse({ ...result, sha256: sha(outputs[0]!.data as Buffer) }).success).toBe(true);
    expect(hub.mediaAuth.at(-1)).toBe(`Bearer ${TOKEN}`);
    const stages = hub.events('job:progress', jobId).map((p) => `${String(p.payload.stage)}:${String(p.payload.progress)}`);
    expect(stages[0], stages.join()).toBe('fetching:0');
    expect(stages, stages.join()).toContain('upscaling:1');
  });

  it('sends an output over 512 KiB as acked job:output pieces, each under the hub\'s 1 MB message limit', async () => {
    const photo = hub.addMedia(await makePng(400, 400));
    const jobId = hub.assign('upscale', { sha256: photo, scale: 2 });
    const done = await hub.answer(jobId);
    expect(done.event, JSON.stringify(done.payload)).toBe('job:complete');
    const outputs = done.payload.outputs as Array<{ name: string; data: Buffer; pieces?: number }>;
    expect(outputs).toHaveLength(1);
    expect(outputs[0]!.name).toBe(done.payload.result && (done.payload.result as { sha256: string }).sha256);
    expect(outputs[0]!.pieces).toBeGreaterThan(1);
    for (const piece of hub.events('job:output', jobId)) expect((piece.payload.data as Buffer).byteLength).toBeLessThanOrEqual(512 * 1024);
    await isPng(outputs[0]!.data, 800, 800);
  });

  it('upscales ×4 with a named model', async () => {
    const jobId = hub.assign('upscale', { sha256: small, scale: 4, model: 'rdn-medium-x4' });
    const done = await hub.answer(jobId);
    expect(done.payload.result).toMatchObject({ width: 128, height: 128, model: 'rdn-medium-x4' });
    await isPng((done.payload.outputs as Array<{ data: unknown }>)[0]!.data, 128, 128);
  });

  it('runs bestcut: every score and the pick, by hash', async () => {
    const flat = hub.addMedia(await sharp({ create: { width: 40, height: 40, channels: 3, background: '#808080' } }).png().toBuffer());
    const jobId = hub.assign('bestcut', { sha256s: [flat, small] });
    const done = await hub.answer(jobId);
    expect(done.event).toBe('job:complete');
    const result = BestcutResult.parse(done.payload.result);
    expect(result.pick).toBe(small);
    expect(result.scores.map((s) => s.sha256)).toEqual([flat, small]);
    expect(done.payload.outputs).toEqual([]);
  });

  it('sends a final answer again while the hub says "not now" (its database is down), and never after a "no"', async () => {
    const flat = hub.addMedia(await sharp({ create: { width: 24, height: 24, channels: 3, background: '#707070' } }).png().toBuffer());
    hub.refuseAnswers = { code: 'db_unavailable', count: 2 };
    const retried = hub.assign('bestcut', { sha256s: [flat, small] });
    for (const deadline = Date.now() + 15_000; hub.events('job:complete', retried).length < 3; ) {
      if (Date.now() > deadline) throw new Error(`the answer was sent ${hub.events('job:complete', retried).length} times, not 3`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(hub.refuseAnswers.count).toBe(0);
    const sent = hub.events('job:complete', retried).map((e) => e.payload.result);
    expect(sent[2]).toEqual(sent[0]);
    // A refusal that is a verdict (the job moved on) is final: the answer is dropped, not repeated.
    hub.refuseAnswers = { code: 'lease_lost', count: 1 };
    const dropped = hub.assign('bestcut', { sha256s: [flat, small] });
    await hub.answer(dropped);
    await new Promise((r) => setTimeout(r, 3000));
    expect(hub.events('job:complete', dropped)).toHaveLength(1);
    hub.refuseAnswers = null;
  });

  it('fails bad inputs for good: not an image, a missing original, a schema violation, a wrong model', async () => {
    const text = hub.addMedia(makeTextFile());
    const cases: Array<[JobAssign['type'], unknown, string]> = [
      ['upscale', { sha256: text, scale: 2 }, 'not_an_image'],
      ['upscale', { sha256: 'e'.repeat(64), scale: 2 }, 'input_missing'],
      ['upscale', { sha256: small, scale: 3 }, 'invalid_input'],
      ['upscale', { sha256: small, scale: 2, model: 'rdn-slim-x4' }, 'model_scale_mismatch'],
      ['bestcut', { sha256s: [small] }, 'invalid_input'],
      ['bestcut', { sha256s: [small, text] }, 'not_an_image'],
    ];
    for (const [type, input, code] of cases) {
      const jobId = hub.assign(type, input);
      const done = await hub.answer(jobId);
      expect([done.event, done.payload.retryable, (done.payload.error as { code: string }).code]).toEqual(['job:fail', false, code]);
    }
  });

  it('a cancel stops the running job, which answers cancelled (not retryable)', async () => {
    const jobId = hub.assign('upscale', { sha256: big, scale: 4 });
    await hub.waitFor('job:progress', jobId);
    await waitForStage(hub, jobId, 'upscaling');
    hub.socket!.emit('job:cancel', { jobId, reason: 'owner cancelled' });
    const t0 = Date.now();
    const done = await hub.answer(jobId, 5000);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(done.payload).toEqual({ jobId, error: { code: 'cancelled', message: 'Cancelled: owner cancelled' }, retryable: false });
  });

  it('heartbeats a job while it runs, at least every leaseMs/3', async () => {
    const jobId = hub.assign('upscale', { sha256: big, scale: 4 }, 900);
    await waitForStage(hub, jobId, 'upscaling');
    const first = await hub.waitFor('job:heartbeat', jobId, 5000);
    expect(first.payload.jobIds).toContain(jobId);
    hub.socket!.emit('job:cancel', { jobId, reason: 'done with it' });
    await hub.answer(jobId);
  });

  it('reconnects after the hub drops it and resumes the job it still runs (hello names it; completion on the new socket)', async () => {
    const jobId = hub.assign('upscale', { sha256: small, scale: 2 });
    const oldSid = hub.socket!.id;
    hub.socket!.disconnect(true);
    const hello = await waitForHello(hub, oldSid);
    expect(hello.payload.running).toContain(jobId);
    // The same process says so: its instance id survives the reconnect.
    expect(hello.payload.instanceId).toBe(hub.seen.find((s) => s.event === 'worker:hello' && s.sid === oldSid)!.payload.instanceId);
    const done = await hub.answer(jobId);
    expect(done.event).toBe('job:complete');
    expect(done.sid).not.toBe(oldSid);
  });

  it('a job assigned before the hello ack arrives runs normally: its progress and answer reach the hub', async () => {
    let early = '';
    hub.onHello = async (socket) => {
      hub.socket = socket;
      early = hub.assign('upscale', { sha256: small, scale: 2 });
      await new Promise((r) => setTimeout(r, 300));
    };
    const oldSid = hub.socket!.id;
    hub.socket!.disconnect(true);
    await waitForHello(hub, oldSid);
    hub.onHello = null;
    const done = await hub.answer(early);
    expect(done.event, JSON.stringify(done.payload)).toBe('job:complete');
    expect(hub.events('job:progress', early).map((p) => p.payload.stage)).toContain('fetching');
  });

  it('drops a job the hub no longer binds to it after a reconnect: no answer for it', async () => {
    const jobId = hub.assign('upscale', { sha256: big, scale: 4 });
    await waitForStage(hub, jobId, 'upscaling');
    hub.resume = (running) => running.filter((id) => id !== jobId);
    const oldSid = hub.socket!.id;
    hub.socket!.disconnect(true);
    const hello = await waitForHello(hub, oldSid);
    hub.resume = null;
    expect(hello.payload.running).toContain(jobId);
    const deadline = Date.now() + 15_000;
    while (!worker.output.some((l) => l.includes('job dropped')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(worker.output.some((l) => l.includes('job dropped')), worker.output.slice(-30).join('\n')).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(hub.seen.filter((s) => s.payload.jobId === jobId && s.sid !== oldSid)).toEqual([]);
    expect(hub.events('job:heartbeat', jobId).filter((s) => s.sid !== oldSid)).toEqual([]);
  });

  it('on SIGTERM: finishes a short job, hands back a long one past the grace period (retryable), refuses new work, exits 0', async () => {
    // The long job: the medium ×4 model on 1024² (25 tiles on one CPU thread, well over 20 s), never done in the grace.
    const long = hub.assign('upscale', { sha256: big, scale: 4, model: 'rdn-medium-x4' });
    await waitForStage(hub, long, 'upscaling');
    const short = hub.assign('bestcut', { sha256s: [small, small] });
    // Running before the signal (its first progress), else a SIGTERM that overtakes the assign refuses it.
    await hub.waitFor('job:progress', short, 10_000);
    worker.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    const late = hub.assign('bestcut', { sha256s: [small, small] });
    const shortAnswer = await hub.answer(short);
    expect(shortAnswer.event, JSON.stringify(shortAnswer.payload)).toBe('job:complete');
    const lateAnswer = await hub.answer(late);
    expect(lateAnswer.payload).toMatchObject({ error: { code: 'worker_shutdown' }, retryable: true });
    const handedBack = await hub.answer(long, 30_000);
    expect(handedBack.payload).toMatchObject({ error: { code: 'worker_shutdown' }, retryable: true });
    expect(await worker.exited, worker.output.slice(-20).join('\n')).toBe(0);
  }, 60_000);
});

describe('worker process refusals', () => {
  it('exits 2 with a clear message when the hub refuses its token', async () => {
    const hub = await FakeHub.start();
    try {
      const worker = startWorkerProcess(hub.url, { WORKER_TOKEN: 'not-the-token', EASEL__WORKER__PROVIDERS: '["cpu"]' });
      expect(await worker.exited).toBe(2);
      expect(worker.output.join('\n')).toContain('token_invalid');
    } finally {
      await hub.close();
    }
  });

  it('exits 1 without WORKER_TOKEN, and needs no JWT secret in production', async () => {
    const worker = startWorkerProcess('http://127.0.0.1:9', { WORKER_TOKEN: '' });
    expect(await worker.exited).toBe(1);
    expect(worker.output.join('\n')).toContain('WORKER_TOKEN is required');
    expect(worker.output.join('\n')).not.toContain('JWT_SECRET set');
  });
});

async function waitForStage(hub: FakeHub, jobId: string, stage: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!hub.events('job:progress', jobId).some((p) => p.payload.stage === stage)) {
    if (Date.now() > deadline) throw new Error(`job ${jobId} never reached ${stage}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitForHello(hub: FakeHub, notSid: string | undefined): Promise<Seen> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const sid = hub.socket?.id;
    const hello = sid !== notSid ? hub.seen.find((s) => s.event === 'worker:hello' && s.sid === sid) : undefined;
    if (hello) return hello;
    if (Date.now() > deadline) throw new Error('the worker did not reconnect');
    await new Promise((r) => setTimeout(r, 20));
  }
}
