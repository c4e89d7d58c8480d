import type { Config } from '../../platform/config.js';
import type { EntityManager } from '../../platform/db/orm.js';
import { ValidationError } from '../../platform/errors.js';
import { parseWith } from '../../platform/validation.js';
import { parseMultipart } from '../../transport/http/multipart.js';
import type { IncomingRequest } from '../../transport/http/types.js';
import type { UserActor } from '../identity/actor.js';
import type { JobsService } from '../jobs/jobs.service.js';
import type { MediaService, StoredMedia } from '../media/media.service.js';
import { BestcutFields, UpscaleFields, type PhotoJobResponse } from './photos.schemas.js';
import { createPhoto, toPhotoDto } from './photos.service.js';
import type { z } from 'zod';

export interface PhotoSubmitDeps {
  media: MediaService;
  jobs: JobsService;
  config: Config;
}

type Submission = { kind: 'upscale'; scale: 2 | 4 } | { kind: 'bestcut' };

/**
 * `POST /photos/upscale|bestcut`: files through the media service (decode-validated, deduped, stored),
 * then the job and the photo in one transaction. The job is created first and the photo takes its id,
 * so a refusal (429 at the in-flight limit, bad fields) leaves neither row behind, and every job push
 * names the photo (migration 0015, a trigger on jobs). On any refusal the uploads this request created are discarded.
 */
export async function submitPhotoJob(deps: PhotoSubmitDeps, em: EntityManager, actor: UserActor, request: IncomingRequest, kind: 'upscale' | 'bestcut'): Promise<z.output<typeof PhotoJobResponse>> {
  const { media, jobs, config } = deps;
  const { fields, files } = await parseMultipart(request, {
    limits: { ...config.uploads, maxFiles: kind === 'upscale' ? 1 : 10 },
    fileFields: kind === 'upscale' ? ['file'] : ['files', 'files[]'],
    onFile: (stream) => media.ingest(em, stream),
    onDiscard: (stored) => media.discard(em, stored),
  });
  const stored: StoredMedia[] = files.map((f) => f.result);
  try {
    let place: { lat?: number | undefined; lng?: number | undefined };
    let submission: Submission;
    if (kind === 'upscale') {
      const input = parseWith(UpscaleFields, fields, 'body');
      if (stored.length !== 1) throw new ValidationError('An image file is required', [{ path: 'body.file', message: 'required' }]);
      place = input;
      submission = { kind, scale: input.scale };
    } else {
      place = parseWith(BestcutFields, fields, 'body');
      if (stored.length < 2) throw new ValidationError('Best cut needs 2 to 10 images', [{ path: 'body.files', message: `got ${stored.length}, need at least 2` }]);
      submission = { kind };
    }
    const first = stored[0]!;
    const { job, photo } = await em.transactional(async (tx) => {
      const job =
        submission.kind === 'upscale'
          ? await jobs.create(tx, actor.userId, 'upscale', { sha256: first.sha256, scale: submission.scale })
          : await jobs.create(tx, actor.userId, 'bestcut', { sha256s: stored.map((s) => s.sha256) });
      // Best cut: the record's original is the first candidate; the pick becomes its processed file.
      const photo = await createPhoto(tx, { id: job.id, ownerId: actor.userId, originalSha256: first.sha256, kind, lat: place.lat ?? null, lng: place.lng ?? null });
      return { job, photo };
    });
    return { photo_id: photo.id, job_id: job.id, photo: toPhotoDto(photo, media), job };
  } catch (err) {
    // Fields may arrive after the files; a refused request must not leave its new uploads behind.
    for (const s of stored) await media.discard(em.fork(), s).catch(() => {});
    throw err;
  }
}
