import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { boxUpscaleOnnx } from '../../../test/helpers/tiny-onnx.js';
import { createSession, loadOnnxUpscaleModel, NoExecutionProviderError, type InferenceLogger, type OnnxUpscaleModel, type OrtModule } from './session.js';

function recordingLogger(): InferenceLogger & { lines: Array<{ level: string; obj: object; msg: string }> } {
  const lines: Array<{ level: string; obj: object; msg: string }> = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
  };
}

const tinyX2 = boxUpscaleOnnx({ scale: 2, kernel: 3 });

describe('createSession with the real onnxruntime-node', () => {
  it('falls back from cuda (no provider libraries in the npm package) to cpu and records why', async () => {
    const logger = recordingLogger();
    const { session, provider, failures } = await createSession(tinyX2, { providers: ['cuda', 'cpu'], logger });
    expect(provider).toBe('cpu');
    expect(failures).toEqual([{ provider: 'cuda', message: expect.stringMatching(/Failed to load shared library/) }]);
    expect(logger.lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'execution provider unavailable, trying the next one'],
      ['info', 'inference session created'],
    ]);
    expect(logger.lines[1]!.obj).toEqual({ provider: 'cpu', failed: failures });
    await session.release();
  });

  it('tries cuda, then webgpu, then cpu by default; each failure is kept in order', async () => {
    const { session, provider, failures } = await createSession(tinyX2);
    expect(failures[0]).toEqual({ provider: 'cuda', message: expect.stringMatching(/Failed to load shared library/) });
    // No GPU on the CI host: WebGPU finds no Vulkan adapter. On a GPU host (shared/gpu/README.md) webgpu wins.
    if (provider === 'cpu') {
      expect(failures.map((f) => f.provider)).toEqual(['cuda', 'webgpu']);
      expect(failures[1]!.message).toMatch(/WebGPU adapter|Vulkan/);
    } else {
      expect([provider, failures.length]).toEqual(['webgpu', 1]);
    }
    await session.release();
  });

  it('throws a 503 listing every failure when no provider works, unknown names included', async () => {
    const err = await createSession(tinyX2, { providers: ['cuda', 'bogus'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoExecutionProviderError);
    const e = err as NoExecutionProviderError;
    expect([e.status, e.code]).toEqual([503, 'no_execution_provider']);
    expect(e.failures.map((f) => f.provider)).toEqual(['cuda', 'bogus']);
    expect(e.message).toMatch(/cuda: .*Failed to load shared library.*; bogus: /);
    await expect(createSession(tinyX2, { providers: [] })).rejects.toThrow(/at least one/);
  });

  it('reports a model that is not ONNX as a failure on every provider', async () => {
    const err = await createSession(Buffer.from('not a model'), { providers: ['cpu'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoExecutionProviderError);
    expect((err as NoExecutionProviderError).failures[0]!.message).toMatch(/protobuf|parse|model/i);
  });
});

describe('createSession ordering with an injected runtime', () => {
  it('stops at the first provider that works and never tries the rest', async () => {
    const tried: string[] = [];
    const fake = {
      Tensor: ort.Tensor,
      InferenceSession: {
        create: async (_m: unknown, o?: { executionProviders?: readonly unknown[] }) => {
          const p = String(o?.executionProviders?.[0]);
          tried.push(p);
          if (p !== 'webgpu') throw new Error(`${p} missing\nat some/source.cc:12`);
          return { inputNames: [], outputNames: [], release: async () => {} };
        },
      },
    } as unknown as OrtModule;
    const { provider, failures } = await createSession(tinyX2, { ort: fake });
    expect(provider).toBe('webgpu');
    expect(tried).toEqual(['cuda', 'webgpu']);
    expect(failures).toEqual([{ provider: 'cuda', message: 'cuda missing' }]); // first line only
  });
});

describe('loadOnnxUpscaleModel', () => {
  it('runs a tile on cpu and checks the output shape against the declared scale', async () => {
    const model = await loadOnnxUpscaleModel({ name: 'tiny-x2', scale: 2, range: 255, model: tinyX2 }, { providers: ['cuda', 'cpu'], cpuThreads: 1 });
    expect([model.provider, model.failures.map((f) => f.provider)]).toEqual(['cpu', ['cuda']]);
    const out = await model.run({ data: new Float32Array(3 * 2 * 2).fill(90), channels: 3, height: 2, width: 2 });
    expect([out.channels, out.height, out.width]).toEqual([3, 4, 4]);
    expect(out.data[0]).toBeCloseTo(40, 4); // corner: 4 of 9 taps inside the image, 4·90/9
    await model.release();

    const wrong = await loadOnnxUpscaleModel({ name: 'says-x4', scale: 4, range: 255, model: tinyX2 }, { providers: ['cpu'] });
    await expect(wrong.run({ data: new Float32Array(12), channels: 3, height: 2, width: 2 })).rejects.toMatchObject({
      code: 'model_output_mismatch',
      message: expect.stringMatching(/returned \[1, 3, 4, 4\].*expected float32 \[1, 3, 8, 8\]/),
    });
    await wrong.release();
    await expect(loadOnnxUpscaleModel({ name: 'x', scale: 1.5, range: 255, model: tinyX2 })).rejects.toThrow(/scale/);
  });
});

describe('the cpu provider on its own thread', () => {
  /** Runs one tile while a 5 ms interval measures how long the event loop went without a turn. */
  async function timedRun(model: OnnxUpscaleModel, side: number): Promise<{ runMs: number; worstGapMs: number }> {
    let last = performance.now();
    let worstGapMs = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      worstGapMs = Math.max(worstGapMs, now - last);
      last = now;
    }, 5);
    const t0 = performance.now();
    try {
      await model.run({ data: new Float32Array(3 * side * side).fill(100), channels: 3, height: side, width: side });
      const now = performance.now();
      // The span since the last tick counts too: a blocked loop may not tick at all before the run resolves.
      return { runMs: now - t0, worstGapMs: Math.max(worstGapMs, now - last) };
    } finally {
      clearInterval(ticker);
    }
  }

  it('keeps the event loop turning during a long tile (on the calling thread it stops for the whole tile)', { timeout: 60_000 }, async () => {
    const slow = boxUpscaleOnnx({ scale: 2, kernel: 15 }); // 4.8 GFLOP on a 768² tile: 300 ms or more on one thread here
    const threaded = await loadOnnxUpscaleModel({ name: 'slow-x2', scale: 2, range: 255, model: slow }, { providers: ['cpu'], cpuThreads: 1 });
    const inline = await loadOnnxUpscaleModel({ name: 'slow-x2', scale: 2, range: 255, model: slow }, { providers: ['cpu'], cpuThreads: 1, cpuOffThread: false });
    try {
      await timedRun(threaded, 16); // warm both sessions
      await timedRun(inline, 16);
      const off = await timedRun(threaded, 768);
      const on = await timedRun(inline, 768);
      // The contrast shows the measurement can fail: inline, the loop waits for the whole tile.
      expect(on.runMs).toBeGreaterThan(100);
      expect(on.worstGapMs).toBeGreaterThan(on.runMs / 2);
      expect(off.runMs).toBeGreaterThan(100);
      expect(off.worstGapMs, JSON.stringify({ off, on })).toBeLessThan(off.runMs / 2);
    } finally {
      await threaded.release();
      await inline.release();
    }
  });

  it('release during a tile waits for it instead of killing the thread inside ORT (which aborts the process); queued tiles are refused', { timeout: 60_000 }, async () => {
    const model = await loadOnnxUpscaleModel({ name: 'slow-x2', scale: 2, range: 255, model: boxUpscaleOnnx({ scale: 2, kernel: 15 }) }, { providers: ['cpu'], cpuThreads: 1 });
    const tile = () => ({ data: new Float32Array(3 * 768 * 768).fill(100), channels: 3, height: 768, width: 768 });
    const first = model.run(tile()).then(() => 'done', (err: Error) => err.message);
    const queued = model.run(tile()).then(() => 'done', (err: Error) => err.message);
    await new Promise((r) => setTimeout(r, 50));
    await model.release();
    // This process is still here to check: a terminate() inside the native run would have aborted it.
    expect(['done', 'the model was released']).toContain(await first);
    expect(await queued).toBe('the model was released');
  });

  it('gives the same output as a session on the calling thread, and refuses a run after release', async () => {
    const threaded = await loadOnnxUpscaleModel({ name: 'tiny-x2', scale: 2, range: 255, model: tinyX2 }, { providers: ['cpu'] });
    const inline = await loadOnnxUpscaleModel({ name: 'tiny-x2', scale: 2, range: 255, model: tinyX2 }, { providers: ['cpu'], cpuOffThread: false });
    const tile = { data: Float32Array.from({ length: 3 * 8 * 8 }, (_, i) => (i * 37) % 256), channels: 3, height: 8, width: 8 };
    const [a, b] = [await threaded.run(tile), await inline.run(tile)];
    expect(a.data).toEqual(b.data);
    expect(tile.data[1]).toBe(37); // the caller keeps its tile
    await threaded.release();
    await inline.release();
    await expect(threaded.run(tile)).rejects.toMatchObject({ code: 'model_released' });
  });

  it('reports a model the cpu thread cannot load as a provider failure, with the first line of ORT\'s message', async () => {
    const logger = recordingLogger();
    const err = await loadOnnxUpscaleModel({ name: 'junk', scale: 2, range: 255, model: Buffer.from('not an onnx model') }, { providers: ['cuda', 'cpu'], logger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoExecutionProviderError);
    expect((err as NoExecutionProviderError).failures.map((f) => f.provider)).toEqual(['cuda', 'cpu']);
    expect((err as NoExecutionProviderError).failures[1]!.message).not.toContain('\n');
    expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(2);
  });
});
