/**
 * Easel's side of load-tests/fanout.ts: a real hub (`startHub`, configured from the environment like
 * `npm run hub`: its engine, namespaces, auth middleware, limits, and the Redis adapter when REDIS_URL is set)
 * that broadcasts through the hub's own notifier (`notifier.toRoom`, the path every live push takes, e.g.
 * `image:likes`) as the parent commands (fanout-driver.ts). Viewers are put in the room with `socketsJoin`,
 * which reaches every node through the adapter; joining is not what this benchmark measures.
 */
import { startHub } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { serveFanoutCommands } from './fanout-driver.js';

const config = loadConfig();
const hub = await startHub(config, createLogger(config.log.level, 'fanout-hub'));
const { io, notifier } = hub.app;

process.on('SIGTERM', () => {
  void hub.stop().then(() => process.exit(0));
});

serveFanoutCommands({
  joinAll: () => io.of('/').socketsJoin('bench'),
  emit: (payload) => notifier.toRoom('/', 'bench', 'bench:tick', payload),
  localMembers: () => io.of('/').adapter.rooms.get('bench')?.size ?? 0,
});
