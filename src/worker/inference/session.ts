import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { AppError } from '../../platform/errors.js';
import { openCpuThreadSession } from './cpu-thread.js';

/**
 * ONNX Runtime sessions for the upscale models, and the `UpscaleModel` adapter the tiler and the job
 * handler talk to (so tests swap in a JS fake and the handler never sees ORT).
 *
 * ORT does not fall back between execution providers by itself: asking for `cuda` without its provider
 * libraries throws "Failed to load shared library", `webgpu` without a Vulkan adapter throws "Failed to
 * get a WebGPU adapter". So each provider gets its own session attempt, in order, and every failure is
 * kept (and logged) so `worker:hello`, logs and the dashboard can say why the worker runs on `cpu`.
 */

export type ExecutionProvider = 'cuda' | 'webgpu' | 'cpu';
export const DEFAULT_PROVIDERS: readonly ExecutionProvider[] = ['cuda', 'webgpu', 'cpu'];

/** Pixel scale a model expects: 255 for inputs in 0–255 (esrgan slim/medium), 1 for 0–1 (thick). */
export type PixelRange = 255 | 1;

/** One image tile, batch 1, NCHW float32 in the model's pixel range. */
export interface TileTensor {
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

/** What the tiler needs from a super-resolution model; ORT-backed or a JS fake in tests. */
export interface UpscaleModel {
  readonly name: string;
  readonly scale: number;
  readonly range: PixelRange;
  /** Execution provider the session runs on ('cpu', 'webgpu', 'cuda'; 'js' for fakes). */
  readonly provider: string;
  run(tile: TileTensor): Promise<TileTensor>;
  release(): Promise<void>;
}

export interface ProviderFailure {
  provider: string;
  message: string;
}

/** The slice of a pino logger this module uses. */
export interface InferenceLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** The slice of the `onnxruntime-node` module used here (the real module satisfies it). */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array | string, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: typeof Tensor;
}

export class NoExecutionProviderError extends AppError {
  constructor(readonly failures: ProviderFailure[]) {
    super(503, 'no_execution_provider', `No execution provider could load the model (${failures.map((f) => `${f.provider}: ${f.message}`).join('; ')})`);
  }
}

export interface SessionOptions {
  /** Tried in order; the first that creates a session wins. */
  providers?: readonly string[];
  /** Intra-op threads for the CPU provider; ORT's default (all cores) when omitted. */
  cpuThreads?: number;
  logger?: InferenceLogger;
  /** Defaults to a lazy `import('onnxruntime-node')`, so hub-only processes never load the native library. */
  ort?: OrtModule;
  /** Run the `cpu` provider on its own thread (loadOnnxUpscaleModel). Default: true, unless `ort` is injected. */
  cpuOffThread?: boolean;
}

export interface CreatedSession {
  session: InferenceSession;
  provider: string;
  failures: ProviderFailure[];
  ort: OrtModule;
}

export async function loadOrt(): Promise<OrtModule> {
  try {
    return (await import('onnxruntime-node')) as unknown as OrtModule;
  } catch (err) {
    throw new AppError(503, 'onnxruntime_missing', 'onnxruntime-node is not installed or failed to load', { cause: err });
  }
}

/** First line of ORT's message: its errors carry multi-line source locations. */
function shortMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (text.split('\n')[0] ?? text).slice(0, 300);
}

/**
 * Creates a session on the first provider in `providers` that works.
 *
 * @example
 * const { session, provider, failures } = await createSession(bytes, { providers: ['cuda', 'webgpu', 'cpu'], logger });
 */
export async function createSession(model: Uint8Array | string, opts: SessionOptions = {}): Promise<CreatedSession> {
  const providers = opts.providers ?? DEFAULT_PROVIDERS;
  if (providers.length === 0) throw new RangeError('at least one execution provider is required');
  const ort = opts.ort ?? (await loadOrt());
  const failures: ProviderFailure[] = [];
  for (const provider of providers) {
    const options: InferenceSession.SessionOptions = { executionProviders: [provider], graphOptimizationLevel: 'all' };
    if (provider === 'cpu' && opts.cpuThreads !== undefined) options.intraOpNumThreads = opts.cpuThreads;
    try {
      const session = await ort.InferenceSession.create(model, options);
      opts.logger?.info({ provider, failed: failures }, 'inference session created');
      return { session, provider, failures, ort };
    } catch (err) {
      const failure = { provider, message: shortMessage(err) };
      failures.push(failure);
      opts.logger?.warn(failure, 'execution provider unavailable, trying the next one');
    }
  }
  throw new NoExecutionProviderError(failures);
}

