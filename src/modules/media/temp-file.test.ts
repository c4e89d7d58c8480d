import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PayloadTooLargeError } from '../../platform/errors.js';
import { removeQuietly, streamToTempFile } from './temp-file.js';
import { makeTempDir, type TempDir } from './test-fixtures.js';

let tmp: TempDir;
let uploadDir: string;

beforeEach(async () => {
  tmp = await makeTempDir('easel-tempfile-');
  uploadDir = join(tmp.dir, 'uploads');
});
afterEach(() => tmp.cleanup());

async function* chunks(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

describe('streamToTempFile', () => {
  it('writes the bytes, creates the directory, and returns size and sha256', async () => {
    const data = randomBytes(100_000);
    const result = await streamToTempFile(chunks(data, 4096), { dir: uploadDir, maxBytes: 1_000_000 });

    expect(result.size).toBe(data.length);
    expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    expect(result.path.startsWith(uploadDir)).toBe(true);
    expect(await readFile(result.path)).toEqual(data);
  });

  it('accepts a Node readable stream', async () => {
    const data = randomBytes(10_000);
    const result = await streamToTempFile(Readable.from(chunks(data, 1000)), { dir: uploadDir, maxBytes: 10_000 });
    expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('uses a unique file name per upload', async () => {
    const data = Buffer.from('same bytes');
    const a = await streamToTempFile(chunks(data, 4), { dir: uploadDir, maxBytes: 100 });
    const b = await streamToTempFile(chunks(data, 4), { dir: uploadDir, maxBytes: 100 });
    expect(a.path).not.toBe(b.path);
    expect(a.sha256).toBe(b.sha256);
  });

  it('passes at exactly maxBytes', async () => {
    const data = randomBytes(5000);
    const result = await streamToTempFile(chunks(data, 1024), { dir: uploadDir, maxBytes: 5000 });
    expect(result.size).toBe(5000);
  });

  it('handles an empty source', async () => {
    const result = await streamToTempFile(chunks(Buffer.alloc(0), 1), { dir: uploadDir, maxBytes: 10 });
    expect(result.size).toBe(0);
    expect(result.sha256).toBe(createHash('sha256').digest('hex'));
  });

  it('rejects maxBytes + 1 with file_too_large and leaves no file behind', async () => {
    const data = randomBytes(5001);
    const err = await streamToTempFile(chunks(data, 1024), { dir: uploadDir, maxBytes: 5000 }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ status: 413, code: 'file_too_large' });
    expect(await readdir(uploadDir)).toEqual([]);
  });

  it('stops reading the source once the limit is passed', async () => {
    let produced = 0;
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) {
        produced += 1024;
        yield Buffer.alloc(1024);
      }
    }
    await expect(streamToTempFile(endless(), { dir: uploadDir, maxBytes: 10_000 })).rejects.toThrow(PayloadTooLargeError);
    expect(produced).toBeLessThan(20_000);
    expect(await readdir(uploadDir)).toEqual([]);
  });

  it('removes the partial file when the async source throws midway', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield randomBytes(64 * 1024);
      yield randomBytes(64 * 1024);
      throw new Error('client went away');
    }
    await expect(streamToTempFile(failing(), { dir: uploadDir, maxBytes: 1e9 })).rejects.toThrow('client went away');
    expect(await readdir(uploadDir)).toEqual([]);
  });

  it('removes the partial file when a readable stream is destroyed with an error', async () => {
    const source = new Readable({ read() {} });
    source.push(randomBytes(32 * 1024));
    setTimeout(() => source.destroy(new Error('socket reset')), 20);

    await expect(streamToTempFile(source, { dir: uploadDir, maxBytes: 1e9 })).rejects.toThrow('socket reset');
    expect(await readdir(uploadDir)).toEqual([]);
  });

  it('removes the partial file when aborted through the signal', async () => {
    const source = new Readable({ read() {} });
    source.push(randomBytes(1024));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);

    const err = await streamToTempFile(source, { dir: uploadDir, maxBytes: 1e9, signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ name: 'AbortError' });
    expect(await readdir(uploadDir)).toEqual([]);
  });
});

describe('removeQuietly', () => {
  it('removes an existing file', async () => {
    const path = await tmp.write(Buffer.from('x'));
    await removeQuietly(path);
    expect(await readdir(tmp.dir)).toEqual([]);
  });

  it('ignores a missing file', async () => {
    await expect(removeQuietly(join(tmp.dir, 'nope'))).resolves.toBeUndefined();
  });

  it('rethrows errors other than ENOENT', async () => {
    const dir = join(tmp.dir, 'a-directory');
    await mkdir(dir);
    await writeFile(join(dir, 'f'), 'x');
    await expect(removeQuietly(dir)).rejects.toMatchObject({ code: expect.stringMatching(/^E(ISDIR|PERM)$/) });
  });
});
