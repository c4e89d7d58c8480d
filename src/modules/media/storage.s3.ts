import { createReadStream } from 'node:fs';
import { stat as fsStat } from 'node:fs/promises';
import { PassThrough, Readable, Transform, pipeline } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BadRequestError } from '../../platform/errors.js';
import { assertSafeKey, type ByteRange, type StorageDriver } from './storage.js';
import { removeQuietly } from './temp-file.js';

/** `media.s3` in the configuration (null fields: the AWS SDK's defaults and its credential chain). */
export interface S3StorageConfig {
  bucket: string;
  /** Prepended to every key (`easel/` keeps Easel's objects apart in a shared bucket); '' for none. */
  prefix: string;
  region: string;
  /** An S3-compatible service (MinIO, Ceph, R2, s3rver): `http://minio:9000`. null: AWS itself. */
  endpoint: string | null;
  /** Path-style URLs (`endpoint/bucket/key`): what most S3-compatible servers need. */
  forcePathStyle: boolean;
  /** Both or neither; neither: the SDK's chain (AWS_* variables, ~/.aws, instance or task role). */
  accessKeyId: string | null;
  secretAccessKey: string | null;
}

export function createS3Client(config: S3StorageConfig): S3Client {
  return new S3Client({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle,
    ...(config.accessKeyId && config.secretAccessKey
      ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } }
      : {}),
    // Checksums only where S3 requires them: streamed bodies then go up as plain PUTs with a Content-Length,
    // which every S3-compatible server understands (aws-chunked trailers are not universal).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.Code === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/** The local driver's contract for a missing blob: an ENOENT error on the stream. */
function enoent(key: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`ENOENT: no such object '${key}'`);
  err.code = 'ENOENT';
  return err;
}

/**
 * Objects in an S3 bucket (or any S3-compatible service), so every hub node sees the same media without a
 * shared filesystem. Same contract as LocalStorage: content-addressed keys, puts that are atomic (an object
 * appears whole or not at all), a missing key as null / an ENOENT stream error, removing a missing key is fine.
 */
export class S3Storage implements StorageDriver {
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(
    private readonly client: S3Client,
    options: { bucket: string; prefix?: string },
  ) {
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
  }

  async has(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  async stat(key: string): Promise<{ size: number } | null> {
    const Key = this.objectKey(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { size: head.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async putFile(tmpPath: string, key: string): Promise<void> {
    const Key = this.objectKey(key);
    // Content-addressed: an existing object already holds these exact bytes.
    if (await this.has(key)) {
      await removeQuietly(tmpPath);
      return;
    }
    const { size } = await fsStat(tmpPath);
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: createReadStream(tmpPath), ContentLength: size }));
    await removeQuietly(tmpPath);
  }

  async putBuffer(key: string, data: Buffer): Promise<void> {
    const Key = this.objectKey(key);
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: data, ContentLength: data.length }));
  }

  createReadStream(key: string, range?: ByteRange): NodeJS.ReadableStream {
    const Key = this.objectKey(key);
    if (range) {
      const { start, end } = range;
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
        throw new BadRequestError('Invalid byte range', 'invalid_range');
      }
    }
    const out = new PassThrough();
    const abort = new AbortController();
    // A reader that goes away (client disconnect) ends the request to S3 too.
    out.once('close', () => abort.abort());
    this.client
      .send(new GetObjectCommand({ Bucket: this.bucket, Key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }), {
        abortSignal: abort.signal,
      })
      .then(
        (res) => {
          const body = res.Body;
          if (!(body instanceof Readable)) {
            out.destroy(new Error(`S3 GetObject '${Key}' returned no stream`));
            return;
          }
          // A server may ignore Range and send the whole object (HTTP allows it), or send more than asked
          // (s3rver answers bytes=0-0 with the whole object): the wanted bytes are cut out here.
          const sent = range ? sentRange(res.ContentRange) : null;
          if (range && !(sent && sent.start === range.start && sent.end === range.end)) {
            pipeline(body, sliceBytes(range, sent?.start ?? 0), out, () => undefined);
          } else {
            pipeline(body, out, () => undefined); // errors reach `out`, where the reader sees them
          }
        },
        (err: unknown) => {
          if (out.destroyed) return;
          out.destroy(isNotFound(err) ? enoent(key) : (err as Error));
        },
      );
    return out;
  }

  async remove(key: string): Promise<void> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private objectKey(key: string): string {
    assertSafeKey(key);
    return this.prefix + key;
  }
}

/** `bytes 0-9/10` → { start: 0, end: 9 }; anything else → null. */
function sentRange(contentRange: string | undefined): ByteRange | null {
  const m = /^bytes (\d+)-(\d+)\//.exec(contentRange ?? '');
  return m ? { start: Number(m[1]), end: Number(m[2]) } : null;
}

/** Passes bytes `start..end` (inclusive, object offsets) of a stream that begins at object offset `base`. */
function sliceBytes({ start, end }: ByteRange, base: number): Transform {
  let offset = base;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const from = Math.max(start - offset, 0);
      const to = Math.min(end + 1 - offset, chunk.length);
      offset += chunk.length;
      done(null, from < to ? chunk.subarray(from, to) : undefined);
    },
  });
}
