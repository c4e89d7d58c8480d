import { Worker } from 'node:worker_threads';
import { AppError } from '../../platform/errors.js';
import type { TileTensor } from './session.js';

/**
 * An ONNX Runtime CPU session on its own thread. ORT's `session.run` is synchronous on the thread that calls
 * it: on the worker's main thread, each CPU tile (a second or more for the medium models) froze the event
 * loop, so heartbeats, socket pings, progress and every other job waited for it, and under `npm start` the
 * hub itself stopped answering. Here the main thread only copies tiles in and out.
 *
 * Tiles of one model run one after another on its thread, as they did before; two models run side by side.
 * If the thread dies (a native crash, an out-of-memory), the runs in flight fail (retryable: the job is
 * handed back) and the next run starts a fresh thread.
 */

const ENTRY = new URL('./cpu-session.thread.mjs', import.meta.url);

/** How long release waits for the tile in progress before it terminates the thread anyway. */
const CLOSE_WAIT_MS = 60_000;

export interface CpuThreadOptions {
  /** Intra-op threads; ORT's default (all cores) when omitted. */
  cpuThreads?: number;
}

export interface CpuThreadSession {
  run(tile: TileTensor): Promise<{ data: unknown; dims: readonly number[]; type: string }>;
  release(): Promise<void>;
}

interface Pending {
  resolve(out: { data: unknown; dims: readonly number[]; type: string }): void;
  reject(err: Error): void;
}

type Reply =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { id: number; error: string }
  | { id: number; data: Float32Array | null; dims: number[]; dataType: string };

/** Starts the thread and resolves once its session exists; rejects with ORT's message when it cannot load. */
export async function openCpuThreadSession(model: Uint8Array | string, opts: CpuThreadOptions = {}): Promise<CpuThreadSession> {
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let current: Promise<Worker> | null = null;
  // Shared with every thread this session starts: 1 once released, so tiles queued there are refused, not run.
  const stop = new SharedArrayBuffer(4);
  const released = new Int32Array(stop);

  function start(): Promise<Worker> {
    const worker = new Worker(ENTRY, { workerData: { model, cpuThreads: opts.cpuThreads, stop } });
    worker.unref(); // held only while a run is in flight (see run)
    const ready = new Promise<Worker>((resolve, reject) => {
      let up = false;
      worker.on('message', (msg: Reply) => {
        if ('type' in msg) {
          if (msg.type === 'ready') {
            up = true;
            resolve(worker);
          } else reject(new Error(msg.message));
          return;
        }
        const waiter = pending.get(msg.id);
        if (!waiter) return;
        pending.delete(msg.id);
        if (pending.size === 0) worker.unref();
        if ('error' in msg) waiter.reject(new Error(msg.error));
        else waiter.resolve({ data: msg.data, dims: msg.dims, type: msg.dataType });
      });
      const gone = (why: string) => {
        if (current === ready) current = null;
        if (!up) reject(new Error(why));
        for (const [id, waiter] of pending) {
          pending.delete(id);
          waiter.reject(new AppError(503, 'inference_thread_exited', `The inference thread stopped (${why}); the tile was not finished`));
        }
      };
      worker.on('error', (err) => gone(err.message));
      worker.on('exit', (code) => gone(`exit code ${code}`));
    });
    current = ready;
    return ready;
  }

  await start();
  return {
    async run(tile) {
      if (Atomics.load(released, 0)) throw new AppError(503, 'model_released', 'This model was released');
      const worker = await (current ?? start());
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.ref();
        // Copied, not transferred: the caller keeps its tile (a 256² tile is 768 KiB, a fraction of a millisecond).
        worker.postMessage({ id, data: tile.data, dims: [1, tile.channels, tile.height, tile.width] });
      });
    },
    async release() {
      Atomics.store(released, 0, 1);
      const worker = await current?.catch(() => null);
      current = null;
      if (!worker) return;
      // Terminating a thread inside ORT's native run aborts the whole process (Napi::Error on the way out):
      // ask it to close after the tile in progress, and terminate only if that never comes.
      worker.ref();
      const exited = new Promise<boolean>((resolve) => worker.once('exit', () => resolve(true)));
      worker.postMessage({ type: 'close' });
      const timer = setTimeout(() => void worker.terminate(), CLOSE_WAIT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}
