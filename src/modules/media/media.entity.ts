import { defineEntity, p } from '@mikro-orm/postgresql';
import { IMAGE_FORMATS } from './image.pipeline.js';

/** What the stored original is; see migration 0007. Only 'pending' rows may still carry EXIF/GPS. */
export const ORIGINAL_STATES = ['pending', 'as_uploaded', 'stripped'] as const;
export type OriginalState = (typeof ORIGINAL_STATES)[number];

/**
 * One row per distinct upload; the primary key is the SHA-256 of the uploaded bytes (dedupe), `size` their
 * length. The stored original may be a metadata-stripped rendition of them (`originalState`), and then
 * width/height are that rendition's (orientation applied).
 */
export const Media = defineEntity({
  name: 'Media',
  tableName: 'media',
  properties: {
    sha256: p.string().length(64).primary(),
    format: p.enum(IMAGE_FORMATS),
    width: p.integer(),
    height: p.integer(),
    size: p.integer(),
    createdAt: p.datetime().onCreate(() => new Date()),
    /** Set when another upload reused this content; claimed media is never undone by `discard`. */
    claimedAt: p.datetime().nullable(),
    originalState: p.enum(ORIGINAL_STATES).default('pending'),
  },
});

export type MediaEntity = InstanceType<typeof Media.class>;

/** Serialises storing, stripping and undoing the same content across requests and nodes (transaction-scoped). */
export const CONTENT_LOCK = 'select pg_advisory_xact_lock(hashtextextended(?, 0))';
export const mediaEntities = [Media];
