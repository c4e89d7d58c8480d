import { Redis } from 'ioredis';
import type { Logger } from './logger.js';

export interface RedisClients {
  /** Commands (rate limits, recent history). */
  cmd: Redis;
  /** Publisher and subscriber for the socket.io adapter. */
  pub: Redis;
  sub: Redis;
  close(): Promise<void>;
}

export async function connectRedis(url: string, logger: Logger): Promise<RedisClients> {
  // Auto-pipelining sends every command issued in one event-loop turn in one write (order kept): a job's pushes,
  // a burst of broadcasts or rate-limit checks cost one syscall, not one each. Not for the subscriber.
  const make = (role: string) => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true, enableAutoPipelining: role !== 'sub' });
    client.on('error', (err) => logger.warn({ err, role }, 'redis error'));
    return client;
  };
  const cmd = make('cmd');
  const pub = guardPublish(make('pub'), logger);
  const sub = make('sub');
  await Promise.all([cmd.connect(), pub.connect(), sub.connect()]);
  return {
    cmd,
    pub,
    sub,
    async close() {
      await Promise.allSettled([cmd.quit(), pub.quit(), sub.quit()]);
    },
  };
}

/**
 * The socket.io Redis adapter calls `publish()` and drops the promise. While Redis is down ioredis rejects
 * it (after `maxRetriesPerRequest` reconnect attempts), and an unhandled rejection ends a Node process: a
 * Redis outage would take every hub down with it. Each publish's promise gets a handler here (callers that
 * await it still see the rejection); the broadcast has already reached this node's sockets, other nodes miss
 * it, and live streams recover those with `since`. Failures are logged at most once per 5 s.
 */
export function guardPublish(client: Redis, logger: Logger): Redis {
  const publish = client.publish.bind(client) as (...args: unknown[]) => Promise<number>;
  let failed = 0;
  let lastLog = 0;
  const onFailure = (err: unknown) => {
    failed++;
    const now = Date.now();
    if (now - lastLog < 5000) return;
    lastLog = now;
    logger.warn({ err, failed }, 'redis publish failed: broadcasts reach this node only until Redis is back');
    failed = 0;
  };
  (client as unknown as { publish: (...args: unknown[]) => Promise<number> }).publish = (...args: unknown[]) => {
    const pending = publish(...args);
    pending.catch(onFailure);
    return pending;
  };
  return client;
}
