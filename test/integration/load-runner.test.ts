/**
 * `npm run load -- <scenario>` (load-tests/run.ts): every scenario names scripts that exist, `list` describes
 * them (studio: the load-tests/studio*.ts scripts, or plainly that there are none), a bad scenario is refused
 * with the usage (exit 2).
 * The benchmarks themselves run at the end of a change, under the bench lock (load-tests/RESULTS.md).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SCENARIOS } from '../../load-tests/run.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'load-tests/run.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('npm run load', () => {
  it('has the six scenarios of the issue, each running scripts that exist (studio: when written)', () => {
    expect(Object.keys(SCENARIOS)).toEqual(['connections', 'fanout', 'votes', 'uploads', 'jobs', 'studio']);
    for (const [name, s] of Object.entries(SCENARIOS)) {
      const steps = s.steps();
      if (typeof steps === 'string') {
        expect(name).toBe('studio');
        continue;
      }
      expect(steps.length, name).toBeGreaterThan(0);
      for (const step of steps) expect(existsSync(join(ROOT, step.script)), step.script).toBe(true);
    }
    expect(SCENARIOS.connections!.steps()).toMatchObject([{ script: 'load-tests/socket-memory.ts', env: { SOCKETS: '10000' } }]);
    expect(SCENARIOS.fanout!.steps()).toMatchObject([{ script: 'load-tests/fanout.ts' }]);
  });

  it('list describes every scenario and what studio runs; a bad or missing scenario exits 2 with the usage', async () => {
    const [list, bad, none] = await Promise.all([run(['list']), run(['nope']), run([])]);
    expect(list.code).toBe(0);
    for (const name of Object.keys(SCENARIOS)) expect(list.out).toContain(name);
    const studioScripts = readdirSync(join(ROOT, 'load-tests')).filter((f) => /^studio.*\.ts$/.test(f)).sort();
    if (studioScripts.length === 0) expect(list.out).toContain('no load-tests/studio*.ts yet');
    else expect(list.out).toContain(`runs: ${studioScripts.map((f) => `load-tests/${f}`).join(', ')}`);
    expect(bad.code).toBe(2);
    expect(bad.out).toContain("unknown scenario 'nope'");
    expect(bad.out).toContain('usage: npm run load -- <scenario>');
    expect(none.code).toBe(2);
  }, 60_000);
});
