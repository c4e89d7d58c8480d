import { hostname } from 'node:os';
import type { RunningHub } from '../bootstrap.js';
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import { startWorker, type RunningWorker } from './worker.start.js';

/**
 * The worker `npm start` runs beside its hub, so a newcomer's one command gives a hub that upscales. It is
 * the same worker as `npm run worker`, over a real socket to the hub's own port: the hub cannot tell it
 * from a remote one, and nothing in the jobs path has an in-process shortcut to get wrong. Its token is
 * minted here with the hub's own token service (no WORKER_TOKEN to configure).
 */

/** Where this hub can be reached from inside its own process. */
export function localHubUrl(host: string, port: number): string {
  if (host === '0.0.0.0' || host === '' || host === '::') return `http://127.0.0.1:${port}`;
  return host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

export async function startInProcessWorker(hub: RunningHub, config: Config, logger: Logger): Promise<RunningWorker> {
  const id = `in-process:${hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 40)}:${process.pid}`;
  const { token } = await hub.app.tokens.issueWorker(id);
  return startWorker(config, {
    logger: logger.child({ role: 'worker' }),
    hubUrl: localHubUrl(config.server.host, hub.app.port),
    token,
    // A refused token here is a bug in this process, not an operator's mistake: keep the hub serving.
    onFatal: (err) => logger.error({ err: err.message }, 'in-process worker refused by its own hub'),
  });
}
