import { ForeignKeyConstraintViolationException } from '@mikro-orm/core';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { EntityManager } from '../../platform/db/orm.js';
import { PayloadTooLargeError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { createByteCache } from './byte-cache.js';
import { createDecodeBudget, estimateDecodeBytes, type DecodeBudgetStats } from './decode-budget.js';
import { makePublicOriginal, makeVariants, probeImage, verifyDecodes, type ImageFormat } from './image.pipeline.js';
import { createLegacyOriginalStripper } from './legacy-originals.js';
import { CONTENT_LOCK, Media, type MediaEntity, type OriginalState } from './media.entity.js';
import { originalKey, readBlob, variantKey, type ByteRange, type StorageDriver, type VariantName } from './storage.js';
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

export type MediaInfo = Pick<MediaEntity, 'sha256' | 'format' | 'width' | 'height' | 'size' | 'originalState'>;

/** Rows kept in memory for serving; ~150 bytes each. */
const ROW_CACHE_SIZE = 10_000;

export interface MediaBlob {
  size: number;
  contentType: string;
  /** Strong validator; changes when the stored bytes behind a hash+variant changed (a legacy original stripped). */
  etag: string;
  open(range?: ByteRange): NodeJS.ReadableStream;
  /** The whole file, for small blobs kept in memory (thumbnails): served without touching the disk. */
  bytes?: Buffer;
}

type Sized = { sha256: string; width: number; height: number };

/** 256 MiB: a 40-megapixel image (the default pixel limit) fits, with room for a few small ones beside it. */
const DEFAULT_DECODE_BUDGET = 256 * 1024 * 1024;

/** Defaults of `media.memoryCacheBytes` / `media.memoryCacheMaxBlobBytes`. */
const DEFAULT_MEMORY_CACHE = { memoryCacheBytes: 64 * 1024 * 1024, memoryCacheMaxBlobBytes: 256 * 1024 };

export interface MediaService {
  /**
   * Stream → temp file (sha256 while streaming, size limit) → decode-validate with sharp →
   * public original (location/camera metadata stripped, orientation applied; byte for byte when the
   * upload has none) stored under the upload's hash (one file per distinct upload) → `media` row →
   * thumb/webp variants made off the request path. The temp file is removed on every path. Errors are AppErrors (413 too large or too
   * many pixels, 415 not an image / format not allowed / corrupt).
   *
   * @example
   * const stored = await media.ingest(em, fileStream);
   * const url = media.urlFor(stored.sha256, 'thumb');
   */
  ingest(em: EntityManager, file: NodeJS.ReadableStream): Promise<StoredMedia>;
  /** The URL path clients use: `/api/v1/media/<sha256>`, with `?variant=` for thumb/webp. */
  urlFor(sha256: string, variant?: MediaVariant): string;
  /**
   * The stored row, or null. Rows are immutable once their original is clean, so they are cached in
   * memory (LRU). A row from before metadata stripping has its original stripped here, once.
   */
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
  /** The decode memory budget right now and its peaks (metrics, tests). */
  decodeStats(): DecodeBudgetStats;
}

export interface MediaServiceDeps {
  storage: StorageDriver;
  /** Temp files live here; keep it on the storage filesystem so the final move is a rename. */
  tmpDir: string;
  /**
   * `decodeBudgetBytes`: memory all decodes together may reserve (default 256 MiB). Each decode
   * reserves `estimateDecodeBytes(width, height)` from the header before decoding and waits while the
   * budget is spent; an upload that alone exceeds it is refused (413 image_exceeds_decode_budget).
   */
  limits: { maxFileBytes: number; maxPixels: number; allowedFormats: readonly ImageFormat[]; decodeBudgetBytes?: number };
  logger: Logger;
  /**
   * Blobs up to `memoryCacheMaxBlobBytes` are kept in memory once served (content-addressed bytes never
   * change), `memoryCacheBytes` in all; 0 turns the cache off (benchmarks of the disk path).
   */
  memoryCache?: { memoryCacheBytes: number; memoryCacheMaxBlobBytes: number };
}

const CONTENT_TYPES: Record<ImageFormat, string> = { jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp' };

export function createMediaService(deps: MediaServiceDeps): MediaService {
  const { storage, limits, logger } = deps;
  const budget = createDecodeBudget(limits.decodeBudgetBytes ?? DEFAULT_DECODE_BUDGET);
  const decodeCost = (dims: { width: number; height: number }) => estimateDecodeBytes(dims.width, dims.height);
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

  const cacheLimits = deps.memoryCache ?? DEFAULT_MEMORY_CACHE;
  const small = createByteCache(cacheLimits.memoryCacheBytes);
  const cacheable = (size: number) => size <= cacheLimits.memoryCacheMaxBlobBytes && size <= cacheLimits.memoryCacheBytes;

  // Stored content was accepted under the limits of its day: it is never refused here, at worst it
  // decodes alone (the budget cuts an oversized reservation to the whole budget).
  async function makeAndStoreVariants(row: Sized): Promise<void> {
    const { sha256 } = row;
    const [hasThumb, hasWebp] = await Promise.all([storage.has(variantKey(sha256, 'thumb')), storage.has(variantKey(sha256, 'webp'))]);
    if (hasThumb && hasWebp) return;
    await budget.run(decodeCost(row), async () => {
      const original = await readBlob(storage, originalKey(sha256));
      const variants = await makeVariants(original, { maxPixels: Math.max(limits.maxPixels, row.width * row.height) });
      await Promise.all([storage.putBuffer(variantKey(sha256, 'thumb'), variants.thumb), storage.putBuffer(variantKey(sha256, 'webp'), variants.webp)]);
    });
  }

  function ensureVariants(row: Sized): Promise<void> {
    const { sha256 } = row;
    let pending = making.get(sha256);
    if (!pending) {
      pending = makeAndStoreVariants(row).finally(() => making.delete(sha256));
      making.set(sha256, pending);
    }
    return pending;
  }

  // Rows stored before stripping existed are stripped before anything of them is served.
  const cleanPending = createLegacyOriginalStripper({ storage, budget, maxPixels: limits.maxPixels });

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
        // Header checks (format, pixel bomb) first, then a full decode so truncated files are refused.
        const probe = await probeImage(tmp.path, { allowedFormats: limits.allowedFormats, maxPixels: limits.maxPixels, fullDecode: false });
        const cost = decodeCost(probe);
        if (!budget.fits(cost)) {
          throw new PayloadTooLargeError(
            `Image is ${probe.width}x${probe.height}; decoding it needs more memory than this server allows for all decodes together`,
            'image_exceeds_decode_budget',
          );
        }
        // Waits here while other decodes hold the memory budget; the upload itself is already on disk.
        const stored = await budget.run(cost, async () => {
          await verifyDecodes(tmp.path, limits.maxPixels);
          // Originals are public: GPS and camera data must not be. The hash stays the upload's, so dedupe holds.
          const clean = await makePublicOriginal(tmp.path, probe, { maxPixels: limits.maxPixels });
          const state: OriginalState = clean ? 'stripped' : 'as_uploaded';
          const dims = { format: probe.format, width: clean?.width ?? probe.width, height: clean?.height ?? probe.height, size: tmp.size };
          // The blob before the row: a row always means the original is servable. Under the content's lock,
          // so a concurrent discard of the same bytes cannot remove the file between the two.
          const created = await em.transactional(async (tx) => {
            await tx.execute(CONTENT_LOCK, [tmp.sha256]);
            // A clean rendition replaces whatever a crash may have left under the key (possibly the raw upload).
            if (clean) await storage.putBuffer(originalKey(tmp.sha256), clean.bytes);
            else await storage.putFile(tmp.path, originalKey(tmp.sha256));
            const rows = await tx.execute<{ sha256: string }[]>(
              `insert into media (sha256, format, width, height, size, original_state, created_at) values (?, ?, ?, ?, ?, ?, now())
               on conflict (sha256) do update set claimed_at = now(), original_state = excluded.original_state, width = excluded.width,
               height = excluded.height returning (xmax = 0) as inserted`,
              [tmp.sha256, dims.format, dims.width, dims.height, dims.size, state],
            );
            return (rows[0] as { inserted?: boolean } | undefined)?.inserted === true;
          });
          return { sha256: tmp.sha256, ...dims, created };
        });
        ensureVariants(stored).catch((err: unknown) => logger.error({ err, sha256: stored.sha256 }, 'making variants failed'));
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
      if (!row) return null;
      const info: MediaInfo = { sha256: row.sha256, format: row.format, width: row.width, height: row.height, size: row.size, originalState: row.originalState };
      return remember(info.originalState === 'pending' ? await cleanPending(em, info) : info);
    },

    async blob(row, variant) {
      const key = variant === 'original' ? originalKey(row.sha256) : variantKey(row.sha256, variant);
      const contentType = variant === 'original' ? CONTENT_TYPES[row.format] : 'image/webp';
      const etag = variant === 'original' && row.originalState === 'stripped' ? `"${row.sha256}-original-stripped"` : `"${row.sha256}-${variant}"`;
      const cached = small.get(key);
      if (cached) return { size: cached.length, contentType, etag, bytes: cached, open: (range) => Readable.from([slice(cached, range)]) };
      let info = await storage.stat(key);
      if (!info && variant !== 'original' && (await storage.has(originalKey(row.sha256)))) {
        await ensureVariants(row);
        info = await storage.stat(key);
      }
      if (!info) {
        logger.error({ sha256: row.sha256, variant }, 'media row without its blob');
        return null;
      }
      if (cacheable(info.size)) {
        const bytes = await readBlob(storage, key);
        small.set(key, bytes);
        return { size: bytes.length, contentType, etag, bytes, open: (range) => Readable.from([slice(bytes, range)]) };
      }
      return { size: info.size, contentType, etag, open: (range) => storage.createReadStream(key, range) };
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

    decodeStats: () => budget.stats(),
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


/** Where media lives: `media.dir`, else `<dataDir>/media`; temp files under it so moves are renames. */
export function mediaPaths(config: { dataDir: string; media: { dir: string | null } }): { root: string; tmpDir: string } {
  const root = resolve(config.media.dir ?? join(config.dataDir, 'media'));
  return { root, tmpDir: join(root, 'tmp') };
}
