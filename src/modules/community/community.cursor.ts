import { z } from 'zod';
import { cursorCodec } from '../../platform/cursor.js';
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

const codec = cursorCodec(CursorPayload);

/** Opaque to clients: base64url JSON, versioned so the format can change without breaking old links. */
export function encodeCursor(cursor: FeedCursor): string {
  return codec.encode({ v: 1, t: cursor.createdAt.toISOString(), id: cursor.id });
}

/** Any cursor the server did not produce (garbage, tampered, wrong shape) is a 400 `invalid_cursor`. */
export function decodeCursor(raw: string): FeedCursor {
  const { t, id } = codec.decode(raw);
  const createdAt = new Date(t);
  if (Number.isNaN(createdAt.getTime())) throw new BadRequestError('cursor is not one this server issued', 'invalid_cursor');
  return { createdAt, id };
}
