/**
 * `npm run worker`: a job worker for a hub at HUB_URL, authenticated by WORKER_TOKEN
 * (`npm run token:worker -- --id gpu-1` on a machine with the hub's JWT_SECRET). It needs no JWT secret,
 * database or Redis: inputs come from the hub over HTTP, results go back on the socket.
 *
 *   HUB_URL=http://hub:8000 WORKER_TOKEN=... NODE_ENV=production npm run worker
 *
 * SIGTERM/SIGINT: stop taking jobs, let running ones finish within `worker.shutdownGraceMs`, hand back the
 * rest; a second signal exits at once (the hub's reaper requeues what this process held).
 */
import { ConfigError, loadConfig } from './platform/config.js';
import { createLogger } from './platform/logger.js';
import { startWorker, type RunningWorker } from './worker/worker.start.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig({ role: 'worker' });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  if (!config.worker.token) {
    console.error('WORKER_TOKEN is required: create one with `npm run token:worker -- --id <name>` where the hub\'s JWT_SECRET is set');
    process.exit(1);
  }
  const logger = createLogger(config.log.level, 'easel-worker');
  let worker: RunningWorker | null = null;
  let signals = 0;

  const onSignal = (signal: string) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down');
    if (!worker) process.exit(0); // nothing taken yet
    worker.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'worker stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  logger.info({ hub: config.worker.hubUrl, env: config.env }, 'worker starting');
  worker = await startWorker(config, {
    logger,
    onFatal: (err) => {
      logger.fatal({ err: err.message }, 'worker cannot run against this hub');
      process.exit(2);
    },
  });
}

main().catch((err: unknown) => {
  console.error('fatal worker error', err);
  process.exit(1);
});
