import { randomBytes } from 'node:crypto';
import { startHub, type RunningHub } from '../../src/bootstrap.js';
import { loadConfig, type Config } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { REDIS_URL } from './db.js';

export interface TestHub extends RunningHub {
  url: string;
  config: Config;
}

export interface TestHubOptions {
  dbUrl: string;
  engine?: 'uws' | 'node';
  /** true: the shared test Redis under a fresh key prefix; a string: that exact prefix (to share between hubs). */
  redis?: boolean | string;
  overrides?: Record<string, unknown>;
}

export function newRedisPrefix(): string {
  return `easel-test:${randomBytes(4).toString('hex')}:`;
}

/** A real hub on 127.0.0.1 and an ephemeral port, configured like production apart from the overrides. */
export async function startTestHub(options: TestHubOptions): Promise<TestHub> {
  const prefix = typeof options.redis === 'string' ? options.redis : newRedisPrefix();
  const config = loadConfig({
    env: { NODE_ENV: 'test' },
    overrides: deepMerge(
      {
        server: { host: '127.0.0.1', port: 0, engine: options.engine ?? 'uws', shutdownGraceMs: 2000 },
        db: { url: options.dbUrl, poolMax: 4 },
        redis: { url: options.redis ? REDIS_URL : null, keyPrefix: prefix },
        log: { level: process.env.TEST_LOG_LEVEL ?? 'silent' },
      },
      options.overrides ?? {},
    ),
  });
  const hub = await startHub(config, createLogger(config.log.level, 'test-hub'));
  return { ...hub, config, url: `http://127.0.0.1:${hub.app.port}` };
}

type Json = Record<string, unknown>;
function deepMerge(a: Json, b: Json): Json {
  const out: Json = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = prev && typeof prev === 'object' && !Array.isArray(prev) && v && typeof v === 'object' && !Array.isArray(v) ? deepMerge(prev as Json, v as Json) : v;
  }
  return out;
}
