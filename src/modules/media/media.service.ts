import { availableParallelism } from 'node:os';
import { ForeignKeyConstraintViolationException } from '@mikro-orm/core';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { EntityManager } from '../../platform/db/orm.js';
import type { Logger } from '../../platform/logger.js';
import { makeVariants, probeImage, type ImageFormat } from './image.pipeline.js';
import { Media, type MediaEntity } from './media.entity.js';
import { originalKey, variantKey, type ByteRange, type StorageDriver, type VariantName } from './storage.js';
import { removeQuietly, streamToTempFile } from './temp-file.js';

export type MediaVariant = 'original' | VariantName;
export const MEDIA_VARIANTS = ['original', 'thumb', 'webp'] as const satisfies readonly MediaVariant[];

export interface StoredMedia {
  sha256: string;
  format: ImageFormat;
  width: number;
  height: number;
  size: number;
  /** false when this exact content was already stored (dedupe). */
  created: boolean;
}

export type MediaInfo = Pick<MediaEntity, 'sha256' | 'format' | 'width' | 'height' | 'size'>;

/** Rows kept in memory for serving; ~150 bytes each. */
const ROW_CACHE_SIZE = 10_000;

export interface MediaBlob {
  size: number;
  contentType: string;
  open(range?: ByteRange): NodeJS.ReadableStream;
  /** The whole file, for small blobs kept in memory (thumbnails): served without touching the disk. */
  bytes?: Buffer;
}

/** Blobs up to this size are kept in memory once served; content-addressed bytes never change. */
const SMALL_BLOB_BYTES = 256 * 1024;
const BLOB_CACHE_BYTES = 64 * 1024 * 1024;

export interface MediaService {
  /**
   * Stream → temp file (sha256 while streaming, size limit) → decode-validate with sharp →
   * content-addressed original (one file per distinct content) → thumb/webp variants made once →
   * `media` row. The temp file is removed on every path. Errors are AppErrors (413 too large or too
   * many pixels, 415 not an image / format not allowed / corrupt).
   *
   * @example
   * const stored = await media.ingest(em, fileStream);
   * const url = media.urlFor(stored.sha256, 'thumb');
   */
  ingest(em: EntityManager, file: NodeJS.ReadableStream): Promise<StoredMedia>;
  /** The URL path clients use: `/api/v1/media/<sha256>`, with `?variant=` for thumb/webp. */
  urlFor(sha256: string, variant?: MediaVariant): string;
  /** The stored row, or null. Rows are immutable, so they are cached in memory (LRU). */
  find(em: EntityManager, sha256: string): Promise<MediaInfo | null>;
  /** A servable blob for a known row, or null if storage lost it. */
  blob(row: MediaInfo, variant: MediaVariant): Promise<MediaBlob | null>;
  /**
   * Undoes an ingest that a failed request no longer needs. Only content this ingest created is
   * removed, and only while nothing references it (a foreign key from another table blocks it).
   */
  discard(em: EntityManager, stored: StoredMedia): Promise<void>;
  /** Resolves when no variants are being made (shutdown, tests). */
  idle(): Promise<void>;
}

export interface MediaServiceDeps {
  storage: StorageDriver;
  /** Temp files live here; keep it on the storage filesystem so the final move is a rename. */
  tmpDir: string;
  limits: { maxFileBytes: number; maxPixels: number; allowedFormats: readonly ImageFormat[] };
  logger: Logger;
  /** Images decoded at once; bounds memory under concurrent uploads. Default: CPU count. */
  decodeConcurrency?: number;
}

/** Serialises storing and undoing the same content across requests and nodes. */
const CONTENT_LOCK = 'select pg_advisory_xact_lock(hashtextextended(?, 0))';

