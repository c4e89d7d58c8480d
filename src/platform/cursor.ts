import type { z } from 'zod';
import { BadRequestError } from './errors.js';

const BASE64URL = /^[A-Za-z0-9_-]{1,512}$/;

// Keyset positions are row timestamps and ids: anything outside these bounds was forged, and would
// otherwise reach PostgreSQL as "date out of range" (year 0000) or an integer overflow, i.e. a 500.
const MIN_TIME = Date.UTC(1970, 0, 1);
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const ISO_DATE = /^[+-]?\d{4,6}-\d{2}-\d{2}(?:[T ]|$)/;

function saneTime(time: number): boolean {
  return Number.isFinite(time) && time >= MIN_TIME && time <= MAX_TIME;
}

/** True when every number is a finite, safe value and every date (or ISO date string) lies in 1970..9999. */
export function isSaneCursorValue(value: unknown, depth = 0): boolean {
  if (depth > 8) return false;
  if (typeof value === 'number') return Number.isFinite(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER;
  if (typeof value === 'string') return !ISO_DATE.test(value) || saneTime(Date.parse(value));
  if (value instanceof Date) return saneTime(value.getTime());
  if (Array.isArray(value)) return value.every((v) => isSaneCursorValue(v, depth + 1));
  if (typeof value === 'object' && value !== null) return Object.values(value).every((v) => isSaneCursorValue(v, depth + 1));
  return true;
}

export interface CursorCodec<T> {
  encode(value: T): string;
  /**
   * Any cursor this server did not produce (garbage, tampered, wrong shape, a date outside 1970..9999,
   * a non-finite or unsafe number) is a 400 `invalid_cursor`.
   */
  decode(raw: string): T;
}

/**
 * Opaque pagination cursors: base64url JSON of a keyset position, validated by `schema` on the way back
 * in, so a forged or garbled cursor is a clean 400 and never reaches a query.
 */
export function cursorCodec<S extends z.ZodType>(schema: S): CursorCodec<z.output<S>> {
  const invalid = (cause?: unknown) => new BadRequestError('cursor is not one this server issued', 'invalid_cursor', { cause });
  return {
    encode: (value) => Buffer.from(JSON.stringify(value)).toString('base64url'),
    decode(raw) {
      if (!BASE64URL.test(raw)) throw invalid();
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
      } catch (err) {
        throw invalid(err);
      }
      // Checked before and after the schema: before for the raw JSON, after for values it transforms (dates).
      if (!isSaneCursorValue(parsed)) throw invalid();
      const result = schema.safeParse(parsed);
      if (!result.success || !isSaneCursorValue(result.data)) throw invalid();
      return result.data;
    },
  };
}
