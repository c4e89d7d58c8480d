/**
 * `npm run token:worker -- --id gpu-1 [--ttl 86400]`: prints a worker token signed with JWT_SECRET.
 * Needs only the configuration (no database): a worker token names a worker, not a user.
 * stdout carries the token alone, so `WORKER_TOKEN=$(npm run -s token:worker -- --id gpu-1)` works.
 */
import { tokenServiceFromConfig } from '../src/modules/identity/identity.factory.js';
import { loadConfig } from '../src/platform/config.js';
import { UsageError, parseFlags, runCli } from './cli.js';

const USAGE = 'usage: npm run token:worker -- --id <worker-id> [--ttl <seconds>]\n  --id   letters, digits, _ . : - (1-64 characters)\n  --ttl  lifetime in seconds (default: auth.workerTtlSeconds)';
const WORKER_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

function parse(argv: string[]): { id: string; ttl: number | undefined } {
  const values = parseFlags(argv, { id: { type: 'string' }, ttl: { type: 'string' } }, USAGE);
  if (!values.id) throw new UsageError('--id is required');
  if (!WORKER_ID.test(values.id)) throw new UsageError(`--id '${values.id}' is not a valid worker id`);
  let ttl: number | undefined;
  if (values.ttl !== undefined) {
    ttl = Number(values.ttl);
    if (!/^\d+$/.test(values.ttl) || !Number.isSafeInteger(ttl) || ttl <= 0) throw new UsageError(`--ttl must be a positive whole number of seconds, got '${values.ttl}'`);
  }
  return { id: values.id, ttl };
}

runCli('token:worker', USAGE, async () => {
  const args = parse(process.argv.slice(2));
  const config = loadConfig();
  const tokens = tokenServiceFromConfig(config);
  const { token, expiresIn } = await tokens.issueWorker(args.id, args.ttl);
  console.log(token);
  console.error(`worker token for '${args.id}', expires in ${expiresIn}s; valid on hubs with the same JWT secret (JWT_SECRET, or without it the one generated in ${config.dataDir}/jwt-secret)`);
  return 0;
});
