import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerConfig } from '../platform/config.js';
import { workerRegistry } from './jobs/index.js';
import { connectWorker, type WorkerConnection } from './worker.connection.js';
import type { WorkerLogger } from './worker.handlers.js';
import { createMediaFetcher } from './worker.media.js';
import { loadModelCatalog, type ModelCatalog } from './worker.models.js';
import { createRunner, type Runner } from './worker.runner.js';

/**
 * Builds a worker from its configuration: verified models (and the provider they run on), the handler
 * registry, the runner and its socket to the hub. Used by `npm run worker` (src/worker.ts) and by
 * `npm start`, which runs one in the hub's process against the hub's own port.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function packageVersion(): string {
  try {
    return String((JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version?: unknown }).version ?? '0');
  } catch {
    return '0'; // a missing package.json only costs the version label
  }
}

export interface RunningWorker {
  connection: WorkerConnection;
  runner: Runner;
  models: ModelCatalog;
  capabilities: { types: string[]; models: string[]; provider: string; concurrency: number; version: string };
  /**
   * Graceful stop: no new work, running jobs get `graceMs` (default `worker.shutdownGraceMs`) to finish,
   * the rest are handed back (retryable), answers are acked, then the socket closes and models are released.
   */
  stop(graceMs?: number): Promise<{ finished: number; handedBack: number }>;
}

export interface StartWorkerOptions {
  logger: WorkerLogger;
  /** Overrides `config.worker.hubUrl` / `token` (the in-process worker mints its own token). */
  hubUrl?: string;
  token?: string;
  onFatal?: (err: Error) => void;
}

export async function startWorker(config: WorkerConfig, opts: StartWorkerOptions): Promise<RunningWorker> {
  const settings = config.worker;
  const token = opts.token ?? settings.token;
  if (!token) throw new Error('WORKER_TOKEN is required (npm run token:worker -- --id <name> on a machine with the hub\'s JWT_SECRET)');
  const hubUrl = opts.hubUrl ?? settings.hubUrl;
  const { logger } = opts;
  const models = await loadModelCatalog({
    dir: settings.weightsDir ? resolve(settings.weightsDir) : resolve(ROOT, 'weights'),
    providers: settings.providers,
    cpuThreads: settings.cpuThreads,
    logger,
  });
  const registry = workerRegistry({ models, tileConcurrency: models.provider === 'cpu' || models.provider === 'none' ? 1 : 2, studio: config.studio });
  const capabilities = {
    types: registry.types(),
    models: models.keys,
    provider: models.provider,
    concurrency: settings.concurrency,
    version: packageVersion(),
  };
  logger.info({ ...capabilities, providerFailures: models.failures }, 'worker capabilities');
  const connection = connectWorker({ hubUrl, token, capabilities, logger, onFatal: opts.onFatal });
  const runner = createRunner({
    registry,
    concurrency: settings.concurrency,
    sink: connection,
    fetchMedia: createMediaFetcher({ hubUrl, token, maxBytes: config.uploads.maxFileBytes }),
    logger,
  });
  connection.attach(runner);
  let stopping: Promise<{ finished: number; handedBack: number }> | null = null;
  return {
    connection,
    runner,
    models,
    capabilities,
    stop(graceMs = settings.shutdownGraceMs) {
      stopping ??= (async () => {
        logger.info({ running: runner.runningIds().length, graceMs }, 'worker stopping: no new jobs');
        const counts = await runner.drain(graceMs);
        await connection.close(10_000);
        await models.release();
        logger.info(counts, 'worker stopped');
        return counts;
      })();
      return stopping;
    },
  };
}
