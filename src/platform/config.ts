import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { persistedJwtSecret } from './jwt-secret.js';

/**
 * Configuration: `config/default.json`, then `config/<NODE_ENV>.json`, then environment variables,
 * then programmatic overrides (tests). Parsed once by one zod schema; every bad setting is reported.
 * This is the only module that reads `process.env`.
 */

/** Secrets that were ever published (the repository's old default): refused in every mode. */
const PUBLISHED_JWT_SECRETS = new Set(['dev-only-insecure-jwt-secret-change-me']);
const PRODUCTION_SECRET = 'production needs JWT_SECRET set to a random value of 32+ characters (openssl rand -hex 32)';
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
      /** Proxies (IP addresses or CIDRs) whose X-Forwarded-For is believed; empty: the TCP peer is the client. */
      trustedProxies: z.array(z.string().refine(isIpOrCidr, 'must be an IP address or CIDR (10.0.0.0/8, fd00::/8)')),
      shutdownGraceMs: z.int().min(0),
      corsOrigins: z.array(z.string()),
    }),
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) }),
    dataDir: z.string().min(1),
    db: z.strictObject({
      url: z.url({ protocol: /^postgres(ql)?$/ }).nullable(),
      embeddedPort: z.int().min(1).max(65535),
      poolMax: z.int().positive(),
      /** Longest wait for a pooled connection: past it a request fails with 503 instead of waiting on a down database. */
      connectTimeoutMs: z.int().min(100).max(120_000),
      debug: z.boolean(),
    }),
    redis: z.strictObject({ url: z.url({ protocol: /^rediss?$/ }).nullable(), keyPrefix: z.string() }),
    http: z.strictObject({ jsonLimitBytes: z.int().positive() }),
    auth: z.strictObject({
      /** null: not configured; a hub then uses `<dataDir>/jwt-secret` outside production (jwt-secret.ts). */
      jwtSecret: z.string().min(16, 'must be at least 16 characters').nullable(),
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
    rateLimits: z.strictObject({ register: limit, token: limit, socketEvents: limit, socketHandshake: limit }),
    /**
     * Password guessing and the auth hot path. `loginPerAccount` counts every sign-in attempt per
     * lower(username); `passwordCheckPerAccount`/`PerIp` count current-password checks (PATCH/DELETE
     * /auth/me). `scrypt.concurrency` 0 means 2 x CPU cores; `queue` is how many may wait before 503.
     * `userCache.ttlMs` bounds how long a missed cross-node invalidation can leave a stale role or account.
     */
    identity: z.strictObject({
      loginPerAccount: limit,
      passwordCheckPerAccount: limit,
      passwordCheckPerIp: limit,
      scrypt: z.strictObject({ concurrency: z.int().min(0), queue: z.int().min(0) }),
      userCache: z.strictObject({ ttlMs: z.int().min(0), maxEntries: z.int().positive() }),
    }),
    /**
     * `maxPerIdentity`: namespace sockets one user, guest or worker may hold open on one node.
     * `maxBufferedBytes`: what the hub holds for one connection its client is not reading (uWS backpressure,
     * engine.io's write buffer); past it the connection is closed and the client reconnects and resumes with
     * `since` (README "Failure behaviour").
     */
    sockets: z.strictObject({ maxPerIdentity: z.int().positive(), maxBufferedBytes: z.int().min(16_384) }),
    uploads: z.strictObject({
      maxFileBytes: z.int().positive(),
      maxFiles: z.int().positive(),
      maxFields: z.int().positive(),
      maxFieldBytes: z.int().positive(),
      maxPixels: z.int().positive(),
      allowedFormats: z.array(z.enum(['jpeg', 'png', 'gif', 'webp'])).min(1),
      /** Memory all image decodes together may reserve (6 bytes per pixel each); see media/decode-budget.ts. */
      decodeBudgetBytes: z.int().positive(),
    }),
    /**
     * `dir` null: `<dataDir>/media` (the local driver's files, and every driver's upload temp files).
     * `storage`: `local` (files under `dir`: one machine, or a volume every node mounts) or `s3` (a bucket
     * every node reaches: AWS S3 or any S3-compatible service; `s3.endpoint` null means AWS; no access key:
     * the AWS SDK's credential chain).
     */
    media: z.strictObject({
      dir: z.string().min(1).nullable(),
      storage: z.enum(['local', 's3']),
      s3: z.strictObject({
        bucket: nullableString,
        prefix: z.string().max(256).refine((p) => p === '' || (p.endsWith('/') && !p.startsWith('/') && !p.includes('..')), "'' or a relative path ending in /"),
        region: z.string().min(1),
        endpoint: z.url({ protocol: /^https?$/ }).nullable(),
        forcePathStyle: z.boolean(),
        accessKeyId: nullableString,
        secretAccessKey: nullableString,
      }),
      /** In-memory LRU for small served blobs (thumbnails); 0 turns it off. */
      memoryCacheBytes: z.int().min(0),
      memoryCacheMaxBlobBytes: z.int().min(0),
    }),
    /**
     * The worker process (`npm run worker`, and the in-process one of `npm start`): jobs run at once
     * (`concurrency`), how long SIGTERM waits for them before handing them back (`shutdownGraceMs`), ONNX
     * execution providers tried in order, CPU intra-op threads (0: ORT's default, all cores), `weightsDir`
     * (null: the repository's `weights/`).
     */
    worker: z.strictObject({
      hubUrl: z.url(),
      token: nullableString,
      concurrency: z.int().min(1).max(64),
      shutdownGraceMs: z.int().min(0),
      providers: z.array(z.enum(['cuda', 'webgpu', 'cpu'])).min(1),
      cpuThreads: z.int().min(0),
      weightsDir: nullableString,
    }),
    /**
     * Durable jobs (modules/jobs): lease a worker holds without news, attempts per job, retry backoff
     * (base * 2^(attempt-1), capped), jobs in flight per user, least time between progress writes to a row,
     * reaper and safety-sweep intervals (new work wakes dispatch at once through LISTEN/NOTIFY; the sweep
     * only catches what a lost notification missed), events kept per job for `since` replay, and the event
     * rate a worker socket may send.
     */
    jobs: z.strictObject({
      leaseMs: z.int().min(100).max(3_600_000),
      maxAttempts: z.int().min(1).max(100),
      backoffBaseMs: z.int().min(0).max(3_600_000),
      backoffMaxMs: z.int().min(0).max(86_400_000),
      maxInFlightPerUser: z.int().min(1).max(100_000),
      progressWriteMs: z.int().min(0).max(60_000),
      reaperMs: z.int().min(50).max(600_000),
      sweepMs: z.int().min(100).max(600_000),
      historySize: z.int().min(1).max(10_000),
      workerEvents: z.strictObject({ limit: z.int().min(1), windowSeconds: z.int().min(1) }),
    }),
    /** `likesWindowMs`: live like counts are pushed at most once per image per window; 0 pushes every like. */
    community: z.strictObject({ likesWindowMs: z.int().min(0).max(60_000) }),
    /**
     * Live bracket events (tournaments/events.clock.ts): default vote window and grace per matchup, how often a
     * node claims/renews event leases and steps its events (`tickMs`), how long a lease outlives its node
     * (`leaseMs`, the longest takeover), least time between tallies, pause between matchups, stream entries
     * kept per event for `since` replay, and how long votes gather into one write.
     */
    events: z
      .strictObject({
        windowMs: z.int().min(200).max(3_600_000),
        graceMs: z.int().min(0).max(30_000),
        tickMs: z.int().min(10).max(60_000),
        leaseMs: z.int().min(100).max(600_000),
        tallyMs: z.int().min(20).max(60_000),
        breakMs: z.int().min(0).max(600_000),
        historySize: z.int().min(1).max(100_000),
        voteBatchMs: z.int().min(0).max(1000),
      })
      .refine((e) => e.leaseMs >= 2 * e.tickMs, { path: ['leaseMs'], message: 'must be at least twice tickMs, so a lease is renewed before it lapses' }),
    /**
     * Quick matchups and ratings. `candidateCacheMs`: how long a node reuses its list of eligible images
     * (0: read per matchup); `leaderboardWindowMs`: at most one leaderboard:update per window per node;
     * `fit.intervalMs`: how often some node runs the Bradley-Terry fit (0: only on demand).
     */
    tournaments: z.strictObject({
      matchupTtlSeconds: z.int().min(5).max(86_400),
      candidateCacheMs: z.int().min(0).max(600_000),
      leaderboardWindowMs: z.int().min(0).max(60_000),
      fit: z.strictObject({
        intervalMs: z.int().min(0),
        minVotes: z.int().min(0),
        replicates: z.int().min(2).max(2000),
        priorWeight: z.number().positive().max(1000),
      }),
    }),
    /**
     * The ad studio (modules/studio). `provider`: what a generation uses unless the request names one
     * (`local` writes copy from templates and composes with sharp, needs nothing; `openai` speaks the
     * OpenAI-compatible API at `openai.baseUrl`: OpenAI, vLLM, Ollama). `openai.imageModel` null: the
     * image is composed from the input photo or a gradient instead of the images API. `history`: stream
     * entries (`message:delta`, `message:done`) kept per session for `since`. `prices`: USD per 1K tokens
     * (`input`/`output`) or per image (`image`, by size or `default`), by model (seed 003's table).
     */
    studio: z.strictObject({
      provider: z.enum(['local', 'openai']),
      guestMaxInFlight: z.int().min(1).max(1000),
      historySize: z.int().min(1).max(100_000),
      historyTtlSeconds: z.int().min(1),
      local: z.strictObject({ tokenDelayMs: z.int().min(0).max(1000) }),
      openai: z.strictObject({
        baseUrl: z.url(),
        apiKey: nullableString,
        model: z.string().min(1),
        imageModel: nullableString,
        maxTokens: z.int().min(1).max(32_000),
        /** Until the response headers (and first byte); then at most `idleTimeoutMs` between two chunks. */
        timeoutMs: z.int().min(100).max(600_000),
        idleTimeoutMs: z.int().min(50).max(600_000),
      }),
      prices: z.record(
        z.string(),
        z.strictObject({ input: z.number().min(0).optional(), output: z.number().min(0).optional(), image: z.record(z.string(), z.number().min(0)).optional() }),
      ),
    }),
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
    if (c.auth.jwtSecret !== null && PUBLISHED_JWT_SECRETS.has(c.auth.jwtSecret)) {
      ctx.addIssue({ code: 'custom', path: ['auth', 'jwtSecret'], message: 'this secret is published in the repository; set JWT_SECRET to a random value (openssl rand -hex 32) or unset it' });
    }
    if (c.media.storage === 's3' && !c.media.s3.bucket) {
      ctx.addIssue({ code: 'custom', path: ['media', 's3', 'bucket'], message: 'required when media.storage is s3 (S3_BUCKET)' });
    }
    if ((c.media.s3.accessKeyId === null) !== (c.media.s3.secretAccessKey === null)) {
      ctx.addIssue({ code: 'custom', path: ['media', 's3'], message: 'set both accessKeyId and secretAccessKey (S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY) or neither' });
    }
    if (c.env !== 'production') return;
    if (c.auth.jwtSecret !== null && c.auth.jwtSecret.length < 32) {
      ctx.addIssue({ code: 'custom', path: ['auth', 'jwtSecret'], message: PRODUCTION_SECRET });
    }
  });

