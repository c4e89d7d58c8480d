/**
 * Media on the S3 driver, end to end: two hubs share one database and one bucket (s3rver on loopback) and
 * nothing else: an upload to one is served by the other (whole, ranged, variants), identical bytes are
 * deduped across nodes, and no media file lands on either node's disk.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { originalKey, variantKey } from '../../src/modules/media/storage.js';
import { S3Storage, createS3Client } from '../../src/modules/media/storage.s3.js';
import { makeJpeg, makePng } from '../../src/modules/media/test-fixtures.js';
import { api, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { upload } from '../helpers/multipart.js';
import { startTestS3, type TestS3 } from '../helpers/s3.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

async function until<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('media on the S3 storage driver across two hubs', () => {
  let db: TestDatabase;
  let s3: TestS3;
  let root: string;
  let a: TestHub;
  let b: TestHub;
  let bucket: S3Storage;

  beforeAll(async () => {
    db = await createTestDatabase();
    s3 = await startTestS3('easel-it', 'media/');
    root = await mkdtemp(join(tmpdir(), 'easel-media-s3-'));
    const media = (dir: string, extra: Record<string, unknown> = {}) => ({ media: { dir: join(root, dir), storage: 's3', s3: s3.config, ...extra } });
    // Hub a on uWS, b on node:http: an upload to a uWS hub beside s3rver's node:http server in one process
    // reproduced the paused-socket stall on Node 24 reliably (fixed in UwsExchange.onChunk).
    a = await startTestHub({ dbUrl: db.url, engine: 'uws', overrides: media('a') });
    // No memory cache on b: every GET there streams from the bucket.
    b = await startTestHub({ dbUrl: db.url, engine: 'node', overrides: media('b', { memoryCacheBytes: 0 }) });
    bucket = new S3Storage(createS3Client(s3.config), { bucket: s3.config.bucket, prefix: 'media/' });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await s3?.stop();
    await db?.drop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('an upload to one node is stored in the bucket and served by the other, whole and by range', async () => {
    const { token } = await registerAndLogin(a.url, 's3_uploader');
    const original = await makeJpeg(1400, 1000); // noise: several hundred KB, past any small-blob path
    expect(original.length).toBeGreaterThan(256 * 1024);
    const res = await upload(a.url, '/api/v1/media', token, [{ name: 'file', filename: 'big.jpg', type: 'image/jpeg', data: original }]);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ sha256: sha256(original), created: true, format: 'jpeg' });
    const sha = res.body.sha256 as string;

    expect(await bucket.stat(originalKey(sha))).not.toBeNull();

    const whole = await get(`${b.url}/api/v1/media/${sha}`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('image/jpeg');
    const stored = await bucket.stat(originalKey(sha));
    expect(whole.bytes.length).toBe(stored!.size);

    const ranged = await get(`${b.url}/api/v1/media/${sha}`, { range: 'bytes=100-1123' });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 100-1123/${stored!.size}`);
    expect(ranged.bytes).toEqual(whole.bytes.subarray(100, 1124));

    const first = await get(`${b.url}/api/v1/media/${sha}`, { range: 'bytes=0-0' });
    expect(first.status).toBe(206);
    expect(first.bytes).toEqual(whole.bytes.subarray(0, 1));
    const tail = await get(`${b.url}/api/v1/media/${sha}`, { range: 'bytes=-10' });
    expect(tail.status).toBe(206);
    expect(tail.bytes).toEqual(whole.bytes.subarray(whole.bytes.length - 10));
  });

  it('variants made by one node are in the bucket and served by the other', async () => {
    const { token } = await registerAndLogin(a.url, 's3_variants');
    const png = await makePng(640, 480);
    const res = await upload(a.url, '/api/v1/media', token, [{ name: 'file', filename: 'v.png', type: 'image/png', data: png }]);
    expect(res.status).toBe(201);
    const sha = res.body.sha256 as string;
    await until(async () => (await bucket.has(variantKey(sha, 'thumb'))) && (await bucket.has(variantKey(sha, 'webp'))));

    const thumb = await get(`${b.url}/api/v1/media/${sha}?variant=thumb`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    expect(thumb.bytes.subarray(8, 12).toString('latin1')).toBe('WEBP');
    expect(thumb.bytes.length).toBe((await bucket.stat(variantKey(sha, 'thumb')))!.size);
  });

  it('dedupes identical bytes across nodes: the second upload, on the other node, is created:false', async () => {
    const { token } = await registerAndLogin(b.url, 's3_dedupe');
    const png = await makePng(300, 200);
    const first = await upload(a.url, '/api/v1/media', token, [{ name: 'file', filename: 'd.png', type: 'image/png', data: png }]);
    const second = await upload(b.url, '/api/v1/media', token, [{ name: 'file', filename: 'd2.png', type: 'image/png', data: png }]);
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ sha256: first.body.sha256, created: false });
  });

  it('unknown content is a 404 on every node, and an object lost from the bucket is a 404, not a hang', async () => {
    const unknown = sha256(Buffer.from('never uploaded'));
    expect((await get(`${a.url}/api/v1/media/${unknown}`)).status).toBe(404);
    expect((await get(`${b.url}/api/v1/media/${unknown}`)).status).toBe(404);
    expect((await api(b.url, 'GET', '/api/v1/media/not-a-hash')).status).toBe(400);

    const { token } = await registerAndLogin(a.url, 's3_lost');
    const png = await makePng(200, 100);
    const res = await upload(a.url, '/api/v1/media', token, [{ name: 'file', filename: 'l.png', type: 'image/png', data: png }]);
    const sha = res.body.sha256 as string;
    await until(async () => bucket.has(variantKey(sha, 'webp')));
    await bucket.remove(originalKey(sha));
    await bucket.remove(variantKey(sha, 'thumb'));
    await bucket.remove(variantKey(sha, 'webp'));
    expect((await get(`${b.url}/api/v1/media/${sha}`)).status).toBe(404);
  });

  it('keeps no media files on the nodes\' disks (only the upload temp directory)', async () => {
    for (const dir of ['a', 'b']) {
      const entries = await readdir(join(root, dir)).catch(() => [] as string[]);
      expect(entries.filter((e) => e !== 'tmp'), dir).toEqual([]);
    }
  });
});
