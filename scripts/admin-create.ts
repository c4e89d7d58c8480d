/**
 * `npm run admin:create -- --username root --password 's3cret-pass'`: creates the admin, or promotes an
 * existing user to admin. The password may come from ADMIN_PASSWORD instead, keeping it out of the
 * shell history and process list. Applies pending migrations first, like the hub does.
 */
import { Password, Username } from '../src/modules/identity/identity.schemas.js';
import { loadConfig } from '../src/platform/config.js';
import { createLogger } from '../src/platform/logger.js';
import { UsageError, parseFlags, runCli } from './cli.js';

const USAGE = "usage: npm run admin:create -- --username <name> [--password <password>]\n  the password may be given as ADMIN_PASSWORD instead (8+ characters)";

function parse(argv: string[]): { username: string; password: string } {
  const values = parseFlags(argv, { username: { type: 'string' }, password: { type: 'string' } }, USAGE);
  const problems: string[] = [];
  const username = Username.safeParse(values.username ?? '');
  if (!values.username) problems.push('--username is required');
  else if (!username.success) problems.push(`--username: ${username.error.issues.map((i) => i.message).join('; ')}`);
  const raw = values.password ?? process.env.ADMIN_PASSWORD;
  const password = Password.safeParse(raw ?? '');
  if (!raw) problems.push('--password or ADMIN_PASSWORD is required');
  else if (!password.success) problems.push(`password: ${password.error.issues.map((i) => i.message).join('; ')}`);
  if (problems.length) throw new UsageError(problems.join('\n'));
  return { username: values.username!, password: raw! };
}

runCli('admin:create', USAGE, async () => {
  const args = parse(process.argv.slice(2));
  const config = loadConfig();
  // Loaded after the arguments are checked, so a usage error answers without loading the ORM.
  const { openDatabase } = await import('../src/bootstrap.js');
  const { createIdentity } = await import('../src/modules/identity/identity.factory.js');
  const { createMemoryRateLimiter } = await import('../src/platform/rate-limit.js');
  const { Redis } = await import('ioredis');
  const logger = createLogger(config.log.level === 'silent' ? 'silent' : 'warn', 'admin-create');
  const { orm, embedded } = await openDatabase(config, logger);
  // With Redis, a promotion is published so running hubs drop their cached role at once (not after the TTL).
  const redis = config.redis.url ? new Redis(config.redis.url, { maxRetriesPerRequest: 1 }) : null;
  try {
    const { identity } = await createIdentity({ config, orm, logger, rateLimiter: createMemoryRateLimiter(), redis, subscribe: false });
    const outcome = await identity.bootstrapAdmin(orm.em.fork(), args.username, args.password);
    const note = outcome === 'created' ? 'created' : outcome === 'promoted' ? 'promoted to admin (password unchanged)' : 'already an admin (password unchanged)';
    console.log(`admin '${args.username}': ${note}`);
  } finally {
    redis?.disconnect();
    await orm.close();
    await embedded?.stop();
  }
  return 0;
});
