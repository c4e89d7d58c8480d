import { defineEntity, p } from '@mikro-orm/postgresql';
import { PHOTO_KINDS, PHOTO_STATUSES } from './photos.dto.js';

export { PHOTO_KINDS, PHOTO_STATUSES };
export type PhotoStatus = (typeof PHOTO_STATUSES)[number];
export type PhotoKind = (typeof PHOTO_KINDS)[number];

/** A user's photo (seed 001): the uploaded original and, once a job finishes, its processed result. */
export const Photo = defineEntity({
  name: 'Photo',
  tableName: 'photos',
  properties: {
    id: p.uuid().primary(),
    ownerId: p.integer(),
    kind: p.enum(PHOTO_KINDS),
    status: p.enum(PHOTO_STATUSES).default('queued'),
    originalSha256: p.string().length(64),
    processedSha256: p.string().length(64).nullable(),
    lat: p.float().nullable(),
    lng: p.float().nullable(),
    error: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

export type PhotoEntity = InstanceType<typeof Photo.class>;
export const photoEntities = [Photo];