const CONTENT_TYPES: Record<ImageFormat, string> = { jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp' };

export function createMediaService(deps: MediaServiceDeps): MediaService {
  const { storage, limits, logger } = deps;
  const gate = semaphore(deps.decodeConcurrency ?? availableParallelism());
  // Serving hits one hash over and over; a row never changes, so the database is asked once.
  // (A row removed by discard on another node only leaves a stale entry; blob() then finds no file.)
  const rows = new Map<string, MediaInfo>();
  const remember = (info: MediaInfo): MediaInfo => {
    rows.delete(info.sha256);
    rows.set(info.sha256, info);
    if (rows.size > ROW_CACHE_SIZE) rows.delete(rows.keys().next().value!);
    return info;
  };

  // Variants are made off the request path, once per content and node (single flight); a request for a
  // variant that is not there yet waits for it, so a crash between the row and the variants heals itself.
  const making = new Map<string, Promise<void>>();

  const small = createByteCache(BLOB_CACHE_BYTES);

  async function makeAndStoreVariants(sha256: string): Promise<void> {
    const [hasThumb, hasWebp] = await Promise.all([storage.has(variantKey(sha256, 'thumb')), storage.has(variantKey(sha256, 'webp'))]);
    if (hasThumb && hasWebp) return;
    await gate(async () => {
      const original = await readAll(storage.createReadStream(originalKey(sha256)));
      const variants = await makeVariants(original, { maxPixels: limits.maxPixels });
      await Promise.all([storage.putBuffer(variantKey(sha256, 'thumb'), variants.thumb), storage.putBuffer(variantKey(sha256, 'webp'), variants.webp)]);
    });
  }

  function ensureVariants(sha256: string): Promise<void> {
    let pending = making.get(sha256);
    if (!pending) {
      pending = makeAndStoreVariants(sha256).finally(() => making.delete(sha256));
      making.set(sha256, pending);
    }
    return pending;
  }

  return {
    async ingest(em, file) {
      const tmp = await streamToTempFile(file, { dir: deps.tmpDir, maxBytes: limits.maxFileBytes });
      try {
        // Identical bytes were decode-validated when first stored: a re-upload needs no decoding. Claiming
        // the row (an UPDATE, so it serialises with discard's DELETE) keeps a failing concurrent upload of
        // the same bytes from undoing it before this request references it.
        const [known] = await em.execute<MediaInfo[]>(
          'update media set claimed_at = now() where sha256 = ? returning sha256, format, width, height, size',
          [tmp.sha256],
        );
        if (known && (await storage.has(originalKey(tmp.sha256)))) {
          return { sha256: tmp.sha256, format: known.format, width: known.width, height: known.height, size: known.size, created: false };
        }
        const stored = await gate(async () => {
          // Header checks (format, pixel bomb) first, then a full decode so truncated files are refused.
          const probe = await probeImage(tmp.path, { allowedFormats: limits.allowedFormats, maxPixels: limits.maxPixels });
          const dims = { format: probe.format, width: probe.width, height: probe.height, size: tmp.size };
          // The blob before the row: a row always means the original is servable. Under the content's lock,
          // so a concurrent discard of the same bytes cannot remove the file between the two.
          const created = await em.transactional(async (tx) => {
            await tx.execute(CONTENT_LOCK, [tmp.sha256]);
            await storage.putFile(tmp.path, originalKey(tmp.sha256));
            const rows = await tx.execute<{ sha256: string }[]>(
              `insert into media (sha256, format, width, height, size, created_at) values (?, ?, ?, ?, ?, now())
               on conflict (sha256) do update set claimed_at = now() returning (xmax = 0) as inserted`,
              [tmp.sha256, dims.format, dims.width, dims.height, dims.size],
            );
            return (rows[0] as { inserted?: boolean } | undefined)?.inserted === true;
          });
          return { sha256: tmp.sha256, ...dims, created };
        });
        ensureVariants(stored.sha256).catch((err: unknown) => logger.error({ err, sha256: stored.sha256 }, 'making variants failed'));
        return stored;
      } finally {
        // After putFile the temp path is gone already; on every other path this is the cleanup.
        await removeQuietly(tmp.path);
      }
    },

    urlFor(sha256, variant = 'original') {
      const base = `/api/v1/media/${sha256}`;
      return variant === 'original' ? base : `${base}?variant=${variant}`;
    },

    async find(em, sha256) {
      const cached = rows.get(sha256);
      if (cached) return remember(cached);
      const row = await em.findOne(Media, { sha256 });
      return row ? remember({ sha256: row.sha256, format: row.format, width: row.width, height: row.height, size: row.size }) : null;
    },

    async blob(row, variant) {
      const key = variant === 'original' ? originalKey(row.sha256) : variantKey(row.sha256, variant);
      const contentType = variant === 'original' ? CONTENT_TYPES[row.format] : 'image/webp';
      const cached = small.get(key);
      if (cached) return { size: cached.length, contentType, bytes: cached, open: (range) => Readable.from([slice(cached, range)]) };
      let info = await storage.stat(key);
      if (!info && variant !== 'original' && (await storage.has(originalKey(row.sha256)))) {
        await ensureVariants(row.sha256);
        info = await storage.stat(key);
      }
      if (!info) {
        logger.error({ sha256: row.sha256, variant }, 'media row without its blob');
        return null;
      }
      if (info.size <= SMALL_BLOB_BYTES) {
        const bytes = await readAll(storage.createReadStream(key));
        small.set(key, bytes);
        return { size: bytes.length, contentType, bytes, open: (range) => Readable.from([slice(bytes, range)]) };
      }
      return { size: info.size, contentType, open: (range) => storage.createReadStream(key, range) };
    },

    async discard(em, stored) {
      if (!stored.created) return;
      rows.delete(stored.sha256);
      await settled(making.get(stored.sha256));
      for (const variant of MEDIA_VARIANTS) small.delete(variant === 'original' ? originalKey(stored.sha256) : variantKey(stored.sha256, variant));
      try {
        await em.transactional(async (tx) => {
          await tx.execute(CONTENT_LOCK, [stored.sha256]);
          // Claimed (another upload reused it) or referenced (foreign key) content stays.
          const gone = await tx.execute<{ sha256: string }[]>('delete from media where sha256 = ? and claimed_at is null returning sha256', [stored.sha256]);
          if (gone.length === 0) return;
          await Promise.all([storage.remove(originalKey(stored.sha256)), storage.remove(variantKey(stored.sha256, 'thumb')), storage.remove(variantKey(stored.sha256, 'webp'))]);
        });
      } catch (err) {
        // Undo is best effort on a request that already failed: keep its error for the client, log this one.
        if (err instanceof ForeignKeyConstraintViolationException) logger.debug({ sha256: stored.sha256 }, 'media kept on discard: referenced');
        else logger.error({ err, sha256: stored.sha256 }, 'media discard failed; content left in place');
      }
    },

    async idle() {
      while (making.size > 0) await Promise.all([...making.values()].map(settled));
    },
  };
}

/** Waits for a promise without caring how it ended (its own handler logs failures). */
async function settled(p: Promise<unknown> | undefined): Promise<void> {
  await p?.then(
    () => undefined,
    () => undefined,
  );
}

function slice(bytes: Buffer, range?: ByteRange): Buffer {
  return range ? bytes.subarray(range.start, range.end + 1) : bytes;
}

/** Least-recently-used buffers, bounded by total bytes. */
function createByteCache(maxBytes: number) {
  const entries = new Map<string, Buffer>();
  let total = 0;
  return {
    get(key: string): Buffer | undefined {
      const hit = entries.get(key);
      if (hit) {
        entries.delete(key);
        entries.set(key, hit);
      }
      return hit;
    },
    set(key: string, value: Buffer): void {
      this.delete(key);
      entries.set(key, value);
      total += value.length;
      for (const [oldest, buf] of entries) {
        if (total <= maxBytes) break;
        entries.delete(oldest);
        total -= buf.length;
      }
    },
    delete(key: string): void {
      const prev = entries.get(key);
      if (prev) {
        entries.delete(key);
        total -= prev.length;
      }
    },
  };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A tiny counting semaphore: at most `max` tasks inside at once, the rest wait in order. */
function semaphore(max: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    // A finishing task hands its slot straight to the next waiter, so newcomers cannot jump in.
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

/** Where media lives: `media.dir`, else `<dataDir>/media`; temp files under it so moves are renames. */
export function mediaPaths(config: { dataDir: string; media: { dir: string | null } }): { root: string; tmpDir: string } {
  const root = resolve(config.media.dir ?? join(config.dataDir, 'media'));
  return { root, tmpDir: join(root, 'tmp') };
}
