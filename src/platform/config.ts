import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/**
 * Configuration: `config/default.json`, then `config/<NODE_ENV>.json`, then environment variables,
 * then programmatic overrides (tests). Parsed once by one zod schema; every bad setting is reported.
 * This is the only module that reads `process.env`.
 */

const DEV_JWT_SECRET = 'dev-only-insecure-jwt-secret-change-me';
const CONFIG_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../config');

const limit = z.strictObject({ limit: z.int().positive(), windowSeconds: z.int().positive() });
const nullableString = z.string().min(1).nullable();

export const ConfigSchema = z
  .strictObject({
    env: z.enum(['development', 'production', 'test']),
    server: z.strictObject({
      host: z.string().min(1),
      port: z.int().min(0).max(65535),
      engine: z.enum(['auto', 'uws', 'node']),
      trustProxy: z.boolean(),
      shutdownGraceMs: z.int().min(0),
      corsOrigins: z.array(z.string()),
    }),
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) }),
    dataDir: z.string().min(1),
    db: z.strictObject({
      url: z.url({ protocol: /^postgres(ql)?$/ }).nullable(),
      embeddedPort: z.int().min(1).max(65535),
      poolMax: z.int().positive(),
      debug: z.boolean(),
    }),
    redis: z.strictObject({ url: z.url({ protocol: /^rediss?$/ }).nullable(), keyPrefix: z.string() }),
    http: z.strictObject({ jsonLimitBytes: z.int().positive() }),
    auth: z.strictObject({
      jwtSecret: z.string().min(16, 'must be at least 16 characters'),
      issuer: z.string().min(1),
      audience: z.string().min(1),
      accessTtlSeconds: z.int().positive(),
      refreshTtlSeconds: z.int().positive(),
      guestTtlSeconds: z.int().positive(),
      workerTtlSeconds: z.int().positive(),
      clockToleranceSeconds: z.int().min(0),
      external: z.strictObject({
        issuer: nullableString,
        audience: nullableString,
        publicKeyPem: nullableString,
        jwksUrl: z.url().nullable(),
        userIdClaim: z.string().min(1),
        algorithms: z.array(z.enum(['RS256', 'ES256'])).min(1),
      }),
      admin: z.strictObject({ username: nullableString, password: nullableString }),
    }),
    rateLimits: z.strictObject({ register: limit, token: limit, socketEvents: limit }),
    uploads: z.strictObject({
      maxFileBytes: z.int().positive(),
      maxFiles: z.int().positive(),
      maxFields: z.int().positive(),
      maxFieldBytes: z.int().positive(),
      maxPixels: z.int().positive(),
      allowedFormats: z.array(z.enum(['jpeg', 'png', 'gif', 'webp'])).min(1),
    }),
    /** `dir` null: `<dataDir>/media`. */
    media: z.strictObject({ dir: z.string().min(1).nullable() }),
    worker: z.strictObject({ hubUrl: z.url(), token: nullableString }),
  })
  .superRefine((c, ctx) => {
    const ext = c.auth.external;
    if (ext.issuer && !ext.publicKeyPem && !ext.jwksUrl) {
      ctx.addIssue({ code: 'custom', path: ['auth', 'external'], message: 'an external issuer needs publicKeyPem or jwksUrl' });
    }
    if (ext.issuer && !ext.audience) {
      ctx.addIssue({ code: 'custom', path: ['auth', 'external', 'audience'], message: 'required when an external issuer is set' });
    }
    if (c.auth.admin.password && c.auth.admin.password.length < 8) {
      ctx.addIssue({ code: 'custom', path: ['auth', 'admin', 'password'], message: 'must be at least 8 characters' });
    }
    if (c.env !== 'production') return;
    if (c.auth.jwtSecret === DEV_JWT_SECRET || c.auth.jwtSecret.length < 32) {
      ctx.addIssue({ code: 'custom', path: ['auth', 'jwtSecret'], message: 'production needs JWT_SECRET set to a random value of 32+ characters' });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;
type Json = Record<string, unknown>;

/** Operator variables (DESIGN.md) and where they land in the config tree. */
const ENV_MAP: Record<string, { path: string[]; parse?: (v: string) => unknown }> = {
  PORT: { path: ['server', 'port'], parse: Number },
  HOST: { path: ['server', 'host'] },
  HTTP_ENGINE: { path: ['server', 'engine'] },
  DATABASE_URL: { path: ['db', 'url'] },
  REDIS_URL: { path: ['redis', 'url'] },
  DATA_DIR: { path: ['dataDir'] },
  LOG_LEVEL: { path: ['log', 'level'] },
  JWT_SECRET: { path: ['auth', 'jwtSecret'] },
  ADMIN_USERNAME: { path: ['auth', 'admin', 'username'] },
  ADMIN_PASSWORD: { path: ['auth', 'admin', 'password'] },
  HUB_URL: { path: ['worker', 'hubUrl'] },
  WORKER_TOKEN: { path: ['worker', 'token'] },
  EXTERNAL_JWT_ISSUER: { path: ['auth', 'external', 'issuer'] },
  EXTERNAL_JWT_AUDIENCE: { path: ['auth', 'external', 'audience'] },
  EXTERNAL_JWT_PUBLIC_KEY: { path: ['auth', 'external', 'publicKeyPem'] },
  EXTERNAL_JWT_JWKS_URL: { path: ['auth', 'external', 'jwksUrl'] },
  EXTERNAL_JWT_USER_CLAIM: { path: ['auth', 'external', 'userIdClaim'] },
};

/** `EASEL__RATE_LIMITS__TOKEN__LIMIT=20` sets rateLimits.token.limit (JSON values are parsed). */
const GENERIC_PREFIX = 'EASEL__';

function camel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

function parseLoose(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value; // not JSON: a plain string setting
  }
}

function setPath(target: Json, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Json;
  }
  node[path[path.length - 1]!] = value;
}

function deepMerge(base: Json, extra: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const prev = out[key];
    const bothObjects = isPlainObject(prev) && isPlainObject(value);
    out[key] = bothObjects ? deepMerge(prev as Json, value as Json) : value;
  }
  return out;
}

function isPlainObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readJson(file: string): Json {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (err) {
    throw new ConfigError([`${file}: ${(err as Error).message}`]);
  }
}

export interface LoadConfigOptions {
  env?: Env;
  overrides?: Json;
  configDir?: string;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const dir = options.configDir ?? CONFIG_DIR;
  const mode = env.NODE_ENV === 'production' || env.NODE_ENV === 'test' ? env.NODE_ENV : 'development';
  let raw = deepMerge(readJson(join(dir, 'default.json')), readJson(join(dir, `${mode}.json`)));
  raw.env = mode;

  const fromEnv: Json = {};
  for (const [name, { path, parse }] of Object.entries(ENV_MAP)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(fromEnv, path, parse ? parse(value) : value);
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(GENERIC_PREFIX) || value === undefined) continue;
    const path = name.slice(GENERIC_PREFIX.length).split('__').map(camel);
    setPath(fromEnv, path, parseLoose(value));
  }
  raw = deepMerge(deepMerge(raw, fromEnv), options.overrides ?? {});

  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return parsed.data;
}

/** Arguments and environment of the process, for the CLI entry points only. */
export function processArgs(): string[] {
  return process.argv.slice(2);
}
