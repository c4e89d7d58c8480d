import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeJpeg, PRIVATE_EXIF_MARKERS } from '../../src/modules/media/test-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { registerAndLogin } from '../helpers/clients.js';
import { upload } from '../helpers/multipart.js';

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** HEAD over a raw socket: the header block as sent, whatever else the engine puts in it. */
function rawHead(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(`HEAD ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    socket.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        socket.destroy();
        resolve(got.slice(0, got.indexOf('\r\n\r\n')));
      }
    });
    socket.on('error', reject);
  });
}

const hasPrivateMarkers = (bytes: Buffer) => PRIVATE_EXIF_MARKERS.some((m) => bytes.includes(m));
const GPS_LATITUDE = Buffer.from('GPS');

// A phone photo: GPS position, camera make, owner, and orientation 6 (stored sideways, shown portrait).
describe.each(['uws', 'node'] as const)('public originals carry no location or camera metadata (%s)', (engine) => {
  let db: TestDatabase;
  let hub: TestHub;
  let root: string;
  let token: string;
  let photo: Buffer;
  let sha: string;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    root = await mkdtemp(join(tmpdir(), 'easel-privacy-'));
    hub = await startTestHub({ dbUrl: db.url, engine, overrides: { media: { dir: join(root, 'media') } } });
    token = (await registerAndLogin(hub.url, `privacy_${engine}`)).token;
    photo = await makeJpeg(400, 300, { withPrivateExif: true, orientation: 6 });
    expect(hasPrivateMarkers(photo)).toBe(true);
    expect((await sharp(photo).metadata()).exif).toBeDefined();
    const res = await upload(hub.url, '/api/v1/media', token, [{ name: 'file', filename: 'IMG_0001.jpg', type: 'image/jpeg', data: photo }]);
    expect(res.status).toBe(201);
    // The id is the hash of the bytes uploaded; the size is theirs; the dimensions are as shown.
    expect(res.body).toMatchObject({ format: 'jpeg', width: 300, height: 400, size: photo.length, created: true });
    sha = res.body.sha256;
    url = `${hub.url}/api/v1/media/${sha}`;
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('serves the original without EXIF/GPS, upright, by default and with ?variant=original', async () => {
    for (const u of [url, `${url}?variant=original`]) {
      const res = await get(u);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/jpeg');
      const meta = await sharp(res.bytes).metadata();
      expect(meta.exif).toBeUndefined();
      expect(meta.xmp).toBeUndefined();
      expect(meta.orientation).toBeUndefined();
      expect([meta.width, meta.height]).toEqual([300, 400]);
      expect(hasPrivateMarkers(res.bytes)).toBe(false);
      expect(res.bytes.includes(GPS_LATITUDE)).toBe(false);
    }
  });

  it('does not keep the untouched upload on disk either', async () => {
    const stored = await readFile(join(root, 'media', 'originals', sha.slice(0, 2), sha.slice(2, 4), sha));
    expect(hasPrivateMarkers(stored)).toBe(false);
    expect((await sharp(stored).metadata()).exif).toBeUndefined();
  });

  it('keeps ETag, 304 and Range working on the stripped original', async () => {
    const whole = await get(url);
    const etag = whole.headers.get('etag')!;
    expect(etag).toBe(`"${sha}-original-stripped"`);
    expect(whole.headers.get('content-length')).toBe(String(whole.bytes.length));
    expect((await get(url, { 'if-none-match': etag })).status).toBe(304);
    const part = await get(url, { range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${whole.bytes.length}`);
    expect(part.bytes.equals(whole.bytes.subarray(100, 200))).toBe(true);
    expect((await get(url, { range: 'bytes=0-9', 'if-range': etag })).status).toBe(206);
  });

  it('dedupes a re-upload of the same bytes by their hash', async () => {
    const again = await upload(hub.url, '/api/v1/media', token, [{ name: 'file', filename: 'copy.jpg', type: 'image/jpeg', data: photo }]);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ sha256: sha, created: false, width: 300, height: 400 });
    const rows = await hub.orm.em.fork().execute<{ n: number }[]>('select count(*)::int as n from media where sha256 = ?', [sha]);
    expect(rows[0]!.n).toBe(1);
  });

  it('serves an upright JPEG with GPS losslessly: same pixels, metadata gone', async () => {
    const upright = await makeJpeg(200, 150, { withPrivateExif: true });
    const res = await upload(hub.url, '/api/v1/media', token, [{ name: 'file', filename: 'up.jpg', type: 'image/jpeg', data: upright }]);
    expect(res.status).toBe(201);
    const served = await get(`${hub.url}${res.body.urls.original}`);
    expect((await sharp(served.bytes).metadata()).exif).toBeUndefined();
    expect(hasPrivateMarkers(served.bytes)).toBe(false);
    const raw = (img: Buffer) => sharp(img).raw().toBuffer();
    expect((await raw(served.bytes)).equals(await raw(upright))).toBe(true);
  });

  it('sends X-Content-Type-Options: nosniff on 200, 206, 304, HEAD and 416', async () => {
    const etag = (await get(url)).headers.get('etag')!;
    const answers = [
      await get(url),
      await get(`${url}?variant=thumb`),
      await get(url, { range: 'bytes=0-9' }),
      await get(url, { 'if-none-match': etag }),
      await get(url, { range: 'bytes=99999999-' }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 206, 304, 416]);
    for (const a of answers) expect(a.headers.get('x-content-type-options')).toBe('nosniff');
    const h = await rawHead(hub.app.port, `/api/v1/media/${sha}`);
    expect(h).toMatch(/^HTTP\/1\.1 200/);
    expect(h.toLowerCase()).toContain('\r\nx-content-type-options: nosniff');
  });

  it('strips an original stored before stripping existed, once, before serving any of it', async () => {
    // What an older hub left behind: the raw upload on disk and a row in the migration's 'pending' state.
    const legacy = await makeJpeg(160, 120, { withPrivateExif: true, orientation: 8 });
    const { createHash } = await import('node:crypto');
    const legacySha = createHash('sha256').update(legacy).digest('hex');
    const path = join(root, 'media', 'originals', legacySha.slice(0, 2), legacySha.slice(2, 4), legacySha);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, legacy);
    await hub.orm.em.fork().execute(
      `insert into media (sha256, format, width, height, size, original_state) values (?, 'jpeg', 160, 120, ?, 'pending')`,
      [legacySha, legacy.length],
    );
    const [first, second] = await Promise.all([get(`${hub.url}/api/v1/media/${legacySha}`), get(`${hub.url}/api/v1/media/${legacySha}?variant=original`)]);
    for (const res of [first, second]) {
      expect(res.status).toBe(200);
      expect(hasPrivateMarkers(res.bytes)).toBe(false);
      const meta = await sharp(res.bytes).metadata();
      expect(meta.exif).toBeUndefined();
      expect([meta.width, meta.height]).toEqual([120, 160]);
      expect(res.headers.get('etag')).toBe(`"${legacySha}-original-stripped"`);
    }
    expect(hasPrivateMarkers(await readFile(path))).toBe(false);
    const [row] = await hub.orm.em.fork().execute<{ original_state: string; width: number; height: number }[]>('select original_state, width, height from media where sha256 = ?', [legacySha]);
    expect(row).toEqual({ original_state: 'stripped', width: 120, height: 160 });
  });
});
