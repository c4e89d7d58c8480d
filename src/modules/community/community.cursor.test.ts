import { describe, expect, it } from 'vitest';
import { AppError } from '../../platform/errors.js';
import { decodeCursor, encodeCursor } from './community.cursor.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof AppError ? `${err.status} ${err.code}` : 'not an AppError';
  }
  return undefined;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('feed cursor', () => {
  it('round-trips (created_at, id) exactly, to the millisecond', () => {
    const cursor = { createdAt: new Date('2025-03-01T12:34:56.789Z'), id: 42 };
    const encoded = encodeCursor(cursor);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(encoded)).toEqual(cursor);
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'abc$%^'],
    ['base64 of non-JSON', Buffer.from('hello').toString('base64url')],
    ['JSON of the wrong shape', b64({ foo: 1 })],
    ['unknown version', b64({ v: 2, t: '2025-03-01T12:34:56.789Z', id: 1 })],
    ['negative id', b64({ v: 1, t: '2025-03-01T12:34:56.789Z', id: -1 })],
    ['fractional id', b64({ v: 1, t: '2025-03-01T12:34:56.789Z', id: 1.5 })],
    ['id beyond int4', b64({ v: 1, t: '2025-03-01T12:34:56.789Z', id: 2 ** 31 })],
    ['not a timestamp', b64({ v: 1, t: 'yesterday', id: 1 })],
    ['extra fields', b64({ v: 1, t: '2025-03-01T12:34:56.789Z', id: 1, admin: true })],
    ['a JSON array', b64([1, 2])],
    ['too long', 'A'.repeat(300)],
  ])('rejects %s as 400 invalid_cursor', (_name, raw) => {
    expect(codeOf(() => decodeCursor(raw))).toBe('400 invalid_cursor');
  });
});
