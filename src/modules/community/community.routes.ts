import type { Config } from '../../platform/config.js';
import { ValidationError } from '../../platform/errors.js';
import { parseWith } from '../../platform/validation.js';
import { parseMultipart } from '../../transport/http/multipart.js';
import { json, route, type AnyRoute } from '../../transport/http/types.js';
import type { MediaService } from '../media/media.service.js';
import {
  CreateImageFields,
  ImagePage,
  ImageParams,
  ImageResponse,
  ImageStats,
  LikeResponse,
  ListImagesQuery,
  MultipartUploadDoc,
  PatchImageBody,
  RandomImages,
  RandomImagesQuery,
  TopImages,
  TopImagesQuery,
} from './community.schemas.js';
import type { CommunityService, Viewer } from './community.service.js';

const tags = ['community'];
const base = '/api/v1/images';

/** Guests and workers browse like anonymous visitors: only users have likes and ownership. */
function viewerOf(actor: { kind: string; userId?: number; role?: 'user' | 'admin' } | null): Viewer {
  return actor?.kind === 'user' && actor.userId !== undefined ? { userId: actor.userId, role: actor.role ?? 'user' } : null;
}

export function communityRoutes(community: CommunityService, media: MediaService, config: Config): AnyRoute[] {
  const uploadLimits = { ...config.uploads, maxFiles: 1 };
  return [
    route({
      method: 'POST',
      path: base,
      summary: 'Post an image (multipart: file, prompt, model_name, tournament_opt_in)',
      tags,
      auth: 'user',
      bodyKind: 'stream',
      body: MultipartUploadDoc,
      responses: { 201: ImageResponse },
      handler: async ({ actor, em, request }) => {
        const { fields, files } = await parseMultipart(request, {
          limits: uploadLimits,
          fileFields: ['file'],
          onFile: (stream) => media.ingest(em, stream),
          onDiscard: (stored) => media.discard(em, stored),
        });
        const stored = files[0]?.result;
        try {
          if (!stored) throw new ValidationError('Invalid body', [{ path: 'body.file', message: 'an image file is required' }]);
          const input = parseWith(CreateImageFields, fields, 'body');
          const image = await community.create(em, actor, stored.sha256, input);
          return json(image, 201, { location: `${base}/${image.id}` });
        } catch (err) {
          // Fields may arrive after the file; a rejected post must not leave the new upload behind.
          if (stored) await media.discard(em.fork(), stored);
          throw err;
        }
      },
    }),
    route({
      method: 'GET',
      path: base,
      summary: 'Feed of active images, newest first (cursor pagination, optional user_id filter)',
      tags,
      auth: 'optional',
      query: ListImagesQuery,
      responses: { 200: ImagePage },
      handler: async ({ actor, em, query }) => json(await community.list(em, viewerOf(actor), query)),
    }),
    route({
      method: 'GET',
      path: `${base}/random`,
      summary: 'Random active images (limit 1-50, default 1)',
      tags,
      auth: 'optional',
      query: RandomImagesQuery,
      responses: { 200: RandomImages },
      handler: async ({ actor, em, query }) => json({ items: await community.random(em, viewerOf(actor), query.limit) }, 200, { 'cache-control': 'no-store' }),
    }),
    route({
      method: 'GET',
      path: `${base}/top`,
      summary: 'Most liked active images by likes received in the window (1h, 24h, 7d, 30d)',
      tags,
      auth: 'optional',
      query: TopImagesQuery,
      responses: { 200: TopImages },
      handler: async ({ actor, em, query }) => json({ window: query.window, items: await community.top(em, viewerOf(actor), query.window, query.limit) }),
    }),
    route({
      method: 'GET',
      path: `${base}/:id`,
      summary: 'One image',
      tags,
      auth: 'optional',
      params: ImageParams,
      responses: { 200: ImageResponse },
      handler: async ({ actor, em, params }) => json(await community.get(em, params.id, viewerOf(actor))),
    }),
    route({
      method: 'PATCH',
      path: `${base}/:id`,
      summary: 'Edit prompt, model_name or tournament_opt_in (owner or admin)',
      tags,
      auth: 'user',
      params: ImageParams,
      body: PatchImageBody,
      responses: { 200: ImageResponse },
      handler: async ({ actor, em, params, body }) => json(await community.update(em, actor, params.id, body)),
    }),
    route({
      method: 'DELETE',
      path: `${base}/:id`,
      summary: 'Soft-delete an image: out of feeds, likes and tournaments (owner or admin)',
      tags,
      auth: 'user',
      params: ImageParams,
      responses: { 204: null },
      handler: async ({ actor, em, params }) => {
        await community.remove(em, actor, params.id);
        return { status: 204 };
      },
    }),
    route({
      method: 'PUT',
      path: `${base}/:id/like`,
      summary: 'Like an image (idempotent)',
      tags,
      auth: 'user',
      params: ImageParams,
      responses: { 200: LikeResponse },
      handler: async ({ actor, em, params }) => json(await community.like(em, actor, params.id)),
    }),
    route({
      method: 'DELETE',
      path: `${base}/:id/like`,
      summary: 'Remove a like (idempotent)',
      tags,
      auth: 'user',
      params: ImageParams,
      responses: { 200: LikeResponse },
      handler: async ({ actor, em, params }) => json(await community.unlike(em, actor, params.id)),
    }),
    route({
      method: 'GET',
      path: `${base}/:id/stats`,
      summary: 'Like counts and tournament stats (rating, interval, rank, wins, losses, championships)',
      tags,
      auth: 'optional',
      params: ImageParams,
      responses: { 200: ImageStats },
      handler: async ({ actor, em, params }) => json(await community.stats(em, viewerOf(actor), params.id)),
    }),
  ];
}
