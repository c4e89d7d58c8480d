/**
 * `npm run token:worker -- --id gpu-1 [--ttl 86400]`: prints a worker token signed with JWT_SECRET.
 * Needs only the configuration (no database): a worker token names a worker, not a user.
 * stdout carries the token alone, so `WORKER_TOKEN=$(npm run -s token:worker -- --id gpu-1)` works.
 */
import { parseArgs } from 'node:util';
import { createTokenService } from '../src/modules/identity/tokens.js';
import { ConfigError, loadConfig } from '../src/platform/config.js';

const USAGE = 'usage: npm run token:worker -- --id <worker-id> [--ttl <seconds>]\n  --id   letters, digits, _ . : - (1-64 characters)\n  --ttl  lifetime in seconds (default: auth.workerTtlSeconds)';
const WORKER_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

class UsageError extends Error {}

function parse(argv: string[]): { id: string; ttl: number | undefined } {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { id: { type: 'string' }, ttl: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values.id) throw new UsageError('--id is required');
  if (!WORKER_ID.test(values.id)) throw new UsageError(`--id '${values.id}' is not a valid worker id`);
  let ttl: number | undefined;
  if (values.ttl !== undefined) {
    ttl = Number(values.ttl);
    if (!/^\d+$/.test(values.ttl) || !Number.isSafeInteger(ttl) || ttl <= 0) throw new UsageError(`--ttl must be a positive whole number of seconds, got '${values.ttl}'`);
  }
  return { id: values.id, ttl };
}

async function main(): Promise<number> {
  let args;
  try {
    args = parse(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n${USAGE}`);
    return 2;
  }
  const config = loadConfig();
  const a = config.auth;
  const tokens = createTokenService({
    secret: a.jwtSecret,
    issuer: a.issuer,
    audience: a.audience,
    accessTtlSeconds: a.accessTtlSeconds,
    guestTtlSeconds: a.guestTtlSeconds,
    workerTtlSeconds: a.workerTtlSeconds,
    clockToleranceSeconds: a.clockToleranceSeconds,
  });
  const { token, expiresIn } = await tokens.issueWorker(args.id, args.ttl);
  console.log(token);
  console.error(`worker token for '${args.id}', expires in ${expiresIn}s; the hub must run with the same JWT_SECRET`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : `token:worker failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
