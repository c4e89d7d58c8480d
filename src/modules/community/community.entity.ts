import { defineEntity, p } from '@mikro-orm/postgresql';

/** An image post. `active` false means soft-deleted: gone from feeds, likes and tournaments. */
export const Image = defineEntity({
  name: 'Image',
  tableName: 'images',
  properties: {
    id: p.integer().primary().autoincrement(),
    userId: p.integer(),
    mediaSha256: p.string().length(64),
    prompt: p.text(),
    modelName: p.string().length(100).nullable(),
    tournamentOptIn: p.boolean().default(false),
    active: p.boolean().default(true),
    // Moved only by the like/unlike statements (community.sql.ts) and, for cascaded deletes, a trigger (migration 0006).
    likeCount: p.integer().default(0),
    createdAt: p.datetime(3).onCreate(() => new Date()),
    updatedAt: p.datetime(3).onCreate(() => new Date()).onUpdate(() => new Date()),
    deletedAt: p.datetime(3).nullable(),
  },
});

export const ImageLike = defineEntity({
  name: 'ImageLike',
  tableName: 'image_likes',
  properties: {
    imageId: p.integer().primary(),
    userId: p.integer().primary(),
    createdAt: p.datetime(3).onCreate(() => new Date()),
  },
});

export type ImageEntity = InstanceType<typeof Image.class>;
export const communityEntities = [Image, ImageLike];
