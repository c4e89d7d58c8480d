import { z } from 'zod';
import type { Orm } from '../../platform/db/orm.js';
import { pingDb } from '../../platform/db/orm.js';
import type { Metrics } from '../../platform/metrics.js';
import type { RedisClients } from '../../platform/redis.js';
import { json, route, type AnyRoute } from '../../transport/http/types.js';

export interface OpsDeps {
  orm: Orm;
  redis: RedisClients | null;
  metrics: Metrics;
  engine: () => string;
  isDraining: () => boolean;
}

const tags = ['ops'];

async function check(fn: () => Promise<unknown>, timeoutMs = 2000): Promise<'ok' | string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([fn(), new Promise((_r, reject) => (timer = setTimeout(() => reject(new Error('timeout')), timeoutMs)))]);
    return 'ok';
  } catch (err) {
    return (err as Error).message;
  } finally {
    clearTimeout(timer);
  }
}

export function opsRoutes(deps: OpsDeps): AnyRoute[] {
  return [
    route({
      method: 'GET',
      path: '/health',
      summary: 'Liveness: the process answers',
      tags,
      auth: 'none',
      responses: { 200: z.object({ status: z.literal('ok'), engine: z.string(), uptime_s: z.number() }) },
      handler: async () => json({ status: 'ok', engine: deps.engine(), uptime_s: Math.round(process.uptime()) }),
    }),
    route({
      method: 'GET',
      path: '/ready',
      summary: 'Readiness: database and Redis reachable, not draining',
      tags,
      auth: 'none',
      responses: { 200: z.object({ status: z.enum(['ready', 'unavailable']), checks: z.record(z.string(), z.string()) }) },
      handler: async () => {
        const checks: Record<string, string> = { db: await check(() => pingDb(deps.orm)) };
        checks.redis = deps.redis ? await check(() => deps.redis!.cmd.ping()) : 'not configured (single node)';
        if (deps.isDraining()) checks.shutdown = 'draining';
        const ok = checks.db === 'ok' && (!deps.redis || checks.redis === 'ok') && !deps.isDraining();
        return json({ status: ok ? 'ready' : 'unavailable', checks }, ok ? 200 : 503);
      },
    }),
    route({
      method: 'GET',
      path: '/metrics',
      summary: 'Prometheus metrics',
      tags,
      auth: 'none',
      handler: async () => ({
        status: 200,
        headers: { 'content-type': deps.metrics.registry.contentType },
        body: await deps.metrics.registry.metrics(),
      }),
    }),
  ];
}
