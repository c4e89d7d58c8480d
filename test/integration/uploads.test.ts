import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeBombPng, makeJpeg, makePng, makeTextFile, makeTruncatedJpeg, PRIVATE_EXIF_MARKERS } from '../../src/modules/media/test-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { api, registerAndLogin } from '../helpers/clients.js';
import { eventually, listFiles, multipart, padPng, upload } from '../helpers/multipart.js';

const LIMIT = 200_000;

describe.each(['uws', 'node'] as const)('uploads on %s', (engine) => {
  let db: TestDatabase;
  let hub: TestHub;
  let root: string;
  let mediaDir: string;
  let tmpDir: string;
  let token: string;
  let sql: pg.Client;

  const mediaRows = async (): Promise<number> => Number((await sql.query('select count(*)::int as n from media')).rows[0].n);
  const post = (parts: Parameters<typeof upload>[3]) => upload(hub.url, '/api/v1/media', token, parts);
  const file = (data: Buffer, filename = 'image.png', type = 'image/png') => [{ name: 'file', filename, type, data }];

  beforeAll(async () => {
    db = await createTestDatabase();
    root = await mkdtemp(join(tmpdir(), 'easel-uploads-'));
    mediaDir = join(root, 'data', 'media');
    tmpDir = join(mediaDir, 'tmp');
    hub = await startTestHub({ dbUrl: db.url, engine, overrides: { media: { dir: mediaDir }, uploads: { maxFileBytes: LIMIT, maxFields: 20 } } });
    token = (await registerAndLogin(hub.url, `up_${engine}`)).token;
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await hub?.stop();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });
  afterEach(async () => {
    await eventually(async () => expect(await listFiles(tmpDir)).toEqual([]));
    expect((await api(hub.url, 'GET', '/health')).status).toBe(200);
  });

  it('stores a JPEG once with thumb and webp variants stripped of EXIF/GPS', async () => {
    const jpeg = await makeJpeg(400, 300, { withPrivateExif: true, orientation: 6 });
    const res = await post(file(jpeg, 'photo.jpg', 'image/jpeg'));
    expect(res.status).toBe(201);
    // Orientation 6 is applied to the public original, so the reported size is as shown (portrait).
    expect(res.body).toMatchObject({ format: 'jpeg', width: 300, height: 400, size: jpeg.length, created: true });
    expect(res.body.urls.thumb).toBe(`/api/v1/media/${res.body.sha256}?variant=thumb`);
    const thumb = Buffer.from(await (await fetch(hub.url + res.body.urls.thumb)).arrayBuffer());
    const meta = await sharp(thumb).metadata();
    expect(meta.format).toBe('webp');
    // Orientation 6 rotates 90°: the served variant is portrait.
    expect(meta.width).toBeLessThan(meta.height!);
    for (const marker of PRIVATE_EXIF_MARKERS) expect(thumb.includes(marker)).toBe(false);
    expect(meta.exif).toBeUndefined();
    const original = Buffer.from(await (await fetch(hub.url + res.body.urls.original)).arrayBuffer());
    for (const marker of PRIVATE_EXIF_MARKERS) expect(original.includes(marker)).toBe(false);
    expect((await sharp(original).metadata()).exif).toBeUndefined();
  });

  it('rejects a text file renamed .jpg with 415', async () => {
    const before = await mediaRows();
    const res = await post(file(makeTextFile(), 'cat.jpg', 'image/jpeg'));
    expect(res.status).toBe(415);
    expect(res.body).toMatchObject({ status: 415, code: 'not_an_image' });
    expect(await mediaRows()).toBe(before);
  });

  it('accepts a PNG declared as image/jpeg as png', async () => {
    const res = await post(file(await makePng(64, 48), 'lies.jpg', 'image/jpeg'));
    expect(res.status).toBe(201);
    expect(res.body.format).toBe('png');
    const original = await fetch(hub.url + res.body.urls.original);
    expect(original.headers.get('content-type')).toBe('image/png');
  });

  it('rejects a truncated JPEG with 415', async () => {
    const res = await post(file(await makeTruncatedJpeg(), 'cut.jpg', 'image/jpeg'));
    expect(res.status).toBe(415);
    expect(res.body.code).toBe('corrupt_image');
  });

  it('rejects a zero-byte file with a 4xx', async () => {
    const res = await post(file(Buffer.alloc(0), 'empty.png'));
    expect(res.status).toBe(415);
    expect(res.body.code).toBe('not_an_image');
  });

  it('accepts a file exactly at the limit and refuses one byte more with 413', async () => {
    const base = await makePng(96, 96);
    const atLimit = padPng(base, LIMIT);
    expect(atLimit.length).toBe(LIMIT);
    const ok = await post(file(atLimit));
    expect(ok.status).toBe(201);
    expect(ok.body.size).toBe(LIMIT);
    const before = await mediaRows();
    const over = await post(file(padPng(base, LIMIT + 1)));
    expect(over.status).toBe(413);
    expect(over.body.code).toBe('file_too_large');
    expect(await mediaRows()).toBe(before);
  });

  it('refuses a 20000x20000 PNG bomb with 413 before decoding it', async () => {
    const bomb = makeBombPng(20_000, 20_000);
    expect(bomb.length).toBeLessThan(10_000);
    const started = Date.now();
    const res = await post(file(bomb, 'bomb.png'));
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('image_too_many_pixels');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a multipart body with 1,000 fields with 413', async () => {
    const fields = Array.from({ length: 1000 }, (_, i) => ({ name: `f${i}`, value: 'x' }));
    const res = await post([...fields, ...file(await makePng(16, 16))]);
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('too_many_fields');
  });

  it('refuses a second file and unknown fields, keeping nothing', async () => {
    const before = await mediaRows();
    const two = await post([...file(await makePng(20, 20)), ...file(await makePng(21, 21))]);
    expect(two.status).toBe(413);
    expect(two.body.code).toBe('too_many_files');
    const extra = await post([...file(await makePng(22, 22)), { name: 'surprise', value: '1' }]);
    expect(extra.status).toBe(422);
    const none = await post([{ name: 'note', value: 'no file' }]);
    expect(none.status).toBe(422);
    expect(await mediaRows()).toBe(before);
  });

  it('stores a ../../etc/passwd upload by hash only, nothing outside the media dir', async () => {
    const png = await makePng(33, 33);
    const res = await post(file(png, '../../etc/passwd', 'image/png'));
    expect(res.status).toBe(201);
    const files = await listFiles(mediaDir);
    expect(files.some((f) => f.includes('passwd') || f.includes('..'))).toBe(false);
    expect(files).toContain(`originals/${res.body.sha256.slice(0, 2)}/${res.body.sha256.slice(2, 4)}/${res.body.sha256}`);
    expect(existsSync(join(mediaDir, '..', '..', 'etc', 'passwd'))).toBe(false);
    expect(existsSync(join(mediaDir, 'tmp', '..', '..', 'etc'))).toBe(false);
  });

  it('leaves nothing behind when the client aborts halfway, and keeps serving', async () => {
    const before = await mediaRows();
    const { body, contentType } = multipart(file(await makePng(200, 200)));
    const half = body.subarray(0, Math.floor(body.length / 2));
    await new Promise<void>((resolve, reject) => {
      const socket = connect(hub.app.port, '127.0.0.1', () => {
        socket.write(
          `POST /api/v1/media HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`,
        );
        socket.write(half, () => {
          // Give the server time to open the temp file and write into it before the abort.
          setTimeout(() => {
            void listFiles(tmpDir).then((partial) => {
              // The abort must hit a half-written temp file, or the test proves nothing.
              expect(partial).toHaveLength(1);
              socket.destroy();
              resolve();
            }, reject);
          }, 150);
        });
      });
      socket.on('error', reject);
    });
    await eventually(async () => expect(await listFiles(tmpDir)).toEqual([]));
    expect(await mediaRows()).toBe(before);
    const after = await post(file(await makePng(41, 41)));
    expect(after.status).toBe(201);
  });

  it('stores the same content once: one file on disk, created:false the second time', async () => {
    const png = await makePng(50, 50);
    const first = await post(file(png, 'a.png'));
    const second = await post(file(png, 'b.png', 'image/jpeg'));
    expect(first.status).toBe(201);
    expect(first.body.created).toBe(true);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ sha256: first.body.sha256, created: false });
    const originals = (await listFiles(mediaDir)).filter((f) => f.endsWith(first.body.sha256));
    expect(originals).toHaveLength(1);
    const rows = await sql.query('select count(*)::int as n from media where sha256 = $1', [first.body.sha256]);
    expect(rows.rows[0].n).toBe(1);
  });

  it('requires a user token and a multipart body', async () => {
    const anon = await upload(hub.url, '/api/v1/media', undefined, file(await makePng(8, 8)));
    expect(anon.status).toBe(401);
    const jsonBody = await api(hub.url, 'POST', '/api/v1/media', { token, json: { file: 'x' } });
    expect(jsonBody.status).toBe(415);
    const garbled = await api(hub.url, 'POST', '/api/v1/media', { token, headers: { 'content-type': 'multipart/form-data; boundary=zzz' }, body: 'not a multipart body at all' });
    expect(garbled.status).toBe(400);
    expect(garbled.body.code).toBe('malformed_multipart');
  });
});