type ParsedConfig = z.infer<typeof ConfigSchema>;
/** A hub's configuration (the default role): its JWT secret is always resolved. */
export type Config = ParsedConfig & { auth: ParsedConfig['auth'] & { jwtSecret: string } };
/** Configuration of a process that neither signs nor verifies Easel's tokens: `jwtSecret` may be null. */
export type WorkerConfig = ParsedConfig;

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
  TRUSTED_PROXIES: { path: ['server', 'trustedProxies'], parse: (v) => v.split(',').map((s) => s.trim()).filter(Boolean) },
  DATABASE_URL: { path: ['db', 'url'] },
  REDIS_URL: { path: ['redis', 'url'] },
  DATA_DIR: { path: ['dataDir'] },
  LOG_LEVEL: { path: ['log', 'level'] },
  JWT_SECRET: { path: ['auth', 'jwtSecret'] },
  ADMIN_USERNAME: { path: ['auth', 'admin', 'username'] },
  ADMIN_PASSWORD: { path: ['auth', 'admin', 'password'] },
  MEDIA_STORAGE: { path: ['media', 'storage'] },
  S3_BUCKET: { path: ['media', 's3', 'bucket'] },
  S3_PREFIX: { path: ['media', 's3', 'prefix'] },
  S3_REGION: { path: ['media', 's3', 'region'] },
  S3_ENDPOINT: { path: ['media', 's3', 'endpoint'] },
  S3_FORCE_PATH_STYLE: { path: ['media', 's3', 'forcePathStyle'], parse: (v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v) },
  S3_ACCESS_KEY_ID: { path: ['media', 's3', 'accessKeyId'] },
  S3_SECRET_ACCESS_KEY: { path: ['media', 's3', 'secretAccessKey'] },
  HUB_URL: { path: ['worker', 'hubUrl'] },
  WORKER_TOKEN: { path: ['worker', 'token'] },
  EXTERNAL_JWT_ISSUER: { path: ['auth', 'external', 'issuer'] },
  EXTERNAL_JWT_AUDIENCE: { path: ['auth', 'external', 'audience'] },
  EXTERNAL_JWT_PUBLIC_KEY: { path: ['auth', 'external', 'publicKeyPem'] },
  EXTERNAL_JWT_JWKS_URL: { path: ['auth', 'external', 'jwksUrl'] },
  EXTERNAL_JWT_USER_CLAIM: { path: ['auth', 'external', 'userIdClaim'] },
  STUDIO_PROVIDER: { path: ['studio', 'provider'] },
  OPENAI_API_KEY: { path: ['studio', 'openai', 'apiKey'] },
  OPENAI_BASE_URL: { path: ['studio', 'openai', 'baseUrl'] },
  OPENAI_MODEL: { path: ['studio', 'openai', 'model'] },
  OPENAI_IMAGE_MODEL: { path: ['studio', 'openai', 'imageModel'] },
};

