import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { boxUpscaleOnnx } from '../../../test/helpers/tiny-onnx.js';
import { createSession, loadOnnxUpscaleModel, NoExecutionProviderError, type InferenceLogger, type OrtModule } from './session.js';

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
