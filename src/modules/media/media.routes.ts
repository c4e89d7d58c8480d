import type { Readable } from 'node:stream';
import type { Config } from '../../platform/config.js';
import { AppError, BadRequestError, NotFoundError, ValidationError } from '../../platform/errors.js';
import { parseWith } from '../../platform/validation.js';
import { parseMultipart } from '../../transport/http/multipart.js';
import { json, route, type AnyRoute, type IncomingRequest, type Reply } from '../../transport/http/types.js';
import { etagMatches, parseRange } from './byte-range.js';
import { MediaParams, MediaQuery, StoredMediaResponse, UploadFields, type StoredMediaDto } from './media.schemas.js';
import type { MediaBlob, MediaService, MediaVariant, StoredMedia } from './media.service.js';

const tags = ['media'];
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Content-addressed: the bytes behind a hash+variant never change. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';

export function toStoredMediaDto(media: MediaService, stored: StoredMedia): StoredMediaDto {
  return {
    ...stored,
    urls: { original: media.urlFor(stored.sha256), thumb: media.urlFor(stored.sha256, 'thumb'), webp: media.urlFor(stored.sha256, 'webp') },
  };
}

/**
 * A streamed file reply with ETag, conditional GET and single byte ranges. The file is opened
 * only for GET, and only the requested range is read.
 */
export function blobReply(req: IncomingRequest, blob: MediaBlob, cacheControl: string): Reply {
  const { etag } = blob;
  // nosniff: the type is what the decoder said; a browser must not guess HTML or script from the bytes.
  const headers: Record<string, string> = { etag, 'cache-control': cacheControl, 'accept-ranges': 'bytes', 'content-type': blob.contentType, 'x-content-type-options': 'nosniff' };
  if (etagMatches(req.headers['if-none-match'], etag)) return { status: 304, headers };
  const ifRange = req.headers['if-range'];
  const range = ifRange !== undefined && ifRange.trim() !== etag ? null : parseRange(req.headers.range, blob.size);
  if (range === 'unsatisfiable') {
    throw new AppError(416, 'range_not_satisfiable', `The range is outside the ${blob.size}-byte file`, {
      headers: { 'content-range': `bytes */${blob.size}`, 'accept-ranges': 'bytes', 'x-content-type-options': 'nosniff' },
    });
  }
  const headOnly = req.method === 'HEAD';
  if (range === null) return { status: 200, headers, length: blob.size, ...(headOnly ? {} : { body: blob.bytes ?? (blob.open() as Readable) }) };
  const length = range.end - range.start + 1;
  headers['content-range'] = `bytes ${range.start}-${range.end}/${blob.size}`;
  return { status: 206, headers, length, ...(headOnly ? {} : { body: blob.bytes?.subarray(range.start, range.end + 1) ?? (blob.open(range) as Readable) }) };
}

export function mediaRoutes(media: MediaService, config: Config): AnyRoute[] {
  return [
    route({
      method: 'POST',
      path: '/api/v1/media',
      summary: 'Upload one image (multipart field `file`); stored once per distinct content',
      tags,
      auth: 'user',
      bodyKind: 'stream',
      responses: { 201: StoredMediaResponse, 200: StoredMediaResponse, 413: null, 415: null },
      handler: async ({ request, em }) => {
        const { fields, files } = await parseMultipart(request, {
          limits: { ...config.uploads, maxFiles: 1 },
          fileFields: ['file'],
          onFile: (stream) => media.ingest(em, stream),
          onDiscard: (stored) => media.discard(em, stored),
        });
        const stored = files[0]?.result;
        try {
          parseWith(UploadFields, fields, 'body');
          if (!stored) throw new ValidationError('A file is required', [{ path: 'body.file', message: 'required' }]);
        } catch (err) {
          if (stored) await media.discard(em, stored);
          throw err;
        }
        return json(toStoredMediaDto(media, stored), stored.created ? 201 : 200);
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/media/:sha256',
      summary: 'Serve stored media by content hash (ETag, immutable caching, Range)',
      tags,
      auth: 'none',
      params: MediaParams,
      query: MediaQuery,
      responses: { 200: null, 206: null, 304: null, 404: null, 416: null },
      handler: async ({ params, query, em, request }) => {
        if (!SHA256_HEX.test(params.sha256)) throw new BadRequestError('The media id must be a lowercase hex SHA-256', 'invalid_hash');
        const row = await media.find(em, params.sha256);
        const variant: MediaVariant = query.variant;
        const blob = row ? await media.blob(row, variant) : null;
        if (!blob) throw new NotFoundError('No media with this hash', 'media_not_found');
        return blobReply(request, blob, IMMUTABLE);
      },
    }),
  ];
}
