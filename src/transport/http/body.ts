import type { Readable } from 'node:stream';
import { AppError, BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../platform/errors.js';
import { requestAborted } from './abort.js';
import type { BodyKind, IncomingRequest } from './types.js';

/** Reads a whole body into memory, refusing more than `limit` bytes (declared or actual). */
export async function readLimited(body: Readable, limit: number, declaredLength?: string): Promise<Buffer> {
  if (declaredLength !== undefined && Number(declaredLength) > limit) {
    body.resume(); // drain so the connection stays usable for the error response
    throw new PayloadTooLargeError(`Body exceeds ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        body.resume();
        throw new PayloadTooLargeError(`Body exceeds ${limit} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    // The body stream only errors when the client went away mid-body: a client event, not a 500.
    throw err instanceof AppError ? err : requestAborted(err);
  }
  return Buffer.concat(chunks, size);
}

function mediaType(req: IncomingRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Parses JSON or (where allowed) urlencoded bodies; everything else is a 415. */
export async function parseBody(req: IncomingRequest, kind: BodyKind, limit: number): Promise<unknown> {
  const type = mediaType(req);
  const formOk = kind === 'form-or-json';
  if (type !== 'application/json' && !(formOk && type === 'application/x-www-form-urlencoded')) {
    req.body.resume();
    const accepted = formOk ? 'application/json or application/x-www-form-urlencoded' : 'application/json';
    throw new UnsupportedMediaTypeError(`Expected ${accepted}, got '${type || 'nothing'}'`);
  }
  const raw = await readLimited(req.body, limit, req.headers['content-length']);
  const text = raw.toString('utf8');
  if (type === 'application/x-www-form-urlencoded') {
    return Object.fromEntries(new URLSearchParams(text));
  }
  if (text.trim() === '') throw new BadRequestError('Request body is empty; expected JSON', 'malformed_json');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new BadRequestError(`Malformed JSON: ${(err as Error).message}`, 'malformed_json');
  }
}

/** Query strings become flat objects; a repeated key becomes an array. */
export function parseQuery(raw: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    const prev = out[key];
    out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}
