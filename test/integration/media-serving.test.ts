import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeJpeg, makePng } from '../../src/modules/media/test-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { api, registerAndLogin } from '../helpers/clients.js';
import { upload } from '../helpers/multipart.js';

async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
  const res = await fetch(url, { method, headers });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** HEAD via node:http so the raw content-length the server sent is visible. */
function head(url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; bodyBytes: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'HEAD' }, (res) => {
      let bodyBytes = 0;
      res.on('data', (c: Buffer) => (bodyBytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bodyBytes }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.each(['uws', 'node'] as const)('media serving on %s', (engine) => {
  let db: TestDatabase;
  let hub: TestHub;
  let root: string;
  let original: Buffer;
  let sha: string;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    root = await mkdtemp(join(tmpdir(), 'easel-serve-'));
    hub = await startTestHub({ dbUrl: db.url, engine, overrides: { media: { dir: join(root, 'media') } } });
    const { token } = await registerAndLogin(hub.url, `serve_${engine}`);
    original = await makeJpeg(900, 700);
    const res = await upload(hub.url, '/api/v1/media', token, [{ name: 'file', filename: 'x.jpg', type: 'image/jpeg', data: original }]);
    expect(res.status).toBe(201);
    sha = res.body.sha256;
    url = `${hub.url}/api/v1/media/${sha}`;
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('makes variants off the upload path and remakes lost ones on demand', async () => {
    const { token } = await registerAndLogin(hub.url, `variants_${engine}`);
    const fresh = await makeJpeg(640, 480);
    const res = await upload(hub.url, '/api/v1/media', token, [{ name: 'file', filename: 'v.jpg', type: 'image/jpeg', data: fresh }]);
    expect(res.status).toBe(201);
    // Asked for straight away: the request waits for the background job instead of 404ing.
    const thumb = await get(`${hub.url}${res.body.urls.thumb}`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    await hub.app.media.idle();
    const variantsDir = join(root, 'media', 'variants');
    await rm(join(variantsDir, `${res.body.sha256}.webp`));
    await rm(join(variantsDir, `${res.body.sha256}.thumb.webp`));
    const webp = await get(`${hub.url}${res.body.urls.webp}`);
    expect(webp.status).toBe(200);
    expect(webp.bytes.subarray(8, 12).toString('latin1')).toBe('WEBP');
    expect((await get(`${hub.url}${res.body.urls.thumb}`)).status).toBe(200);
  });

  it('streams large blobs from disk and serves small ones from memory, ranges on both', async () => {
    const { token } = await registerAndLogin(hub.url, `sizes_${engine}`);
    // Noise, so it stays above the in-memory limit (256 KiB) without metadata padding, which would be stripped.
    const big = await makePng(400, 400);
    expect(big.length).toBeGreaterThan(300_000);
    const res = await upload(hub.url, '/api/v1/media', token, [{ name: 'file', filename: 'big.png', type: 'image/png', data: big }]);
    expect(res.status).toBe(201);
    const bigUrl = `${hub.url}/api/v1/media/${res.body.sha256}`;
    const whole = await get(bigUrl);
    expect(whole.bytes.equals(big)).toBe(true);
    const part = await get(bigUrl, { range: 'bytes=290000-290099' });
    expect(part.status).toBe(206);
    expect(part.bytes.equals(big.subarray(290000, 290100))).toBe(true);
    // The small thumbnail is kept in memory after the first request: it survives losing its file.
    const thumbUrl = `${hub.url}${res.body.urls.thumb}`;
    const first = await get(thumbUrl);
    await hub.app.media.idle();
    await rm(join(root, 'media', 'variants', `${res.body.sha256}.thumb.webp`));
    const again = await get(thumbUrl, { range: 'bytes=0-9' });
    expect(again.status).toBe(206);
    expect(again.bytes.equals(first.bytes.subarray(0, 10))).toBe(true);
  });

  it('serves the original with type, length, strong ETag and immutable caching', async () => {
    const res = await get(url);
    expect(res.status).toBe(200);
    expect(res.bytes.equals(original)).toBe(true);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('content-length')).toBe(String(original.length));
    expect(res.headers.get('etag')).toBe(`"${sha}-original"`);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
  });

  it('serves thumb and webp variants as WebP with their own ETags', async () => {
    const thumb = await get(`${url}?variant=thumb`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    expect(thumb.headers.get('etag')).toBe(`"${sha}-thumb"`);
    expect(thumb.bytes.subarray(8, 12).toString('ascii')).toBe('WEBP');
    const webp = await get(`${url}?variant=webp`);
    expect(webp.headers.get('etag')).toBe(`"${sha}-webp"`);
    expect(webp.bytes.length).toBeGreaterThan(thumb.bytes.length);
  });

  it('answers 304 to a matching If-None-Match (also weak and in a list), 200 otherwise', async () => {
    const etag = `"${sha}-original"`;
    for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const res = await get(url, { 'if-none-match': inm });
      expect(res.status).toBe(304);
      expect(res.bytes.length).toBe(0);
      expect(res.headers.get('etag')).toBe(etag);
    }
    expect((await get(url, { 'if-none-match': `"${sha}-thumb"` })).status).toBe(200);
  });

  it('serves single byte ranges with 206 and content-range', async () => {
    const size = original.length;
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=100-', 100, size - 1],
      ['bytes=-50', size - 50, size - 1],
      [`bytes=10-${size + 1000}`, 10, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(url, { range });
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${size}`);
      expect(res.headers.get('content-length')).toBe(String(end - start + 1));
      expect(res.bytes.equals(original.subarray(start, end + 1))).toBe(true);
    }
  });

  it('answers 416 to an unsatisfiable range and ignores ranges it may ignore', async () => {
    const size = original.length;
    for (const range of [`bytes=${size}-`, `bytes=${size + 5}-${size + 10}`, 'bytes=-0']) {
      const res = await get(url, { range });
      expect(res.status, range).toBe(416);
      expect(res.headers.get('content-range')).toBe(`bytes */${size}`);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
    for (const range of ['bytes=0-1,5-9', 'items=0-5', 'bytes=9-3']) {
      const res = await get(url, { range });
      expect(res.status, range).toBe(200);
      expect(res.bytes.length).toBe(size);
    }
    // If-Range with another validator: the range is dropped, the whole file comes back.
    expect((await get(url, { range: 'bytes=0-9', 'if-range': '"other"' })).status).toBe(200);
    expect((await get(url, { range: 'bytes=0-9', 'if-range': `"${sha}-original"` })).status).toBe(206);
  });

  it('answers HEAD with the headers and length but no body', async () => {
    const res = await head(url);
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(original.length));
    expect(res.headers.etag).toBe(`"${sha}-original"`);
    expect(res.bodyBytes).toBe(0);
  });

  it('survives clients that disconnect before the response (no unhandled abort error)', async () => {
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve, reject) => {
        const socket = connect(hub.app.port, '127.0.0.1', () => {
          socket.write(`GET /api/v1/media/${sha}?variant=webp HTTP/1.1\r\nHost: x\r\n\r\n`, () => {
            socket.destroy();
            resolve();
          });
        });
        socket.on('error', reject);
      });
    }
    await new Promise((r) => setTimeout(r, 100));
    expect((await api(hub.url, 'GET', '/health')).status).toBe(200);
    expect((await get(url)).status).toBe(200);
  });

  it('gives problem responses for unknown, malformed and bad-variant requests', async () => {
    const unknown = await api(hub.url, 'GET', `/api/v1/media/${'ab'.repeat(32)}`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/problem+json');
    expect(unknown.body.code).toBe('media_not_found');
    for (const bad of ['not-a-hash', sha.toUpperCase(), `${sha}00`, '..%2F..%2Fetc%2Fpasswd']) {
      const res = await api(hub.url, 'GET', `/api/v1/media/${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.code).toBe('invalid_hash');
    }
    expect((await api(hub.url, 'GET', `/api/v1/media/${sha}?variant=huge`)).status).toBe(422);
    expect((await api(hub.url, 'GET', `/api/v1/media/${sha}?size=9`)).status).toBe(422);
    expect((await api(hub.url, 'GET', '/health')).status).toBe(200);
  });
});

describe('media serving with the memory cache off (media.memoryCacheBytes: 0)', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let root: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    root = await mkdtemp(join(tmpdir(), 'easel-nocache-'));
    hub = await startTestHub({ dbUrl: db.url, engine: 'node', overrides: { media: { dir: join(root, 'media'), memoryCacheBytes: 0 } } });
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('reads small blobs from disk on every request', async () => {
    const { token } = await registerAndLogin(hub.url, 'nocache_user');
    const png = await makePng(32, 32);
    const res = await upload(hub.url, '/api/v1/media', token, [{ name: 'file', filename: 's.png', type: 'image/png', data: png }]);
    expect(res.status).toBe(201);
    const url = `${hub.url}/api/v1/media/${res.body.sha256}`;
    const first = await get(url);
    expect(first.bytes.equals(png)).toBe(true);
    expect(first.headers.get('x-content-type-options')).toBe('nosniff');
    // With the cache on, this file would now be served from memory (see "streams large blobs" above).
    const sha: string = res.body.sha256;
    await rm(join(root, 'media', 'originals', sha.slice(0, 2), sha.slice(2, 4), sha));
    expect((await get(url)).status).toBe(404);
  });

  it('refuses a negative cache size at startup', async () => {
    await expect(startTestHub({ dbUrl: db.url, engine: 'node', overrides: { media: { memoryCacheBytes: -1 } } })).rejects.toThrow(/memoryCacheBytes/);
  });
});
