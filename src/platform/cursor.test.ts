import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { cursorCodec, isSaneCursorValue } from './cursor.js';
import { AppError } from './errors.js';

const codec = cursorCodec(z.strictObject({ t: z.string(), id: z.number() }));
const dateCodec = cursorCodec(z.strictObject({ t: z.coerce.date() }));
const b64 = (text: string) => Buffer.from(text).toString('base64url');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof AppError ? `${err.status} ${err.code}` : 'not an AppError';
  }
  return undefined;
}

describe('cursor codec bounds', () => {
  it('round-trips an ordinary position', () => {
    const value = { t: '2025-03-01T12:34:56.789Z', id: 42 };
    expect(codec.decode(codec.encode(value))).toEqual(value);
  });

  it.each([
    ['year 0000', b64('{"t":"0000-01-01T00:00:00.000Z","id":1}')],
    ['a negative year', b64('{"t":"-000001-01-01T00:00:00.000Z","id":1}')],
    ['before 1970', b64('{"t":"1969-12-31T23:59:59.999Z","id":1}')],
    ['a six-digit year', b64('{"t":"+275760-09-13T00:00:00.000Z","id":1}')],
    ['an impossible date', b64('{"t":"2025-13-45T00:00:00.000Z","id":1}')],
    ['an infinite number', b64('{"t":"2025-03-01T00:00:00.000Z","id":1e400}')],
    ['an unsafe integer', b64('{"t":"2025-03-01T00:00:00.000Z","id":1e300}')],
  ])('refuses %s with 400 invalid_cursor', (_name, raw) => {
    expect(codeOf(() => codec.decode(raw))).toBe('400 invalid_cursor');
  });

  it('checks dates the schema produces, too', () => {
    expect(codeOf(() => dateCodec.decode(b64('{"t":-62167219200000}')))).toBe('400 invalid_cursor');
    expect(dateCodec.decode(b64('{"t":"2025-03-01T00:00:00.000Z"}')).t).toEqual(new Date('2025-03-01T00:00:00.000Z'));
  });

  it('treats non-date strings as opaque', () => {
    expect(isSaneCursorValue({ name: 'zebra', n: 3 })).toBe(true);
  });
});
