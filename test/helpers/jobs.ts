import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import type { Socket } from 'socket.io-client';
import { connectSocket, emitAck } from './clients.js';

export type Ack<T = any> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } }; // eslint-disable-line @typescript-eslint/no-explicit-any
export type Assign = { jobId: string; type: string; input: any; attempt: number; leaseMs: number }; // eslint-disable-line @typescript-eslint/no-explicit-any

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const fakeSha = () => randomBytes(32).toString('hex');
export const tinyPng = (seed = 0) =>
  sharp({ create: { width: 4, height: 4, channels: 3, background: { r: seed % 256, g: 10, b: 20 } } }).png().toBuffer();

/** Waits until `check` is true, polling (tests only). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * A fake worker: a real socket.io client on `/workers` with a worker token. It records assignments and
 * cancels; the test decides what to answer.
 */
export class FakeWorker {
  readonly assigns: Assign[] = [];
  readonly cancels: { jobId: string; reason: string }[] = [];
  workerId = '';
  resume: string[] = [];
  private constructor(readonly socket: Socket) {
    socket.on('job:assign', (a: Assign) => this.assigns.push(a));
    socket.on('job:cancel', (c: { jobId: string; reason: string }) => this.cancels.push(c));
  }

  static async start(url: string, token: string, opts: { types?: string[]; concurrency?: number; instanceId?: string; running?: string[] } = {}): Promise<FakeWorker> {
    const w = new FakeWorker(await connectSocket(url, '/workers', token));
    const ack = await w.ack<{ workerId: string; resume: string[] }>('worker:hello', {
      capabilities: { types: opts.types ?? ['bestcut'], models: ['none'], provider: 'cpu', concurrency: opts.concurrency ?? 1, version: 'test' },
      ...(opts.instanceId ? { instanceId: opts.instanceId } : {}),
      ...(opts.running ? { running: opts.running } : {}),
    });
    if (!ack.ok) throw new Error(`hello refused: ${ack.error.code}`);
    w.workerId = ack.data.workerId;
    w.resume = ack.data.resume;
    return w;
  }

  ack<T = any>(event: string, payload: unknown): Promise<Ack<T>> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return emitAck<Ack<T>>(this.socket, event, payload);
  }

  async nextAssign(timeoutMs = 5000, after = 0): Promise<Assign> {
    await until(() => this.assigns.length > after, timeoutMs, 'job:assign');
    return this.assigns[after]!;
  }

  progress(jobId: string, progress: number, stage = 'working', message?: string) {
    return this.ack('job:progress', { jobId, stage, progress, ...(message ? { message } : {}) });
  }

  /** A valid bestcut result for an input. */
  completeBestcut(a: Assign) {
    const sha256s = a.input.sha256s as string[];
    return this.ack('job:complete', {
      jobId: a.jobId,
      result: { scores: sha256s.map((sha256, i) => ({ sha256, sharpness: i, exposure: 0.5, ok: true })), pick: sha256s[sha256s.length - 1] },
    });
  }

  close(): void {
    this.socket.close();
  }
}
