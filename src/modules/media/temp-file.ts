import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PayloadTooLargeError } from '../../platform/errors.js';

export interface TempFile {
  path: string;
  /** Lowercase hex SHA-256 of the bytes written. */
  sha256: string;
  size: number;
}

export interface StreamToTempFileOptions {
  dir: string;
  maxBytes: number;
  /** Aborting rejects the pipeline (AbortError) and removes the partial file. */
  signal?: AbortSignal;
}

/**
 * Streams `source` into a fresh file under `dir`, hashing on the way, with backpressure.
 * Exceeding `maxBytes` throws PayloadTooLargeError('file_too_large'); on any failure the partial
 * file is gone before the error reaches the caller.
 *
 * @example
 * const tmp = await streamToTempFile(fileStream, { dir: cfg.uploads.tmpDir, maxBytes: cfg.uploads.maxBytes });
 */
export async function streamToTempFile(
  source: AsyncIterable<Buffer> | NodeJS.ReadableStream,
  opts: StreamToTempFileOptions,
): Promise<TempFile> {
  if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 0) {
    throw new RangeError(`maxBytes must be a non-negative integer, got ${opts.maxBytes}`);
  }
  await mkdir(opts.dir, { recursive: true });
  const path = join(opts.dir, `upload-${randomUUID()}.part`);
  // Opening before the pipeline starts means the file exists and is ours ('wx') by the time any
  // error can happen, so cleanup never races an asynchronous open that re-creates it.
  const handle = await open(path, 'wx', 0o600);
  const sink = handle.createWriteStream();
  const hash = createHash('sha256');
  let size = 0;

  async function* meter(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
    for await (const chunk of chunks) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buf.length;
      if (size > opts.maxBytes) {
        throw new PayloadTooLargeError(`File exceeds the ${opts.maxBytes}-byte limit`, 'file_too_large');
      }
      hash.update(buf);
      yield buf;
    }
  }

  try {
    await pipeline(source, meter, sink, opts.signal ? { signal: opts.signal } : {});
  } catch (err) {
    // pipeline() normally destroys every stream on failure; destroying again is a no-op, and it
    // guarantees 'close' even if the failure came before the sink was wired in.
    sink.destroy();
    await closed(sink);
    await removeQuietly(path);
    throw err;
  }
  return { path, sha256: hash.digest('hex'), size };
}

/** Deletes a file; a file that is already gone is fine, anything else (EACCES, EISDIR...) is not. */
export async function removeQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** pipeline() may settle before the fd is released; unlinking first would leak it on Windows-like FSes. */
function closed(stream: Writable): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve) => stream.once('close', () => resolve()));
}
