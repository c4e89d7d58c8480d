import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, modeOf, type ConfigRole } from './config.js';

const STRONG_SECRET = 'x'.repeat(24) + '-production-grade-secret';
const PUBLISHED_SECRET = 'dev-only-insecure-jwt-secret-change-me';

// A hub without JWT_SECRET keeps a generated secret under DATA_DIR: keep these tests out of ./data.
const scratch = mkdtempSync(join(tmpdir(), 'easel-config-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let dirs = 0;
/** A DATA_DIR of its own that does not exist yet. */
function freshDataDir(): string {
  return join(scratch, `data-${++dirs}`);
}

/** A hub's loadConfig with a private DATA_DIR unless the test names one. */
function load(env: Record<string, string>, overrides?: Record<string, unknown>) {
  return loadConfig({ env: { DATA_DIR: freshDataDir(), ...env }, overrides });
}

/** loadConfig's problems, or a failure if it did not throw a ConfigError. */
function problemsOf(env: Record<string, string>, role: ConfigRole = 'hub'): string[] {
  try {
    loadConfig({ env: { DATA_DIR: freshDataDir(), ...env }, role } as Parameters<typeof loadConfig>[0]);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('parses the checked-in defaults with an empty environment', () => {
    // role worker: the defaults alone, without generating a secret under ./data
    const config = loadConfig({ env: {}, role: 'worker' });
    expect(config.env).toBe('development');
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 8000, engine: 'auto' });
    expect(config.db.url).toBeNull();
    expect(config.redis.url).toBeNull();
    expect(config.dataDir).toBe('./data');
    expect(config.auth.jwtSecret).toBeNull(); // the repository publishes no secret
    expect(config.rateLimits.token.limit).toBeGreaterThan(0);
  });

  it('layers config/<NODE_ENV>.json over the defaults', () => {
    expect(load({ NODE_ENV: 'test' }).log.level).toBe('silent');
    expect(load({ NODE_ENV: 'staging-typo', JWT_SECRET: STRONG_SECRET }).env).toBe('production');
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
    expect(config.worker).toMatchObject({ hubUrl: 'http://hub:8000', token: 'wt' });
  });

  it('treats empty variables as unset', () => {
    const config = load({ PORT: '', DATABASE_URL: '' });
    expect(config.server.port).toBe(8000);
    expect(config.db.url).toBeNull();
  });

  it('maps generic EASEL__A__B variables onto nested keys, parsing JSON values', () => {
    const config = load({ EASEL__RATE_LIMITS__TOKEN__LIMIT: '3', EASEL__SERVER__TRUSTED_PROXIES: '["10.0.0.0/8"]', EASEL__SERVER__CORS_ORIGINS: '["https://a.example"]' });
    expect(config.rateLimits.token.limit).toBe(3);
    expect(config.rateLimits.token.windowSeconds).toBe(60); // siblings keep their defaults
    expect(config.server.trustedProxies).toEqual(['10.0.0.0/8']);
    expect(config.server.corsOrigins).toEqual(['https://a.example']);
  });

  it('lets programmatic overrides win over the environment', () => {
    const config = load({ PORT: '9000' }, { server: { port: 0 } });
    expect(config.server.port).toBe(0);
  });

  it('lists every bad setting at once', () => {
    const problems = problemsOf({ PORT: 'abc', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x', HTTP_ENGINE: 'fast', REDIS_URL: 'http://nope' });
    const paths = problems.map((p) => p.split(':')[0]);
    expect(paths).toEqual(expect.arrayContaining(['server.port', 'log.level', 'db.url', 'server.engine', 'redis.url']));
    expect(problems.length).toBeGreaterThanOrEqual(5);
    const message = (() => {
      try {
        load({ PORT: 'abc', LOG_LEVEL: 'loud' });
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
    const config = load({ NODE_ENV: 'production', JWT_SECRET: STRONG_SECRET });
    expect(config.env).toBe('production');
    expect(config.server.trustedProxies).toEqual([]); // production believes no X-Forwarded-For unless told
  });

  it('reads TRUSTED_PROXIES as a comma-separated list of addresses and CIDRs, and refuses anything else', () => {
    expect(load({ TRUSTED_PROXIES: '172.18.0.0/16, 10.1.2.3 ,fd00::/8' }).server.trustedProxies).toEqual(['172.18.0.0/16', '10.1.2.3', 'fd00::/8']);
    for (const bad of ['true', 'nginx', '10.0.0.0/33', '10.0.0.1/8/1', '::1/129']) {
      expect(problemsOf({ TRUSTED_PROXIES: bad }).some((p) => p.startsWith('server.trustedProxies')), bad).toBe(true);
    }
  });

  it('lists a missing production secret together with the other bad settings', () => {
    const problems = problemsOf({ NODE_ENV: 'production', PORT: 'abc' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['auth.jwtSecret', 'server.port']);
  });

  it('runs every NODE_ENV except development and test production-grade: no secret, no start', () => {
    for (const nodeEnv of ['staging', 'Production', ' PRODUCTION ', 'prod', 'qa', 'developmnet']) {
      const dataDir = freshDataDir();
      const problems = problemsOf({ NODE_ENV: nodeEnv, DATA_DIR: dataDir });
      expect(problems, nodeEnv).toEqual([expect.stringMatching(/^auth\.jwtSecret: production needs JWT_SECRET/)]);
      expect(existsSync(join(dataDir, 'jwt-secret')), nodeEnv).toBe(false); // nothing generated on the way
      const config = load({ NODE_ENV: nodeEnv, JWT_SECRET: STRONG_SECRET });
      expect(config.env, nodeEnv).toBe('production');
      expect(config.server.trustedProxies, nodeEnv).toEqual([]);
    }
    expect(problemsOf({ NODE_ENV: 'staging' })[0]).toMatch(/NODE_ENV 'staging' runs as production/);
  });

  it('reads development and test case-insensitively, unset and empty as development', () => {
    expect([undefined, '', 'development', 'Development', ' DEVELOPMENT'].map(modeOf)).toEqual(Array(5).fill('development'));
    expect(['test', 'Test', 'TEST '].map(modeOf)).toEqual(['test', 'test', 'test']);
    expect(['production', 'staging', 'prod', 'dev'].map(modeOf)).toEqual(Array(4).fill('production'));
  });

  it('refuses the secret the repository once published, in every mode', () => {
    for (const nodeEnv of ['development', 'test', 'production', 'staging']) {
      const problems = problemsOf({ NODE_ENV: nodeEnv, JWT_SECRET: PUBLISHED_SECRET });
      expect(problems, nodeEnv).toEqual(expect.arrayContaining([expect.stringMatching(/^auth\.jwtSecret: this secret is published/)]));
    }
  });

  describe('the generated secret (development and test without JWT_SECRET)', () => {
    it('is random, 32+ characters, kept in <dataDir>/jwt-secret with mode 0600', () => {
      const dataDir = freshDataDir();
      const config = load({ DATA_DIR: dataDir });
      expect(config.auth.jwtSecret.length).toBeGreaterThanOrEqual(32);
      const file = join(dataDir, 'jwt-secret');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(load({ NODE_ENV: 'test' }).auth.jwtSecret).not.toBe(config.auth.jwtSecret); // another DATA_DIR
    });

    it('persists across restarts, in every mode that may use it', () => {
      const dataDir = freshDataDir();
      const first = load({ DATA_DIR: dataDir }).auth.jwtSecret;
      expect(load({ DATA_DIR: dataDir }).auth.jwtSecret).toBe(first);
      expect(load({ DATA_DIR: dataDir, NODE_ENV: 'Test' }).auth.jwtSecret).toBe(first);
    });

    it('is neither read nor created when JWT_SECRET is set', () => {
      const dataDir = freshDataDir();
      expect(load({ DATA_DIR: dataDir, JWT_SECRET: STRONG_SECRET }).auth.jwtSecret).toBe(STRONG_SECRET);
      expect(existsSync(join(dataDir, 'jwt-secret'))).toBe(false);
    });

    it('reports a damaged secret file by name instead of replacing it', () => {
      const dataDir = freshDataDir();
      load({ DATA_DIR: dataDir });
      writeFileSync(join(dataDir, 'jwt-secret'), 'short\n');
      expect(problemsOf({ DATA_DIR: dataDir })).toEqual([expect.stringMatching(/^auth\.jwtSecret: JWT_SECRET is unset .*jwt-secret holds 5 characters/)]);
    });

    it('reports a DATA_DIR it cannot write as a configuration problem', () => {
      const file = join(scratch, 'not-a-directory');
      writeFileSync(file, '');
      expect(problemsOf({ DATA_DIR: join(file, 'data') })).toEqual([expect.stringMatching(/^auth\.jwtSecret: JWT_SECRET is unset and the generated one under DATA_DIR cannot be used: .*ENOTDIR/)]);
    });
  });

  describe("roles that never touch Easel's tokens (worker, migrate)", () => {
    it('start in production without JWT_SECRET, and generate nothing', () => {
      for (const role of ['worker', 'migrate'] as const) {
        const dataDir = freshDataDir();
        const config = loadConfig({ env: { NODE_ENV: 'production', DATA_DIR: dataDir }, role });
        expect(config.env).toBe('production');
        expect(config.auth.jwtSecret).toBeNull();
        expect(existsSync(dataDir)).toBe(false);
      }
    });

    it('still refuse a weak or published JWT_SECRET when one is given', () => {
      expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET: 'only-twenty-chars-xx' }, 'worker')).toEqual([expect.stringMatching(/^auth\.jwtSecret/)]);
      expect(problemsOf({ JWT_SECRET: PUBLISHED_SECRET }, 'migrate')).toEqual([expect.stringMatching(/^auth\.jwtSecret: this secret is published/)]);
    });
  });

  it('rejects a JWT secret under 16 characters in any mode', () => {
    expect(problemsOf({ JWT_SECRET: 'short' })).toEqual([expect.stringMatching(/^auth\.jwtSecret: must be at least 16/)]);
  });

  it('requires a key and an audience for an external issuer', () => {
    const problems = problemsOf({ EXTERNAL_JWT_ISSUER: 'https://auth.example' });
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^auth\.external: .*publicKeyPem or jwksUrl/), expect.stringMatching(/^auth\.external\.audience: required/)]));
    const ok = load({ EXTERNAL_JWT_ISSUER: 'https://auth.example', EXTERNAL_JWT_AUDIENCE: 'easel', EXTERNAL_JWT_JWKS_URL: 'https://auth.example/.well-known/jwks.json' });
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
