import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runningPostmaster } from './embedded.js';

// The live case (a hub's real cluster) is in test/integration/scripts.test.ts; these are the lock files
// a crashed or killed server leaves behind, which must not be mistaken for a running database.
const dataDir = mkdtempSync(join(tmpdir(), 'easel-postmaster-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function lockFile(pid: number, port = 54329, status = 'ready'): void {
  mkdirSync(join(dataDir, 'pg'), { recursive: true });
  const lines = [pid, join(dataDir, 'pg'), 1700000000, port, '/tmp', '127.0.0.1', '  1234  5678', status.padEnd(8)];
  writeFileSync(join(dataDir, 'pg', 'postmaster.pid'), `${lines.join('\n')}\n`);
}

describe('runningPostmaster', () => {
  it('is null without a cluster or a lock file', () => {
    expect(runningPostmaster(join(dataDir, 'nowhere'))).toBeNull();
    expect(runningPostmaster(dataDir)).toBeNull();
  });

  it('is null when the lock file names a process that is gone', () => {
    lockFile(2 ** 22 + 12345); // above Linux's pid_max default: no such process
    expect(runningPostmaster(dataDir)).toBeNull();
  });

  it('is null when the pid was reused by a process that is not postgres', () => {
    lockFile(process.pid);
    expect(runningPostmaster(dataDir)).toBeNull();
  });

  it('is null for a damaged lock file', () => {
    mkdirSync(join(dataDir, 'pg'), { recursive: true });
    writeFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'garbage\n');
    expect(runningPostmaster(dataDir)).toBeNull();
  });
});
