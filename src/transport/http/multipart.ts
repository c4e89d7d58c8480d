import busboy from 'busboy';
import type { Readable } from 'node:stream';
import { AppError, BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../platform/errors.js';
import { requestAborted } from './abort.js';
import type { IncomingRequest } from './types.js';

export interface MultipartLimits {
  maxFileBytes: number;
  maxFiles: number;
  maxFields: number;
  maxFieldBytes: number;
}

export interface MultipartFile<T> {
  field: string;
  filename: string;
  mimeType: string;
  result: T;
}

export interface FileInfo {
  field: string;
  filename: string;
  mimeType: string;
}

export interface ParseMultipartOptions<T> {
  limits: MultipartLimits;
  /** Field names that may carry files; a file under any other name is a 400. */
  fileFields: string[];
  /** Consumes one file stream (it must read it to the end or reject). */
  onFile: (file: NodeJS.ReadableStream, info: FileInfo) => Promise<T>;
  /** Undoes one successful onFile when the request as a whole fails. */
  onDiscard?: (result: T) => Promise<void>;
}

/** Headers, boundaries and part headers: generous slack on top of the payload limits. */
const OVERHEAD_PER_PART = 1024;

/** The most a well-formed body within the limits can weigh; anything declaring more is refused unread. */
export function maxMultipartBytes(limits: MultipartLimits): number {
  const parts = limits.maxFiles + limits.maxFields;
  return limits.maxFiles * limits.maxFileBytes + limits.maxFields * limits.maxFieldBytes + (parts + 1) * OVERHEAD_PER_PART;
}

/**
 * Streams a multipart/form-data request through busboy. Each file stream is handed to `onFile` as
 * it arrives; fields are collected. Any limit hit, malformed body or client abort rejects with an
 * AppError (413 for size/count limits, 400 malformed_multipart / request_aborted, 415 if not
 * multipart) only after every pending `onFile` has settled and every successful one was undone
 * through `onDiscard`, so nothing half-done outlives the request.
 *
 * @example
 * const { fields, files } = await parseMultipart(ctx.request, {
 *   limits: config.uploads, fileFields: ['file'],
 *   onFile: (stream) => media.ingest(ctx.em, stream),
 * });
 */
export function parseMultipart<T>(req: IncomingRequest, opts: ParseMultipartOptions<T>): Promise<{ fields: Record<string, string>; files: MultipartFile<T>[] }> {
  const contentType = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    req.body.resume();
    return Promise.reject(new UnsupportedMediaTypeError(`Expected multipart/form-data, got '${contentType.split(';')[0]!.trim() || 'nothing'}'`));
  }
  const { limits } = opts;
  const totalLimit = maxMultipartBytes(limits);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > totalLimit) {
    req.body.resume();
    return Promise.reject(new PayloadTooLargeError(`Body exceeds ${totalLimit} bytes`, 'body_too_large'));
  }

  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: { 'content-type': contentType },
      // One byte of slack on files: the consumer (or our 'limit' handler) then sees an over-limit
      // file instead of a silently truncated one that happens to be exactly at the limit.
      limits: { fileSize: limits.maxFileBytes + 1, files: limits.maxFiles, fields: limits.maxFields, fieldSize: limits.maxFieldBytes, parts: limits.maxFiles + limits.maxFields },
    });
  } catch (err) {
    req.body.resume();
    return Promise.reject(new BadRequestError('Malformed multipart content type', 'malformed_multipart', { cause: err }));
  }

  return new Promise((resolve, reject) => {
    const body: Readable = req.body;
    const fields: Record<string, string> = {};
    const files: MultipartFile<T>[] = [];
    const pending: Promise<void>[] = [];
    let failure: AppError | null = null;
    let finished = false;
    let received = 0;

    const fail = (err: AppError): void => {
      if (failure) return;
      failure = err;
      // Deferred: busboy calls us from inside its parser and dereferences its state right after.
      process.nextTick(() => {
        body.unpipe(bb);
        // Destroying busboy errors the file stream in flight, so its consumer rejects and cleans up.
        bb.destroy(err);
        if (!body.destroyed) body.resume();
        void settle();
      });
    };

    const settle = async (): Promise<void> => {
      if (finished) return;
      finished = true;
      // Waiting for every consumer matters: the caller must not see an error while a temp file is
      // still being written.
      await Promise.allSettled(pending);
      if (!failure) return resolve({ fields, files });
      if (opts.onDiscard) {
        for (const f of files) await opts.onDiscard(f.result).catch(() => undefined); // best effort: the original error is what the client needs
      }
      reject(failure);
    };

    bb.on('file', (field, stream, info) => {
      if (failure) return stream.resume();
      if (!opts.fileFields.includes(field)) {
        stream.resume();
        return fail(new BadRequestError(`Unexpected file field '${field}'`, 'unexpected_file_field'));
      }
      stream.on('limit', () => fail(new PayloadTooLargeError(`File exceeds the ${limits.maxFileBytes}-byte limit`, 'file_too_large')));
      const meta = { field, filename: info.filename ?? '', mimeType: info.mimeType };
      const work = Promise.resolve()
        .then(() => opts.onFile(stream, meta))
        .then(
        (result) => {
          files.push({ ...meta, result });
        },
        (err: unknown) => {
          // Keep busboy moving if the consumer gave up without draining.
          stream.resume();
          fail(err instanceof AppError ? err : abortedOr(err));
        },
      );
      pending.push(work);
    });
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(new PayloadTooLargeError(`Field '${name}' exceeds ${limits.maxFieldBytes} bytes`, 'field_too_large'));
      if (info.nameTruncated) return fail(new PayloadTooLargeError('A field name is too long', 'field_too_large'));
      if (Object.hasOwn(fields, name)) return fail(new BadRequestError(`Field '${name}' appears more than once`, 'duplicate_field'));
      fields[name] = value;
    });
    bb.on('filesLimit', () => fail(new PayloadTooLargeError(`At most ${limits.maxFiles} files per request`, 'too_many_files')));
    bb.on('fieldsLimit', () => fail(new PayloadTooLargeError(`At most ${limits.maxFields} fields per request`, 'too_many_fields')));
    bb.on('partsLimit', () => fail(new PayloadTooLargeError('Too many parts in the request', 'too_many_parts')));
    bb.on('error', (err: unknown) => fail(err instanceof AppError ? err : new BadRequestError('Malformed multipart body', 'malformed_multipart', { cause: err })));
    bb.on('close', () => void settle());

    body.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > totalLimit) fail(new PayloadTooLargeError(`Body exceeds ${totalLimit} bytes`, 'body_too_large'));
    });
    body.on('error', (err) => fail(abortedOr(err)));
    body.pipe(bb);
  });
}

function abortedOr(err: unknown): AppError {
  return requestAborted(err);
}
