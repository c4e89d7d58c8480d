import { AppError } from '../platform/errors.js';
import { loadManifestModel } from './inference/manifest-model.js';
import type { OnnxUpscaleModel, ProviderFailure, UpscaleModel } from './inference/session.js';
import { checkEntry, readManifest, type WeightsEntry } from './weights/weights.manifest.js';
import type { WorkerLogger } from './worker.handlers.js';

/**
 * The upscale models a worker offers: every `weights/manifest.json` entry whose file has the size and
 * SHA-256 the manifest records (a truncated or stale file is logged and left out, never loaded). The
 * default model of each scale is loaded at start, which also settles the execution provider the worker
 * announces; the others load on first use, on the provider that already worked.
 */

/** Used when a job names no model: the slim RDN, fastest on CPU (load-tests/RESULTS.md has the numbers). */
export const DEFAULT_MODELS: Record<number, string> = { 2: 'rdn-slim-x2', 4: 'rdn-slim-x4' };

export interface ModelCatalog {
  /** Verified manifest keys (what `worker:hello` announces). */
  readonly keys: string[];
  /** Scales with a usable default model. */
  readonly scales: number[];
  /** Provider the loaded sessions run on; 'none' when no model loaded. */
  readonly provider: string;
  readonly failures: ProviderFailure[];
  /** The model for a job: `key` when given (422 when unknown or of another scale), else the scale's default. */
  get(scale: number, key?: string): Promise<UpscaleModel>;
  release(): Promise<void>;
}

export interface ModelCatalogOptions {
  dir: string;
  providers: readonly string[];
  /** 0: ORT's default. */
  cpuThreads: number;
  logger: WorkerLogger;
  /** Load these at start (default: the default model of each scale present). */
  preload?: string[];
  /** Stand-in loader for tests. */
  load?: (dir: string, key: string, providers: readonly string[]) => Promise<UpscaleModel & { failures?: ProviderFailure[] }>;
}

export async function verifiedEntries(dir: string, logger: WorkerLogger): Promise<WeightsEntry[]> {
  const manifest = await readManifest(dir);
  const sound: WeightsEntry[] = [];
  for (const entry of manifest.models) {
    const problems = await checkEntry(dir, entry);
    if (problems.length) logger.error({ model: entry.key, problems }, 'model file does not match the manifest: left out (npm run weights rebuilds it)');
    else sound.push(entry);
  }
  if (manifest.models.length === 0) logger.warn({ dir }, 'no weights manifest: this worker offers no upscale models (npm run weights)');
  return sound;
}

export async function loadModelCatalog(opts: ModelCatalogOptions): Promise<ModelCatalog> {
  const entries = await verifiedEntries(opts.dir, opts.logger);
  const byKey = new Map(entries.map((e) => [e.key, e]));
  const sessions = new Map<string, Promise<UpscaleModel>>();
  let provider = 'none';
  let failures: ProviderFailure[] = [];
  let providers = opts.providers;
  const cpuThreads = opts.cpuThreads > 0 ? opts.cpuThreads : undefined;
  const load =
    opts.load ?? ((dir: string, key: string, list: readonly string[]): Promise<OnnxUpscaleModel> => loadManifestModel(dir, key, { providers: list, cpuThreads, logger: opts.logger }));

  function session(key: string): Promise<UpscaleModel> {
    let pending = sessions.get(key);
    if (!pending) {
      pending = load(opts.dir, key, providers).then((model) => {
        if (provider === 'none') {
          provider = model.provider;
          failures = model.failures ?? [];
          // Later models start at the provider that worked instead of failing through cuda again.
          const at = providers.indexOf(model.provider);
          if (at > 0) providers = providers.slice(at);
        }
        opts.logger.info({ model: key, provider: model.provider }, 'upscale model loaded');
        return model;
      });
      // A failed load is not cached: the next job tries again (the provider may have come back).
      pending.catch(() => sessions.delete(key));
      sessions.set(key, pending);
    }
    return pending;
  }

  const defaults = Object.entries(DEFAULT_MODELS).filter(([, key]) => byKey.has(key));
  for (const key of opts.preload ?? defaults.map(([, key]) => key)) {
    if (!byKey.has(key)) continue;
    try {
      await session(key);
    } catch (err) {
      opts.logger.error({ model: key, err: (err as Error).message }, 'model failed to load');
    }
  }

  return {
    keys: [...byKey.keys()],
    scales: defaults.map(([scale]) => Number(scale)),
    get provider() {
      return provider;
    },
    get failures() {
      return failures;
    },
    async get(scale, key) {
      const name = key ?? DEFAULT_MODELS[scale];
      const entry = name === undefined ? undefined : byKey.get(name);
      if (!entry) throw new AppError(422, 'model_unknown', `No model ${name ?? `for scale ${scale}`} on this worker (have: ${[...byKey.keys()].join(', ') || 'none'})`);
      if (entry.scale !== scale) throw new AppError(422, 'model_scale_mismatch', `Model ${entry.key} upscales by ${entry.scale}, not ${scale}`);
      return session(entry.key);
    },
    async release() {
      const loaded = await Promise.allSettled(sessions.values());
      sessions.clear();
      for (const l of loaded) if (l.status === 'fulfilled') await l.value.release();
    },
  };
}
