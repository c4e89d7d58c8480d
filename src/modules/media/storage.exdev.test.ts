import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as FsPromises from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalStorage, originalKey } from './storage.js';
import { makeTempDir, type TempDir } from './test-fixtures.js';

// Simulates the temp dir living on another filesystem: renames of files outside the store root
// fail with EXDEV, as they would across mounts. Renames inside the root behave normally.
const state = vi.hoisted(() => ({ storeRoot: '', crossDeviceRenames: 0 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>();
  return {
    ...real,
    rename: async (from: string, to: string) => {
      if (state.storeRoot && !String(from).startsWith(state.storeRoot)) {
        state.crossDeviceRenames += 1;
        throw Object.assign(new Error('EXDEV: cross-device link not permitted'), { code: 'EXDEV' });
      }
      return real.rename(from, to);
    },
  };
});

let tmp: TempDir;

beforeEach(async () => {
  tmp = await makeTempDir('easel-exdev-');
  state.storeRoot = join(tmp.dir, 'store');
});
afterEach(async () => {
  state.storeRoot = '';
  await tmp.cleanup();
});

describe('LocalStorage.putFile across filesystems', () => {
  it('falls back to copy + rename + unlink and leaves no staging file', async () => {
    const storage = new LocalStorage(state.storeRoot);
    const key = originalKey(createHash('sha256').update('cross').digest('hex'));
    const src = await tmp.write(Buffer.from('cross'), 'upload.part');

    await storage.putFile(src, key);

    expect(state.crossDeviceRenames).toBe(1);
    expect(await readFile(join(state.storeRoot, key), 'utf8')).toBe('cross');
    expect(await readdir(tmp.dir)).toEqual(['store']);
    const shard = join(state.storeRoot, key, '..');
    expect(await readdir(shard)).toHaveLength(1);
  });
});
