import { json, noContent, route, type AnyRoute } from '../../transport/http/types.js';
import { AppError, NotFoundError } from '../../platform/errors.js';
import { blobReply } from '../media/media.routes.js';
import type { MediaService } from '../media/media.service.js';
import type { Config } from '../../platform/config.js';
import type { JobsService } from '../jobs/jobs.service.js';
import { BestcutUploadDoc, PhotoFileQuery, PhotoIdParams, PhotoJobResponse, PhotoListQuery, PhotoListResponse, UpscaleUploadDoc } from './photos.schemas.js';
import { deletePhoto, listPhotos, photoFile, toPhotoDto } from './photos.service.js';
import { submitPhotoJob } from './photos.submit.js';

const tags = ['photos'];
// Access depends on who asks and the record can be deleted: caches must revalidate (cheap, via ETag).
const PRIVATE = 'private, no-cache';

export function photosRoutes(media: MediaService, config: Config, jobs: JobsService): AnyRoute[] {
  const deps = { media, config, jobs };
  // 202: the work is queued; follow it with `job:watch {jobId: job_id}` on `/` or GET /api/v1/jobs/{job_id}.
  const submitted = { 202: PhotoJobResponse, 400: null, 413: null, 415: null, 422: null, 429: null };
  return [
    route({
      method: 'POST',
      path: '/api/v1/photos/upscale',
      summary: 'Upload a photo and queue an upscale job (multipart: file, lat, lng, scale 2|4); the photo and job share one id',
      tags,
      auth: 'user',
      bodyKind: 'stream',
      body: UpscaleUploadDoc,
      responses: submitted,
      handler: async ({ actor, em, request }) => {
        const out = await submitPhotoJob(deps, em, actor, request, 'upscale');
        return json(out, 202, { location: `/api/v1/jobs/${out.job_id}` });
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/photos/bestcut',
      summary: 'Upload 2-10 candidates and queue a best-cut job (multipart: files[], lat, lng); the pick becomes the processed file',
      tags,
      auth: 'user',
      bodyKind: 'stream',
      body: BestcutUploadDoc,
      responses: submitted,
      handler: async ({ actor, em, request }) => {
        const out = await submitPhotoJob(deps, em, actor, request, 'bestcut');
        return json(out, 202, { location: `/api/v1/jobs/${out.job_id}` });
      },
    }),
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
        return blobReply(request, blob, PRIVATE);
      },
    }),
    route({
      method: 'DELETE',
      path: '/api/v1/photos/:id',
      summary: 'Delete a photo record (owner or admin); its job, if still queued or running, is cancelled',
      tags,
      auth: 'user',
      params: PhotoIdParams,
      responses: { 204: null, 404: null },
      handler: async ({ actor, em, params }) => {
        await deletePhoto(em, actor, params.id);
        // The photo's job has the photo's id. Nobody is left to want its result: stop the worker. A finished
        // job (409) or one already deleted (404) needs nothing.
        await jobs.cancel(em, actor, params.id, 'photo deleted').catch((err: unknown) => {
          if (!(err instanceof AppError && (err.status === 404 || err.status === 409))) throw err;
        });
        return noContent();
      },
    }),
  ];
}
