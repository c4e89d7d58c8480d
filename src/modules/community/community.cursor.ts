import { z } from 'zod';
import { BadRequestError } from '../../platform/errors.js';

/** Keyset position in a newest-first feed: the last item's (created_at, id). */
export interface FeedCursor {
  createdAt: Date;
  id: number;
}

const CursorPayload = z.strictObject({
  v: z.literal(1),
  t: z.iso.datetime({ offset: false }),
  id: z.int().positive().max(2_147_483_647),
});

const BASE64URL = /^[A-Za-z0-9_-]{1,256}$/;

/** Opaque to clients: base64url JSON, versioned so the format can change without breaking old links. */
export function encodeCursor(cursor: FeedCursor): string {
  return Buffer.from(JSON.stringify({ v: 1, t: cursor.createdAt.toISOString(), id: cursor.id })).toString('base64url');
}

/** Any cursor the server did not produce (garbage, tampered, wrong shape) is a 400 `invalid_cursor`. */
export function decodeCursor(raw: string): FeedCursor {
  const invalid = () => new BadRequestError('cursor is not one this server issued', 'invalid_cursor');
  if (!BASE64URL.test(raw)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch (err) {
    throw new BadRequestError('cursor is not one this server issued', 'invalid_cursor', { cause: err });
  }
  const result = CursorPayload.safeParse(parsed);
  if (!result.success) throw invalid();
  const createdAt = new Date(result.data.t);
  if (Number.isNaN(createdAt.getTime())) throw invalid();
  return { createdAt, id: result.data.id };
}
