import { json, noContent, route, type AnyRoute } from '../../transport/http/types.js';
import { NotFoundError } from '../../platform/errors.js';
import { blobReply } from '../media/media.routes.js';
import type { MediaService } from '../media/media.service.js';
import { PhotoFileQuery, PhotoIdParams, PhotoListQuery, PhotoListResponse } from './photos.schemas.js';
import { deletePhoto, listPhotos, photoFile, toPhotoDto } from './photos.service.js';

const tags = ['photos'];
// Access depends on who asks and the record can be deleted: caches must revalidate (cheap, via ETag).
const PRIVATE = 'private, no-cache';

export function photosRoutes(media: MediaService): AnyRoute[] {
  return [
    route({
      method: 'GET',
      path: '/api/v1/photos',
      summary: "The caller's photos, newest first (cursor pagination)",
      tags,
      auth: 'user',
      query: PhotoListQuery,
      responses: { 200: PhotoListResponse, 400: null },
      handler: async ({ actor, em, query }) => {
        const page = await listPhotos(em, actor, query);
        return json({ items: page.items.map((p) => toPhotoDto(p, media)), next_cursor: page.next_cursor });
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/photos/:id/file',
      summary: 'Download the original or processed file of a photo (owner or admin)',
      tags,
      auth: 'user',
      params: PhotoIdParams,
      query: PhotoFileQuery,
      responses: { 200: null, 206: null, 304: null, 404: null, 409: null },
      handler: async ({ actor, em, params, query, request }) => {
        const sha256 = await photoFile(em, actor, params.id, query.type);
        const row = await media.find(em, sha256);
        const blob = row ? await media.blob(row, 'original') : null;
        if (!blob) throw new NotFoundError('The file is missing', 'media_not_found');
        return blobReply(request, blob, `"${sha256}-original"`, PRIVATE);
      },
    }),
    route({
      method: 'DELETE',
      path: '/api/v1/photos/:id',
      summary: 'Delete a photo record (owner or admin)',
      tags,
      auth: 'user',
      params: PhotoIdParams,
      responses: { 204: null, 404: null },
      handler: async ({ actor, em, params }) => {
        await deletePhoto(em, actor, params.id);
        return noContent();
      },
    }),
  ];
}
