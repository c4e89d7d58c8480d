/**
 * `npm run migrate`: applies every pending checked-in migration and exits. Uses DATABASE_URL, or the
 * embedded PostgreSQL under DATA_DIR when it is unset (started and stopped around the run).
 */
import { loadConfig } from '../src/platform/config.js';
import { createLogger } from '../src/platform/logger.js';
import { UsageError, runCli } from './cli.js';

const USAGE = 'usage: npm run migrate  (no arguments; set DATABASE_URL, or leave it unset for the embedded database)';

runCli('migrate', USAGE, async () => {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  if (args.length) throw new UsageError(`unexpected arguments: ${args.join(' ')}`);
  // role migrate: migrations sign and verify no tokens, so production needs no JWT_SECRET here.
  const config = loadConfig({ role: 'migrate' });
  // Loaded after the arguments and configuration are checked, so those errors answer fast.
  const { openDatabase } = await import('../src/bootstrap.js');
  // Progress goes to stderr as JSON logs; stdout carries only the result, for scripts.
  const logger = createLogger(config.log.level === 'silent' ? 'silent' : 'warn', 'migrate');
  const { orm, embedded, applied } = await openDatabase(config, logger);
  if (embedded?.attached) console.error(`using the embedded PostgreSQL of the hub running on ${config.dataDir}`);
  try {
    if (applied.length) for (const name of applied) console.log(`applied ${name}`);
    else console.log('database is up to date (no pending migrations)');
  } finally {
    await orm.close();
    await embedded?.stop();
  }
  return 0;
});
