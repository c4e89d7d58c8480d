import { defineEntity, p } from '@mikro-orm/postgresql';
import { IMAGE_FORMATS } from './image.pipeline.js';

/** One row per distinct content; the primary key is the SHA-256 of the original bytes. */
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
  },
});

export type MediaEntity = InstanceType<typeof Media.class>;
export const mediaEntities = [Media];
