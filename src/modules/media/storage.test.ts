import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BadRequestError } from '../../platform/errors.js';
import { LocalStorage, originalKey, variantKey } from './storage.js';
import { makeTempDir, type TempDir } from './test-fixtures.js';

let tmp: TempDir;
let root: string;
let storage: LocalStorage;

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

beforeEach(async () => {
  tmp = await makeTempDir('easel-storage-');
  root = join(tmp.dir, 'store');
  storage = new LocalStorage(root);
});
afterEach(() => tmp.cleanup());

describe('keys', () => {
  it('shards originals and names variants by hash', () => {
    const h = sha('a');
    expect(originalKey(h)).toBe(`originals/${h.slice(0, 2)}/${h.slice(2, 4)}/${h}`);
    expect(variantKey(h, 'thumb')).toBe(`variants/${h}.thumb.webp`);
    expect(variantKey(h, 'webp')).toBe(`variants/${h}.webp`);
  });

  it('refuses anything that is not a lowercase sha256 hex', () => {
    expect(() => originalKey('../etc/passwd')).toThrow(BadRequestError);
    expect(() => variantKey(sha('a').toUpperCase(), 'thumb')).toThrow(BadRequestError);
  });
});

describe('LocalStorage', () => {
  const escapes = [
    '../outside',
    'originals/../../outside',
    'a/..',
    '/etc/passwd',
    'originals\\..\\x',
    'originals/x\0.jpg',
    '',
    'a//b',
    './a',
    'a/',
  ];

  it.each(escapes)('rejects the unsafe key %j in every operation', async (key) => {
    await expect(storage.has(key)).rejects.toThrow(BadRequestError);
    await expect(storage.stat(key)).rejects.toThrow(BadRequestError);
    await expect(storage.putBuffer(key, Buffer.from('x'))).rejects.toThrow(BadRequestError);
    await expect(storage.remove(key)).rejects.toThrow(BadRequestError);
    expect(() => storage.createReadStream(key)).toThrow(BadRequestError);
    const src = await tmp.write(Buffer.from('x'));
    await expect(storage.putFile(src, key)).rejects.toMatchObject({ code: 'invalid_storage_key' });
  });

  it('putFile moves the temp file into place', async () => {
    const key = originalKey(sha('hello'));
    const src = await tmp.write(Buffer.from('hello'));

    await storage.putFile(src, key);

    expect(await storage.has(key)).toBe(true);
    expect(await storage.stat(key)).toEqual({ size: 5 });
    expect(await readFile(join(root, key), 'utf8')).toBe('hello');
    await expect(readFile(src)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('putFile of an existing key keeps the stored blob and just removes the temp file', async () => {
    const key = originalKey(sha('hello'));
    await storage.putFile(await tmp.write(Buffer.from('hello')), key);
    const second = await tmp.write(Buffer.from('hello'), 'second-upload');

    await storage.putFile(second, key);

    expect((await readdir(tmp.dir)).sort()).toEqual(['store']);
    expect(await readFile(join(root, key), 'utf8')).toBe('hello');
  });

  it('putBuffer writes atomically and leaves no staging files', async () => {
    const key = variantKey(sha('img'), 'thumb');
    await storage.putBuffer(key, Buffer.from('v1'));
    await storage.putBuffer(key, Buffer.from('v2'));

    expect(await readFile(join(root, key), 'utf8')).toBe('v2');
    expect(await readdir(join(root, 'variants'))).toEqual([`${sha('img')}.thumb.webp`]);
  });

  it('reads a whole blob and an inclusive byte range', async () => {
    const key = variantKey(sha('abc'), 'webp');
    await storage.putBuffer(key, Buffer.from('0123456789'));

    expect(await text(storage.createReadStream(key))).toBe('0123456789');
    expect(await text(storage.createReadStream(key, { start: 2, end: 5 }))).toBe('2345');
    expect(await text(storage.createReadStream(key, { start: 9, end: 9 }))).toBe('9');
  });

  it('rejects malformed ranges', () => {
    const key = variantKey(sha('abc'), 'webp');
    expect(() => storage.createReadStream(key, { start: 5, end: 2 })).toThrow(BadRequestError);
    expect(() => storage.createReadStream(key, { start: -1, end: 2 })).toThrow(BadRequestError);
    expect(() => storage.createReadStream(key, { start: 0.5, end: 2 })).toThrow(BadRequestError);
  });

  it('reports a missing key as null / false, and removing it is fine', async () => {
    const key = originalKey(sha('missing'));
    expect(await storage.has(key)).toBe(false);
    expect(await storage.stat(key)).toBeNull();
    await expect(storage.remove(key)).resolves.toBeUndefined();
  });

  it('surfaces a missing blob on read as a stream error', async () => {
    const stream = storage.createReadStream(originalKey(sha('missing')));
    await expect(text(stream)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('remove deletes the blob', async () => {
    const key = originalKey(sha('gone'));
    await storage.putBuffer(key, Buffer.from('gone'));
    await storage.remove(key);
    expect(await storage.has(key)).toBe(false);
  });
});
