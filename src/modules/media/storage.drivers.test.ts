/**
 * The behaviour every storage driver shares, run against each: LocalStorage on a temp directory and S3Storage
 * against a real S3-protocol server (s3rver, in this process on loopback). storage.test.ts adds the local
 * driver's filesystem details (staging files, EXDEV).
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestS3, type TestS3 } from '../../../test/helpers/s3.js';
import { ConfigError, loadConfig } from '../../platform/config.js';
import { BadRequestError } from '../../platform/errors.js';
import { LocalStorage, originalKey, readBlob, variantKey, type StorageDriver } from './storage.js';
import { storageFromConfig } from './storage.factory.js';
import { S3Storage, createS3Client } from './storage.s3.js';
import { makeTempDir, type TempDir } from './test-fixtures.js';

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

let tmp: TempDir;
let s3: TestS3;
beforeAll(async () => {
  tmp = await makeTempDir('easel-drivers-');
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3?.stop();
  await tmp?.cleanup();
});

let run = 0;
const drivers: [string, () => StorageDriver][] = [
  ['local', () => new LocalStorage(join(tmp.dir, `store-${++run}`))],
  // A fresh prefix per test: one bucket, no test sees another's objects.
  ['s3', () => new S3Storage(createS3Client(s3.config), { bucket: s3.config.bucket, prefix: `t${++run}/` })],
];

describe.each(drivers)('%s storage driver', (_name, make) => {
  let storage: StorageDriver;
  beforeEach(() => {
    storage = make();
  });

  it('putFile stores the temp file under its key and removes the temp file', async () => {
    const bytes = Buffer.from('hello, storage');
    const key = originalKey(sha(bytes));
    const src = await tmp.write(bytes);

    await storage.putFile(src, key);

    expect(await storage.has(key)).toBe(true);
    expect(await storage.stat(key)).toEqual({ size: bytes.length });
    expect(await readBlob(storage, key)).toEqual(bytes);
    expect(await readdir(tmp.dir)).not.toContain(src.split('/').pop());
  });

  it('dedupes by content hash: a second putFile of the same key keeps the stored blob and drops the temp file', async () => {
    const bytes = Buffer.from('same bytes');
    const key = originalKey(sha(bytes));
    await storage.putFile(await tmp.write(bytes), key);
    const second = await tmp.write(Buffer.from('would overwrite'), `second-${run}`);

    await storage.putFile(second, key);

    expect((await readBlob(storage, key)).toString()).toBe('same bytes');
    expect(await readdir(tmp.dir)).not.toContain(`second-${run}`);
  });

  it('putBuffer writes and replaces a blob', async () => {
    const key = variantKey(sha('img'), 'thumb');
    await storage.putBuffer(key, Buffer.from('v1'));
    await storage.putBuffer(key, Buffer.from('version 2'));
    expect((await readBlob(storage, key)).toString()).toBe('version 2');
    expect(await storage.stat(key)).toEqual({ size: 9 });
  });

  it('stores binary bytes exactly (a 300 KB blob round-trips)', async () => {
    const bytes = Buffer.alloc(300_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
    const key = originalKey(sha(bytes));
    await storage.putFile(await tmp.write(bytes), key);
    const back = await readBlob(storage, key);
    expect(back.length).toBe(bytes.length);
    expect(sha(back)).toBe(sha(bytes));
  });

  it('reads inclusive byte ranges', async () => {
    const key = variantKey(sha('abc'), 'webp');
    await storage.putBuffer(key, Buffer.from('0123456789'));

    expect(await text(storage.createReadStream(key))).toBe('0123456789');
    expect(await text(storage.createReadStream(key, { start: 2, end: 5 }))).toBe('2345');
    expect(await text(storage.createReadStream(key, { start: 0, end: 0 }))).toBe('0');
    expect(await text(storage.createReadStream(key, { start: 9, end: 9 }))).toBe('9');
  });

  it('refuses malformed ranges before touching the store', () => {
    const key = variantKey(sha('abc'), 'webp');
    for (const range of [{ start: 5, end: 2 }, { start: -1, end: 2 }, { start: 0.5, end: 2 }, { start: 0, end: Number.NaN }]) {
      expect(() => storage.createReadStream(key, range), JSON.stringify(range)).toThrow(BadRequestError);
    }
  });

  it('reports a missing key as null / false; removing it is fine; reading it is an ENOENT stream error', async () => {
    const key = originalKey(sha('missing'));
    expect(await storage.has(key)).toBe(false);
    expect(await storage.stat(key)).toBeNull();
    await expect(storage.remove(key)).resolves.toBeUndefined();
    await expect(text(storage.createReadStream(key))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(text(storage.createReadStream(key, { start: 0, end: 3 }))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('remove deletes the blob', async () => {
    const key = originalKey(sha('gone'));
    await storage.putBuffer(key, Buffer.from('gone'));
    await storage.remove(key);
    expect(await storage.has(key)).toBe(false);
    await expect(readBlob(storage, key)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each(['../outside', 'originals/../../outside', '/etc/passwd', 'originals\\..\\x', 'a\0b', '', 'a//b', './a', 'a/'])(
    'refuses the unsafe key %j in every operation',
    async (key) => {
      await expect(storage.has(key)).rejects.toThrow(BadRequestError);
      await expect(storage.stat(key)).rejects.toThrow(BadRequestError);
      await expect(storage.putBuffer(key, Buffer.from('x'))).rejects.toThrow(BadRequestError);
      await expect(storage.remove(key)).rejects.toThrow(BadRequestError);
      expect(() => storage.createReadStream(key)).toThrow(BadRequestError);
      await expect(storage.putFile(await tmp.write(Buffer.from('x')), key)).rejects.toMatchObject({ code: 'invalid_storage_key' });
    },
  );
});

describe('S3 storage driver, S3 specifics', () => {
  it('keeps objects under its prefix (two prefixes in one bucket do not see each other)', async () => {
    const a = new S3Storage(createS3Client(s3.config), { bucket: s3.config.bucket, prefix: 'node-a/' });
    const b = new S3Storage(createS3Client(s3.config), { bucket: s3.config.bucket, prefix: 'node-b/' });
    const key = originalKey(sha('prefixed'));
    await a.putBuffer(key, Buffer.from('prefixed'));
    expect(await a.has(key)).toBe(true);
    expect(await b.has(key)).toBe(false);
  });

  it('surfaces a server that is not there as an error, not a hang or a missing key', async () => {
    const gone = await startTestS3('gone-bucket');
    const storage = new S3Storage(createS3Client({ ...gone.config }), { bucket: gone.config.bucket });
    await gone.stop();
    const key = originalKey(sha('x'));
    await expect(storage.has(key)).rejects.toThrow();
    const err = await text(storage.createReadStream(key)).then(() => null, (e: NodeJS.ErrnoException) => e);
    expect(err).not.toBeNull();
    expect(err!.code).not.toBe('ENOENT');
  });

  it('a bucket that does not exist is an error, not a missing key', async () => {
    const storage = new S3Storage(createS3Client(s3.config), { bucket: 'no-such-bucket' });
    await expect(storage.putBuffer(originalKey(sha('x')), Buffer.from('x'))).rejects.toThrow();
  });
});

describe('choosing the driver from configuration', () => {
  const load = (env: Record<string, string>) => loadConfig({ env: { NODE_ENV: 'test', DATA_DIR: tmp.dir, ...env } });

  it('local by default; s3 from MEDIA_STORAGE=s3 and the S3_* variables', async () => {
    expect(storageFromConfig(load({}))).toBeInstanceOf(LocalStorage);
    const config = load({
      MEDIA_STORAGE: 's3', S3_BUCKET: s3.config.bucket, S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER', S3_PREFIX: 'from-env/',
    });
    expect(config.media.s3).toMatchObject({ bucket: s3.config.bucket, endpoint: s3.endpoint, forcePathStyle: true, prefix: 'from-env/' });
    const storage = storageFromConfig(config);
    expect(storage).toBeInstanceOf(S3Storage);
    const key = originalKey(sha('configured'));
    await storage.putBuffer(key, Buffer.from('configured'));
    const direct = new S3Storage(createS3Client(s3.config), { bucket: s3.config.bucket, prefix: 'from-env/' });
    expect((await readBlob(direct, key)).toString()).toBe('configured');
  });

  it.each([
    [{ MEDIA_STORAGE: 's3' }, 'media.s3.bucket'],
    [{ MEDIA_STORAGE: 'gcs' }, 'media.storage'],
    [{ MEDIA_STORAGE: 's3', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'only-one' }, 'media.s3'],
    [{ MEDIA_STORAGE: 's3', S3_BUCKET: 'b', S3_ENDPOINT: 'ftp://x' }, 'media.s3.endpoint'],
    [{ MEDIA_STORAGE: 's3', S3_BUCKET: 'b', S3_PREFIX: '/abs/' }, 'media.s3.prefix'],
    [{ MEDIA_STORAGE: 's3', S3_BUCKET: 'b', S3_FORCE_PATH_STYLE: 'yes' }, 'media.s3.forcePathStyle'],
  ])('refuses %j with a message naming %s', (env, path) => {
    expect(() => load(env)).toThrow(ConfigError);
    expect(() => load(env)).toThrow(path);
  });
});