function isIpOrCidr(entry: string): boolean {
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address ?? '');
  if (!family || extra !== undefined) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

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

/**
 * `hub` (default): signs and verifies Easel's tokens, so it needs a JWT secret (also `token:worker` and
 * `admin:create`). `worker` and `migrate` never touch tokens: no secret is required or generated.
 */
export type ConfigRole = 'hub' | 'worker' | 'migrate';

export interface LoadConfigOptions {
  env?: Env;
  overrides?: Json;
  configDir?: string;
  role?: ConfigRole;
}

/**
 * NODE_ENV, case-insensitive: unset is development; `development` and `test` are the only modes that may
 * run without JWT_SECRET; every other value (`production`, `staging`, a typo) runs production-grade.
 */
export function modeOf(nodeEnv: string | undefined): 'development' | 'production' | 'test' {
  const value = (nodeEnv ?? '').trim().toLowerCase();
  if (value === '' || value === 'development') return 'development';
  return value === 'test' ? 'test' : 'production';
}

export function loadConfig(options?: LoadConfigOptions & { role?: 'hub' }): Config;
export function loadConfig(options: LoadConfigOptions & { role: 'worker' | 'migrate' }): WorkerConfig;
export function loadConfig(options: LoadConfigOptions = {}): Config | WorkerConfig {
  const env = options.env ?? process.env;
  const dir = options.configDir ?? CONFIG_DIR;
  const mode = modeOf(env.NODE_ENV);
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
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  const needsSecret = (options.role ?? 'hub') === 'hub';
  const secretSet = typeof (raw.auth as Json | undefined)?.jwtSecret === 'string';
  if (needsSecret && mode === 'production' && !secretSet) {
    const named = env.NODE_ENV?.trim() === 'production' ? '' : ` (NODE_ENV '${env.NODE_ENV}' runs as production: only development and test generate one)`;
    problems.push(`auth.jwtSecret: ${PRODUCTION_SECRET}${named}`);
  }
  if (!parsed.success || problems.length) throw new ConfigError(problems);
  const config = parsed.data;
  if (!needsSecret || config.auth.jwtSecret !== null) return config;
  try {
    return { ...config, auth: { ...config.auth, jwtSecret: persistedJwtSecret(config.dataDir) } };
  } catch (err) {
    throw new ConfigError([`auth.jwtSecret: JWT_SECRET is unset and the generated one under DATA_DIR cannot be used: ${(err as Error).message}`]);
  }
}

/** Arguments and environment of the process, for the CLI entry points only. */
export function processArgs(): string[] {
  return process.argv.slice(2);
}
