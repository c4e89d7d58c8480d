import type { z } from 'zod';
import { BadRequestError } from './errors.js';

const BASE64URL = /^[A-Za-z0-9_-]{1,512}$/;

export interface CursorCodec<T> {
  encode(value: T): string;
  /** Any cursor this server did not produce (garbage, tampered, wrong shape) is a 400 `invalid_cursor`. */
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
      const result = schema.safeParse(parsed);
      if (!result.success) throw invalid();
      return result.data;
    },
  };
}
