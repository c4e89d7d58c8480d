import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './platform/config.js';
import { createLogger } from './platform/logger.js';
import { startHub, type RunningHub } from './bootstrap.js';
import { startInProcessWorker } from './worker/in-process.js';
import type { RunningWorker } from './worker/worker.start.js';

const USAGE = `usage: node --import tsx src/main.ts [--hub]
  (none)  all-in-one, what \`npm start\` runs: the hub plus an in-process worker
  --hub   the hub alone, what \`npm run hub\` runs: jobs wait for workers that connect to it`;

/** all-in-one: the hub and an in-process worker; hub: the hub alone (a production node). */
type Role = 'all-in-one' | 'hub';

function parseRole(argv: string[]): Role {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { hub: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return values.hub ? 'hub' : 'all-in-one';
}

/**
 * `npm start` / `npm run hub`: load config once, start, stop cleanly on SIGTERM/SIGINT.
 * The package scripts `exec` node, so the signal `kill <npm pid>` makes npm forward reaches this process.
 */
async function main(): Promise<void> {
  const role = parseRole(process.argv.slice(2));
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config.log.level);
  const { shutdownGraceMs } = config.server;
  let hub: RunningHub | null = null;
  let worker: RunningWorker | null = null;
  let stopSignal: string | null = null;

  const stop = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    // The in-process worker first finishes or hands back its jobs (its own grace), then the hub drains.
    const force = setTimeout(() => process.exit(1), shutdownGraceMs + (worker ? config.worker.shutdownGraceMs : 0) + 5000).unref();
    await worker?.stop();
    await hub!.stop();
    clearTimeout(force);
    logger.info('stopped');
    process.exit(0);
  };
  // Listening before anything starts: a signal's default action during startup (initdb can take seconds)
  // would kill the process and leave the embedded PostgreSQL it just started running, orphaned.
  const onSignal = (signal: string) => {
    if (stopSignal) return;
    stopSignal = signal;
    if (hub) void stop(signal);
    else logger.info({ signal }, 'stop requested during startup: stopping as soon as started');
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  logger.info({ role, env: config.env }, 'starting');
  hub = await startHub(config, logger);
  if (role === 'all-in-one' && !stopSignal) {
    // The same worker as `npm run worker`, over a socket to this hub's port; stopped in stop() before the hub.
    try {
      worker = await startInProcessWorker(hub, config, logger);
    } catch (err) {
      logger.error({ err }, 'in-process worker failed to start: this process runs the hub only (jobs wait for `npm run worker`)');
    }
  }
  if (stopSignal) await stop(stopSignal);
}

main().catch((err: unknown) => {
  console.error('fatal startup error', err);
  process.exit(1);
});
