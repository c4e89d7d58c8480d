import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const STRONG_SECRET = 'x'.repeat(24) + '-production-grade-secret';

/** loadConfig's problems, or a failure if it did not throw a ConfigError. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('parses the checked-in defaults with an empty environment', () => {
    const config = loadConfig({ env: {} });
    expect(config.env).toBe('development');
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 8000, engine: 'auto' });
    expect(config.db.url).toBeNull();
    expect(config.redis.url).toBeNull();
    expect(config.dataDir).toBe('./data');
    expect(config.auth.jwtSecret.length).toBeGreaterThanOrEqual(16);
    expect(config.rateLimits.token.limit).toBeGreaterThan(0);
  });

  it('layers config/<NODE_ENV>.json over the defaults', () => {
    expect(loadConfig({ env: { NODE_ENV: 'test' } }).log.level).toBe('silent');
    expect(loadConfig({ env: { NODE_ENV: 'staging-typo' } }).env).toBe('development');
  });

  it('applies the operator environment variables', () => {
    const config = loadConfig({
      env: {
        PORT: '9123',
        HOST: '127.0.0.1',
        DATABASE_URL: 'postgresql://u:p@db.internal:5432/easel',
        REDIS_URL: 'redis://cache:6379/2',
        JWT_SECRET: 'an-operator-chosen-secret-value',
        LOG_LEVEL: 'debug',
        HTTP_ENGINE: 'node',
        DATA_DIR: '/var/lib/easel',
        ADMIN_USERNAME: 'root',
        ADMIN_PASSWORD: 'long-enough-pass',
        HUB_URL: 'http://hub:8000',
        WORKER_TOKEN: 'wt',
      },
    });
    expect(config.server).toMatchObject({ port: 9123, host: '127.0.0.1', engine: 'node' });
    expect(config.db.url).toBe('postgresql://u:p@db.internal:5432/easel');
    expect(config.redis.url).toBe('redis://cache:6379/2');
    expect(config.auth.jwtSecret).toBe('an-operator-chosen-secret-value');
    expect(config.log.level).toBe('debug');
    expect(config.dataDir).toBe('/var/lib/easel');
    expect(config.auth.admin).toEqual({ username: 'root', password: 'long-enough-pass' });
    expect(config.worker).toEqual({ hubUrl: 'http://hub:8000', token: 'wt' });
  });

  it('treats empty variables as unset', () => {
    const config = loadConfig({ env: { PORT: '', DATABASE_URL: '' } });
    expect(config.server.port).toBe(8000);
    expect(config.db.url).toBeNull();
  });

  it('maps generic EASEL__A__B variables onto nested keys, parsing JSON values', () => {
    const config = loadConfig({
      env: { EASEL__RATE_LIMITS__TOKEN__LIMIT: '3', EASEL__SERVER__TRUST_PROXY: 'true', EASEL__SERVER__CORS_ORIGINS: '["https://a.example"]' },
    });
    expect(config.rateLimits.token.limit).toBe(3);
    expect(config.rateLimits.token.windowSeconds).toBe(60); // siblings keep their defaults
    expect(config.server.trustProxy).toBe(true);
    expect(config.server.corsOrigins).toEqual(['https://a.example']);
  });

  it('lets programmatic overrides win over the environment', () => {
    const config = loadConfig({ env: { PORT: '9000' }, overrides: { server: { port: 0 } } });
    expect(config.server.port).toBe(0);
  });

  it('lists every bad setting at once', () => {
    const problems = problemsOf({ PORT: 'abc', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x', HTTP_ENGINE: 'fast', REDIS_URL: 'http://nope' });
    const paths = problems.map((p) => p.split(':')[0]);
    expect(paths).toEqual(expect.arrayContaining(['server.port', 'log.level', 'db.url', 'server.engine', 'redis.url']));
    expect(problems.length).toBeGreaterThanOrEqual(5);
    const message = (() => {
      try {
        loadConfig({ env: { PORT: 'abc', LOG_LEVEL: 'loud' } });
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(message).toMatch(/Invalid configuration/);
    expect(message).toMatch(/server\.port/);
    expect(message).toMatch(/log\.level/);
  });

  it('rejects unknown keys (a typo is an error, not a silent default)', () => {
    expect(problemsOf({ EASEL__SERVER__PROT: '1' }).join('\n')).toMatch(/server.*PROT|prot/i);
    expect(problemsOf({ EASEL__RATE_LIMITS__TOKEN__LIMIT: '-1' }).some((p) => p.startsWith('rateLimits.token.limit'))).toBe(true);
  });

  it('refuses the default and short JWT secrets in production, accepts a strong one', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual(expect.arrayContaining([expect.stringMatching(/^auth\.jwtSecret: production needs JWT_SECRET/)]));
    expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET: 'only-twenty-chars-xx' }).some((p) => p.startsWith('auth.jwtSecret'))).toBe(true);
    const config = loadConfig({ env: { NODE_ENV: 'production', JWT_SECRET: STRONG_SECRET } });
    expect(config.env).toBe('production');
    expect(config.server.trustProxy).toBe(true); // from config/production.json
  });

  it('rejects a JWT secret under 16 characters in any mode', () => {
    expect(problemsOf({ JWT_SECRET: 'short' })).toEqual([expect.stringMatching(/^auth\.jwtSecret: must be at least 16/)]);
  });

  it('requires a key and an audience for an external issuer', () => {
    const problems = problemsOf({ EXTERNAL_JWT_ISSUER: 'https://auth.example' });
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^auth\.external: .*publicKeyPem or jwksUrl/), expect.stringMatching(/^auth\.external\.audience: required/)]));
    const ok = loadConfig({ env: { EXTERNAL_JWT_ISSUER: 'https://auth.example', EXTERNAL_JWT_AUDIENCE: 'easel', EXTERNAL_JWT_JWKS_URL: 'https://auth.example/.well-known/jwks.json' } });
    expect(ok.auth.external.jwksUrl).toBe('https://auth.example/.well-known/jwks.json');
  });

  it('rejects a short bootstrap admin password', () => {
    expect(problemsOf({ ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'short' }).some((p) => p.startsWith('auth.admin.password'))).toBe(true);
  });

  describe('config files', () => {
    let dir: string | undefined;
    afterEach(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    });

    it('reports a broken JSON file by name', () => {
      dir = mkdtempSync(join(tmpdir(), 'easel-config-'));
      writeFileSync(join(dir, 'default.json'), '{ "server": ');
      expect(() => loadConfig({ env: {}, configDir: dir })).toThrow(ConfigError);
      expect(() => loadConfig({ env: {}, configDir: dir })).toThrow(/default\.json/);
    });
  });
});
