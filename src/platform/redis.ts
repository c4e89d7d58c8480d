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
  const make = (role: string) => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true });
    client.on('error', (err) => logger.warn({ err, role }, 'redis error'));
    return client;
  };
  const cmd = make('cmd');
  const pub = make('pub');
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
