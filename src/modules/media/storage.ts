import { randomUUID } from 'node:crypto';
import { createReadStream, constants as fsConstants } from 'node:fs';
import { copyFile, mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import { BadRequestError } from '../../platform/errors.js';
import { removeQuietly } from './temp-file.js';

/** Inclusive byte range, as in HTTP `Range: bytes=start-end` and fs.createReadStream. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Content-addressed blob store. Keys are relative, slash-separated and built with `originalKey` /
 * `variantKey`; drivers reject anything that could name a path outside their root.
 */
export interface StorageDriver {
  has(key: string): Promise<boolean>;
  stat(key: string): Promise<{ size: number } | null>;
  /** Moves `tmpPath` into place atomically; if `key` already exists the tmp file is just removed. */
  putFile(tmpPath: string, key: string): Promise<void>;
  /** Writes atomically (temp file + rename), replacing any existing blob. */
  putBuffer(key: string, data: Buffer): Promise<void>;
  /** A missing key surfaces as an ENOENT 'error' event on the stream, not a throw. */
  createReadStream(key: string, range?: ByteRange): NodeJS.ReadableStream;
  /** Removing a missing key is not an error. */
  remove(key: string): Promise<void>;
}

export type VariantName = 'thumb' | 'webp';

const SHA256_HEX = /^[0-9a-f]{64}$/;

function assertSha256(sha256: string): void {
  if (!SHA256_HEX.test(sha256)) throw new BadRequestError('Invalid content hash', 'invalid_hash');
}

/** Sharded so no directory grows past a few thousand entries. */
export function originalKey(sha256: string): string {
  assertSha256(sha256);
  return `originals/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}

export function variantKey(sha256: string, variant: VariantName): string {
  assertSha256(sha256);
  return variant === 'thumb' ? `variants/${sha256}.thumb.webp` : `variants/${sha256}.webp`;
}

/**
 * Validates a storage key. Keys are never client-supplied in normal flows, but a key reaching
 * this layer through a bug must still not escape the root.
 */
export function assertSafeKey(key: string): void {
  const bad =
    key.length === 0 ||
    key.length > 512 ||
    key.includes('\0') ||
    key.includes('\\') ||
    key.includes('..') ||
    key.startsWith('/') ||
    isAbsolute(key) ||
    key.endsWith('/') ||
    key.split('/').some((segment) => segment === '' || segment === '.');
  if (bad) throw new BadRequestError('Invalid storage key', 'invalid_storage_key');
}

export class LocalStorage implements StorageDriver {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async has(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  async stat(key: string): Promise<{ size: number } | null> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { size: info.size } : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async putFile(tmpPath: string, key: string): Promise<void> {
    const dest = this.pathOf(key);
    // Content-addressed: an existing blob already holds these exact bytes.
    if (await this.has(key)) {
      await removeQuietly(tmpPath);
      return;
    }
    await mkdir(dirname(dest), { recursive: true });
    try {
      await rename(tmpPath, dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      // Temp dir on another filesystem: copy next to the destination first so the final step is
      // still a same-directory rename and readers never see a half-written blob.
      const staged = this.stagingPath(dest);
      try {
        await copyFile(tmpPath, staged, fsConstants.COPYFILE_EXCL);
        await rename(staged, dest);
      } catch (copyErr) {
        await removeQuietly(staged);
        throw copyErr;
      }
      await removeQuietly(tmpPath);
    }
  }

  async putBuffer(key: string, data: Buffer): Promise<void> {
    const dest = this.pathOf(key);
    await mkdir(dirname(dest), { recursive: true });
    const staged = this.stagingPath(dest);
    try {
      await writeFile(staged, data, { flag: 'wx', mode: 0o644 });
      await rename(staged, dest);
    } catch (err) {
      await removeQuietly(staged);
      throw err;
    }
  }

  createReadStream(key: string, range?: ByteRange): NodeJS.ReadableStream {
    const path = this.pathOf(key);
    if (!range) return createReadStream(path);
    const { start, end } = range;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
      throw new BadRequestError('Invalid byte range', 'invalid_range');
    }
    return createReadStream(path, { start, end });
  }

  async remove(key: string): Promise<void> {
    await removeQuietly(this.pathOf(key));
  }

  private pathOf(key: string): string {
    assertSafeKey(key);
    const full = resolve(this.root, key);
    // Belt and braces: the lexical checks above should make this unreachable.
    if (!full.startsWith(this.root + sep)) {
      throw new BadRequestError('Invalid storage key', 'invalid_storage_key');
    }
    return full;
  }

  private stagingPath(dest: string): string {
    return `${dest}.${randomUUID()}.tmp`;
  }
}

/** A whole blob in memory (small files, or ones sharp needs as a Buffer); a missing key rejects with ENOENT. */
export async function readBlob(storage: StorageDriver, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of storage.createReadStream(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