export interface OnnxModelSpec {
  name: string;
  scale: number;
  range: PixelRange;
  /** A file path or the model bytes. */
  model: Uint8Array | string;
}

export type OnnxUpscaleModel = UpscaleModel & { readonly failures: ProviderFailure[] };

/** The output a session gave for `tile`, checked against the declared scale. */
function checkedOutput(spec: OnnxModelSpec, tile: TileTensor, output: { data: unknown; dims: readonly number[]; type: string } | undefined): TileTensor {
  const dims = output?.dims ?? [];
  const expected = [1, tile.channels, tile.height * spec.scale, tile.width * spec.scale];
  if (!output || !(output.data instanceof Float32Array) || dims.join() !== expected.join()) {
    throw new AppError(500, 'model_output_mismatch', `Model ${spec.name} returned [${dims.join(', ')}] (${output?.type}); expected float32 [${expected.join(', ')}]`);
  }
  return { data: output.data, channels: tile.channels, height: expected[2]!, width: expected[3]! };
}

/**
 * Loads an ONNX super-resolution model (input NCHW [1, 3, H, W], output [1, 3, H·scale, W·scale])
 * behind the `UpscaleModel` adapter; the output shape is checked on every run so a wrong manifest
 * scale fails loudly instead of producing a garbled image.
 *
 * Providers are tried in order. `cpu` runs on its own thread (cpu-thread.ts) unless `cpuOffThread` is false
 * or a stand-in runtime is injected: ORT's run blocks the calling thread, for seconds per tile on a CPU. GPU
 * providers keep the calling thread (their tiles take milliseconds; that path was checked on a device).
 */
export async function loadOnnxUpscaleModel(spec: OnnxModelSpec, opts: SessionOptions = {}): Promise<OnnxUpscaleModel> {
  if (!Number.isInteger(spec.scale) || spec.scale < 1) throw new RangeError(`scale must be a positive integer, got ${spec.scale}`);
  const providers = opts.providers ?? DEFAULT_PROVIDERS;
  if (providers.length === 0) throw new RangeError('at least one execution provider is required');
  const offThread = opts.cpuOffThread ?? opts.ort === undefined;
  const failures: ProviderFailure[] = [];
  for (const provider of providers) {
    try {
      if (provider === 'cpu' && offThread) return await onCpuThread(spec, opts, failures);
      return await onThisThread(spec, { ...opts, providers: [provider] }, failures);
    } catch (err) {
      if (err instanceof NoExecutionProviderError) failures.push(...err.failures);
      else if (provider === 'cpu' && offThread) {
        const failure = { provider, message: shortMessage(err) };
        failures.push(failure);
        opts.logger?.warn(failure, 'execution provider unavailable, trying the next one');
      } else throw err;
    }
  }
  throw new NoExecutionProviderError(failures);
}

async function onThisThread(spec: OnnxModelSpec, opts: SessionOptions, earlier: ProviderFailure[]): Promise<OnnxUpscaleModel> {
  const { session, provider, ort } = await createSession(spec.model, opts);
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  if (inputName === undefined || outputName === undefined) {
    await session.release();
    throw new AppError(500, 'model_invalid', `Model ${spec.name} has no input or output`);
  }
  return {
    name: spec.name,
    scale: spec.scale,
    range: spec.range,
    provider,
    failures: earlier,
    async run(tile) {
      const input = new ort.Tensor('float32', tile.data, [1, tile.channels, tile.height, tile.width]);
      const result = await session.run({ [inputName]: input });
      return checkedOutput(spec, tile, result[outputName]);
    },
    release: () => session.release(),
  };
}

async function onCpuThread(spec: OnnxModelSpec, opts: SessionOptions, earlier: ProviderFailure[]): Promise<OnnxUpscaleModel> {
  const thread = await openCpuThreadSession(spec.model, { cpuThreads: opts.cpuThreads });
  opts.logger?.info({ provider: 'cpu', thread: true, failed: earlier }, 'inference session created');
  return {
    name: spec.name,
    scale: spec.scale,
    range: spec.range,
    provider: 'cpu',
    failures: earlier,
    run: async (tile) => checkedOutput(spec, tile, await thread.run(tile)),
    release: () => thread.release(),
  };
}
