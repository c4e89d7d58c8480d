import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { findNulPaths, NUL_MESSAGE, parseWith } from './validation.js';

function errorsOf(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.errors;
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('parseWith', () => {
  const Body = z.strictObject({ name: z.string(), tags: z.array(z.string()).optional(), nested: z.object({ note: z.string() }).optional() });

  it('passes clean input through', () => {
    expect(parseWith(Body, { name: 'ok' }, 'body')).toEqual({ name: 'ok' });
  });

  it('refuses NUL in every string with its path, even where the schema would accept the string', () => {
    const errors = errorsOf(() => parseWith(Body, { name: 'a\u0000b', tags: ['x', '\u0000'], nested: { note: 'n\u0000' } }, 'body'));
    expect(errors).toEqual([
      { path: 'body.name', message: NUL_MESSAGE },
      { path: 'body.tags.1', message: NUL_MESSAGE },
      { path: 'body.nested.note', message: NUL_MESSAGE },
    ]);
  });

  it('reports NUL in a key and keeps the schema errors for other fields', () => {
    const errors = errorsOf(() => parseWith(Body, { name: 1, 'bad\u0000key': 'v' }, 'payload'));
    expect(errors).toContainEqual({ path: 'payload.bad\\u0000key', message: NUL_MESSAGE });
    expect(errors).toContainEqual({ path: 'payload.name', message: expect.any(String) });
  });

  it('does not walk binaries and survives hostile nesting', () => {
    expect(findNulPaths({ file: Buffer.from([0, 0, 0]) }, 'payload')).toEqual([]);
    let deep: unknown = 'x\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findNulPaths(deep, 'body')).toHaveLength(1);
  });
});
