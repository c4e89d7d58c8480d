import { AppError } from './errors.js';

/**
 * Errors that mean a dependency is down rather than that the request was bad or the code is wrong:
 * connection refused/reset/timed out, PostgreSQL's connection-exception (08xxx) and operator-intervention
 * (57Pxx: shutdown, restart, "cannot connect now") classes, too many connections, pg-pool's connect timeout,
 * and a Redis client that gave up. Such a request is answered 503 with Retry-After, not 500: the client
 * should retry (another node, or this one in a moment); nothing about it was wrong.
 */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const PG_CODES = /^(08...|57P0[1-4]|53300)$/;
const PG_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is closed|connection error/i;

type Dependency = 'database' | 'redis' | 'network';
const CODES: Record<Dependency, string> = { database: 'db_unavailable', redis: 'redis_unavailable', network: 'dependency_unavailable' };

export class DependencyUnavailableError extends AppError {
  constructor(
    readonly dependency: Dependency,
    cause: unknown,
  ) {
    const what = dependency === 'network' ? 'A service this request needs' : dependency === 'redis' ? 'Redis' : 'The database';
    super(503, CODES[dependency], `${what} is unavailable; retry shortly`, { cause, headers: { 'retry-after': '2' } });
  }
}

/**
 * The property a client library's error is tagged with, naming the dependency it came from (db/orm.ts tags
 * pool connects, db/prepared.ts its statements' connection failures). A string key, not a symbol: MikroORM copies own property names onto its DriverException.
 */
export const DEPENDENCY = 'easelDependency';

/** Marks a client library's error as a database outage, so `outageError` answers `db_unavailable`. */
export function tagDatabaseOutage(err: unknown): void {
  if (err && typeof err === 'object') Object.defineProperty(err, DEPENDENCY, { value: 'database', enumerable: false, configurable: true });
}

/** The 503 for an error that is a dependency outage (looking through `cause` chains), else null. */
export function outageError(err: unknown): AppError | null {
  if (err instanceof AppError) return null;
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, name, message } = e as { code?: unknown; name?: unknown; message?: unknown };
    const text = typeof message === 'string' ? message : '';
    if ((e as { [DEPENDENCY]?: unknown })[DEPENDENCY] === 'database') return new DependencyUnavailableError('database', err);
    if (name === 'MaxRetriesPerRequestError' || (typeof code === 'string' && code.startsWith('NR_')) || text === 'Connection is closed.') {
      return new DependencyUnavailableError('redis', err);
    }
    if (typeof code === 'string' && PG_CODES.test(code)) return new DependencyUnavailableError('database', err);
    if (name === 'ConnectionException' || PG_MESSAGES.test(text)) return new DependencyUnavailableError('database', err);
    // A bare socket error: the database's pool is the usual source (connect ECONNREFUSED), but not the only one.
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return new DependencyUnavailableError('network', err);
  }
  return null;
}
