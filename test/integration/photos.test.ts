import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeJpeg, makePng, PRIVATE_EXIF_MARKERS } from '../../src/modules/media/test-fixtures.js';
import { createPhoto, updatePhotoStatus } from '../../src/modules/photos/photos.service.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { api, registerAndLogin } from '../helpers/clients.js';
import { upload } from '../helpers/multipart.js';

describe('photos', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let root: string;
  let alice: { token: string; userId: number };
  let bob: { token: string; userId: number };
  let admin: string;
  let originalSha: string;
  let originalBytes: Buffer;
  let processedSha: string;

  const em = () => hub.orm.em.fork();
  const store = async (token: string, data: Buffer): Promise<string> => {
    const res = await upload(hub.url, '/api/v1/media', token, [{ name: 'file', filename: 'p.jpg', type: 'image/jpeg', data }]);
    expect(res.status).toBeLessThan(300);
    return res.body.sha256;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    root = await mkdtemp(join(tmpdir(), 'easel-photos-'));
    hub = await startTestHub({
      dbUrl: db.url,
      overrides: { media: { dir: join(root, 'media') }, auth: { admin: { username: 'photo_admin', password: 'admin-password-1' } } },
    });
    alice = await registerAndLogin(hub.url, 'alice_photos');
    bob = await registerAndLogin(hub.url, 'bob_photos');
    admin = (await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'photo_admin', password: 'admin-password-1' } })).body.access_token;
    originalBytes = await makeJpeg(120, 80);
    originalSha = await store(alice.token, originalBytes);
    processedSha = await store(alice.token, await makePng(240, 160));
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('createPhoto makes a queued record and validates its input', async () => {
    const photo = await createPhoto(em(), { ownerId: alice.userId, originalSha256: originalSha, kind: 'upscale', lat: 37.5665, lng: 126.978 });
    expect(photo).toMatchObject({ status: 'queued', kind: 'upscale', lat: 37.5665, lng: 126.978, processedSha256: null });
    await expect(createPhoto(em(), { ownerId: alice.userId, originalSha256: originalSha, kind: 'upscale', lat: 91, lng: 0 })).rejects.toMatchObject({ status: 422 });
    await expect(createPhoto(em(), { ownerId: alice.userId, originalSha256: originalSha, kind: 'upscale', lat: 0, lng: -180.5 })).rejects.toMatchObject({ status: 422 });
    await expect(createPhoto(em(), { ownerId: alice.userId, originalSha256: originalSha, kind: 'sharpen' as never })).rejects.toMatchObject({ status: 422 });
    await expect(createPhoto(em(), { ownerId: alice.userId, originalSha256: 'ab'.repeat(32), kind: 'bestcut' })).rejects.toMatchObject({ status: 404, code: 'media_not_found' });
    const noPlace = await createPhoto(em(), { ownerId: alice.userId, originalSha256: originalSha, kind: 'bestcut' });
    expect(noPlace.lat).toBeNull();
  });

  it("lists only the caller's photos, newest first, with cursor pagination", async () => {
    for (let i = 0; i < 5; i++) await createPhoto(em(), { ownerId: alice.userId, originalSha256: originalSha, kind: 'upscale', lat: i, lng: i });
    await createPhoto(em(), { ownerId: bob.userId, originalSha256: originalSha, kind: 'upscale' });
    const all = await api(hub.url, 'GET', '/api/v1/photos?limit=100', { token: alice.token });
    expect(all.status).toBe(200);
    expect(all.body.next_cursor).toBeNull();
    const total = all.body.items.length;
    expect(total).toBe(7);
    expect(all.body.items.every((p: { owner_id: number }) => p.owner_id === alice.userId)).toBe(true);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: { id: string }[]; next_cursor: string | null } } = await api(hub.url, 'GET', `/api/v1/photos?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token: alice.token });
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.items.map((p) => p.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all.body.items.map((p: { id: string }) => p.id));
    const first = all.body.items[0];
    expect(first).toMatchObject({ status: 'queued', urls: { processed: null, thumb: `/api/v1/media/${originalSha}?variant=thumb` } });
    expect(typeof first.latitude).toBe('number');
  });

  it('rejects a forged or garbled cursor with 400 invalid_cursor', async () => {
    const forged = [
      'not-base64-json',
      Buffer.from('{"t":"yesterday","id":"x"}').toString('base64url'),
      Buffer.from(JSON.stringify({ t: new Date().toISOString(), id: crypto.randomUUID(), admin: true })).toString('base64url'),
      Buffer.from('[1,2,3]').toString('base64url'),
    ];
    for (const cursor of forged) {
      const res = await api(hub.url, 'GET', `/api/v1/photos?cursor=${encodeURIComponent(cursor)}`, { token: alice.token });
      expect(res.status, cursor).toBe(400);
      expect(res.body.code).toBe('invalid_cursor');
    }
    expect((await api(hub.url, 'GET', '/api/v1/photos?limit=0', { token: alice.token })).status).toBe(422);
    expect((await api(hub.url, 'GET', '/api/v1/photos?limit=1000', { token: alice.token })).status).toBe(422);
    expect((await api(hub.url, 'GET', '/api/v1/photos')).status).toBe(401);
  });

  it('serves the original, and the processed file only once completed', async () => {
    const photo = await createPhoto(em(), { ownerId: alice.userId, originalSha256: originalSha, kind: 'upscale' });
    const base = `${hub.url}/api/v1/photos/${photo.id}/file`;
    const auth = { authorization: `Bearer ${alice.token}` };
    const orig = await fetch(`${base}?type=original`, { headers: auth });
    expect(orig.status).toBe(200);
    expect(orig.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await orig.arrayBuffer()).equals(originalBytes)).toBe(true);
    const notYet = await api(hub.url, 'GET', `/api/v1/photos/${photo.id}/file?type=processed`, { token: alice.token });
    expect(notYet.status).toBe(409);
    expect(notYet.body.code).toBe('photo_not_ready');
    await updatePhotoStatus(em(), photo.id, { status: 'processing' });
    await updatePhotoStatus(em(), photo.id, { status: 'completed', processedSha256: processedSha });
    const done = await fetch(base, { headers: auth });
    expect(done.status).toBe(200);
    expect(done.headers.get('content-type')).toBe('image/png');
    expect(done.headers.get('cache-control')).toBe('private, no-cache');
    const ranged = await fetch(base, { headers: { ...auth, range: 'bytes=0-7' } });
    expect(ranged.status).toBe(206);
    const list = await api(hub.url, 'GET', '/api/v1/photos?limit=1', { token: alice.token });
    expect(list.body.items[0]).toMatchObject({ id: photo.id, status: 'completed', processed_sha256: processedSha, urls: { processed: `/api/v1/photos/${photo.id}/file?type=processed` } });
    await expect(updatePhotoStatus(em(), photo.id, { status: 'completed' } as never)).rejects.toMatchObject({ status: 422 });
    const failed = await updatePhotoStatus(em(), photo.id, { status: 'failed', error: 'model crashed' });
    expect(failed.error).toBe('model crashed');
  });

  it("serves the owner's photo file without EXIF/GPS (the record keeps lat/lng), with nosniff", async () => {
    const gps = await makeJpeg(90, 60, { withPrivateExif: true, orientation: 6 });
    const photo = await createPhoto(em(), { ownerId: alice.userId, originalSha256: await store(alice.token, gps), kind: 'upscale', lat: 51.5, lng: -0.12 });
    const res = await fetch(`${hub.url}/api/v1/photos/${photo.id}/file?type=original`, { headers: { authorization: `Bearer ${alice.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(PRIVATE_EXIF_MARKERS.some((m) => bytes.includes(m))).toBe(false);
    const meta = await sharp(bytes).metadata();
    expect(meta.exif).toBeUndefined();
    expect([meta.width, meta.height]).toEqual([60, 90]);
    const revalidate = await fetch(`${hub.url}/api/v1/photos/${photo.id}/file?type=original`, { headers: { authorization: `Bearer ${alice.token}`, 'if-none-match': res.headers.get('etag')! } });
    expect(revalidate.status).toBe(304);
    expect(revalidate.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('lets only the owner or an admin read or delete a photo', async () => {
    const photo = await createPhoto(em(), { ownerId: alice.userId, originalSha256: originalSha, kind: 'bestcut' });
    const path = `/api/v1/photos/${photo.id}`;
    expect((await api(hub.url, 'GET', `${path}/file?type=original`, { token: bob.token })).status).toBe(404);
    expect((await api(hub.url, 'DELETE', path, { token: bob.token })).status).toBe(404);
    expect((await api(hub.url, 'GET', `${path}/file?type=original`, { token: admin })).status).toBe(200);
    expect((await api(hub.url, 'DELETE', path, { token: alice.token })).status).toBe(204);
    expect((await api(hub.url, 'DELETE', path, { token: alice.token })).status).toBe(404);
    expect((await api(hub.url, 'GET', `${path}/file?type=original`, { token: alice.token })).status).toBe(404);
    const other = await createPhoto(em(), { ownerId: alice.userId, originalSha256: originalSha, kind: 'bestcut' });
    expect((await api(hub.url, 'DELETE', `/api/v1/photos/${other.id}`, { token: admin })).status).toBe(204);
    expect((await api(hub.url, 'DELETE', '/api/v1/photos/not-a-uuid', { token: alice.token })).status).toBe(422);
    // The shared blob outlives the record.
    expect((await fetch(`${hub.url}/api/v1/media/${originalSha}`)).status).toBe(200);
  });
});
