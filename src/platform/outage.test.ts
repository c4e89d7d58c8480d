import { describe, expect, it } from 'vitest';
import { AppError, toProblem } from './errors.js';
import { DEPENDENCY, outageError } from './outage.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('outageError', () => {
  it('maps database outages to a 503 db_unavailable with Retry-After', () => {
    for (const err of [
      withCode('terminating connection due to administrator command', '57P01'),
      withCode('the database system is starting up', '57P03'),
      withCode('connection failure', '08006'),
      withCode('sorry, too many clients already', '53300'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      Object.defineProperty(withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'), DEPENDENCY, { value: 'database' }),
      // MikroORM wraps driver errors and copies their own properties (the tag included).
      Object.assign(new Error('wrapped'), { name: 'DriverException', [DEPENDENCY]: 'database', code: 'ECONNREFUSED' }),
    ]) {
      const mapped = outageError(err);
      expect(mapped, err.message).toBeInstanceOf(AppError);
      expect(mapped).toMatchObject({ status: 503, code: 'db_unavailable', headers: { 'retry-after': '2' } });
      expect(toProblem(mapped).detail).toBe('The database is unavailable; retry shortly');
    }
  });

  it('maps Redis give-ups and bare socket errors, also behind a cause', () => {
    expect(outageError(Object.assign(new Error('Reached the max retries per request limit'), { name: 'MaxRetriesPerRequestError' }))?.code).toBe('redis_unavailable');
    expect(outageError(new TypeError('fetch failed', { cause: withCode('connect ECONNREFUSED', 'ECONNREFUSED') }))?.code).toBe('dependency_unavailable');
  });

  it('leaves everything else alone: app errors, bugs, constraint violations', () => {
    expect(outageError(new AppError(409, 'conflict', 'x'))).toBeNull();
    expect(outageError(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBeNull();
    expect(outageError(withCode('duplicate key value violates unique constraint', '23505'))).toBeNull();
    expect(outageError(withCode('syntax error', '42601'))).toBeNull();
    expect(outageError(null)).toBeNull();
    expect(outageError('a string')).toBeNull();
  });
});
