import { randomUUID } from 'node:crypto';
import type { EntityManager } from '../../platform/db/orm.js';
import { ConflictError, NotFoundError } from '../../platform/errors.js';
import { parseWith } from '../../platform/validation.js';
import type { UserActor } from '../identity/actor.js';
import { Media } from '../media/media.entity.js';
import type { MediaService } from '../media/media.service.js';
import { Photo, type PhotoEntity } from './photos.entity.js';
import { cursorCodec } from '../../platform/cursor.js';
import { CreatePhotoInput, PhotoCursor, PhotoStatusUpdate, type PhotoDto } from './photos.schemas.js';

/**
 * Creates a queued photo record for content already ingested by the media service. The jobs issue
 * calls this from `POST /photos/upscale` and `/photos/bestcut`.
 *
 * @example
 * const stored = await media.ingest(em, fileStream);
 * const photo = await createPhoto(em, { ownerId: actor.userId, originalSha256: stored.sha256, kind: 'upscale', lat: 37.56, lng: 126.97 });
 */
export async function createPhoto(em: EntityManager, input: CreatePhotoInput): Promise<PhotoEntity> {
  const data = parseWith(CreatePhotoInput, input, 'photo');
  if (!(await em.findOne(Media, { sha256: data.originalSha256 }))) throw new NotFoundError('No media with this hash', 'media_not_found');
  const photo = em.create(Photo, { ...data, id: data.id ?? randomUUID(), status: 'queued', processedSha256: null, error: null });
  await em.flush();
  return photo;
}

/** Moves a photo through queued → processing → completed | failed (called by the jobs issue). */
export async function updatePhotoStatus(em: EntityManager, id: string, update: PhotoStatusUpdate): Promise<PhotoEntity> {
  const next = parseWith(PhotoStatusUpdate, update, 'update');
  const photo = await em.findOne(Photo, { id });
  if (!photo) throw new NotFoundError('No such photo', 'photo_not_found');
  if (next.status === 'completed' && !(await em.findOne(Media, { sha256: next.processedSha256 }))) {
    throw new NotFoundError('No media with this hash', 'media_not_found');
  }
  photo.status = next.status;
  photo.processedSha256 = next.status === 'completed' ? next.processedSha256 : photo.processedSha256;
  photo.error = next.status === 'failed' ? next.error : null;
  await em.flush();
  return photo;
}

/** Owner or admin; anyone else gets the same 404 as for a missing photo, so ids do not leak. */
export async function getPhoto(em: EntityManager, actor: UserActor, id: string): Promise<PhotoEntity> {
  const photo = await em.findOne(Photo, { id });
  if (!photo || (photo.ownerId !== actor.userId && actor.role !== 'admin')) throw new NotFoundError('No such photo', 'photo_not_found');
  return photo;
}

export async function listPhotos(em: EntityManager, actor: UserActor, page: { limit: number; cursor?: string | undefined }): Promise<{ items: PhotoEntity[]; next_cursor: string | null }> {
  const after = page.cursor === undefined ? null : decodeCursor(page.cursor);
  const position = after ? { $or: [{ createdAt: { $lt: new Date(after.t) } }, { createdAt: new Date(after.t), id: { $lt: after.id } }] } : {};
  const rows = await em.find(Photo, { ownerId: actor.userId, ...position }, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: page.limit + 1 });
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return { items, next_cursor: rows.length > page.limit && last ? encodeCursor(last) : null };
}

/** The content hash behind a photo's file; the processed file exists only once the job completed. */
export async function photoFile(em: EntityManager, actor: UserActor, id: string, type: 'original' | 'processed'): Promise<string> {
  const photo = await getPhoto(em, actor, id);
  if (type === 'original') return photo.originalSha256;
  if (photo.status !== 'completed' || !photo.processedSha256) {
    throw new ConflictError(`The processed file is not ready (status: ${photo.status})`, 'photo_not_ready');
  }
  return photo.processedSha256;
}

/**
 * Removes the record. The blobs stay: storage is content-addressed and the same bytes may back
 * other photos or image posts.
 */
export async function deletePhoto(em: EntityManager, actor: UserActor, id: string): Promise<void> {
  const photo = await getPhoto(em, actor, id);
  em.remove(photo);
  await em.flush();
}

export function toPhotoDto(photo: PhotoEntity, media: MediaService): PhotoDto {
  const file = `/api/v1/photos/${photo.id}/file?type=`;
  return {
    id: photo.id,
    owner_id: photo.ownerId,
    kind: photo.kind,
    status: photo.status,
    original_sha256: photo.originalSha256,
    processed_sha256: photo.processedSha256 ?? null,
    latitude: photo.lat ?? null,
    longitude: photo.lng ?? null,
    error: photo.error ?? null,
    urls: { original: `${file}original`, processed: photo.status === 'completed' ? `${file}processed` : null, thumb: media.urlFor(photo.originalSha256, 'thumb') },
    created_at: photo.createdAt.toISOString(),
    updated_at: photo.updatedAt.toISOString(),
  };
}

// Opaque to clients; validated on the way back in, so a forged or garbled cursor is a clean 400.
const cursors = cursorCodec(PhotoCursor);

function encodeCursor(photo: PhotoEntity): string {
  return cursors.encode({ t: photo.createdAt.toISOString(), id: photo.id });
}

function decodeCursor(raw: string): { t: string; id: string } {
  return cursors.decode(raw);
}
