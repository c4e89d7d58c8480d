/**
 * `npm run load -- <scenario> [--quick]`: one command per load-test scenario. Runs the scenario's benchmark
 * script(s) as child processes, streams their progress (each line prefixed with the scenario and the elapsed
 * time, plus a heartbeat when a script is quiet), and ends with a summary: every table the scripts printed,
 * their ratio lines, exit codes and durations. `--quick` runs the smoke sizes (1 run, small counts) to check
 * that a scenario works; its numbers are not results. Every side of every scenario runs on 127.0.0.1 only.
 *
 *   npm run load -- connections          # idle authenticated sockets: RSS per socket, connect rate
 *   npm run load -- fanout               # one room, broadcasts: msgs/s delivered, delay p50/p99, two nodes
 *   npm run load -- votes | uploads | jobs | studio
 *   npm run load -- list                 # the scenarios and what each runs
 *
 * Extra environment variables pass through to the scripts (RUNS=5, VIEWERS=2000, SIDES=..., see each script).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = resolve(import.meta.dirname, '..');

interface Step {
  script: string;
  env?: Record<string, string>;
  quick?: Record<string, string>;
}
interface Scenario {
  about: string;
  peers: string;
  steps: () => Step[] | string;
}

/** Load-test scripts for the studio scenario (written with the studio work): load-tests/studio*.ts. */
function studioSteps(): Step[] | string {
  const found = readdirSync(join(ROOT, 'load-tests')).filter((f) => /^studio.*\.ts$/.test(f)).sort();
  if (found.length === 0) return 'no load-tests/studio*.ts yet: the studio benchmark is written with the studio work; nothing to run';
  return found.map((f) => ({ script: `load-tests/${f}`, quick: { RUNS: '1' } }));
}

export const SCENARIOS: Record<string, Scenario> = {
  connections: {
    about: '10,000 idle authenticated sockets: RSS and JS heap per socket, connect rate (target ≤ 16 KB RSS each)',
    peers: 'bare socket.io on node:http and on uWebSockets.js, each side on both engines',
    steps: () => [{ script: 'load-tests/socket-memory.ts', env: { SOCKETS: '10000' }, quick: { SOCKETS: '500', RUNS: '1' } }],
  },
  fanout: {
    about: 'one room of 1,000 viewers: delivered msgs/s (burst), delay p50/p99 (paced), one node and two nodes over Redis',
    peers: 'bare socket.io on node:http and on uWebSockets.js (targets: ≥ 1.6× and ≥ 0.9× throughput; two nodes p99 ≤ 2× one)',
    steps: () => [{ script: 'load-tests/fanout.ts', quick: { VIEWERS: '100', BURST: '100', PACED_SECONDS: '2', RUNS: '1' } }],
  },
  votes: {
    about: 'live event votes (2,000 viewers, one or two nodes) and quick-matchup votes (socket vs HTTP)',
    peers: "the seed's one-INSERT-per-vote node:http endpoint (event votes); socket vs HTTP path of the hub (quick votes)",
    steps: (): Step[] => [
      { script: 'load-tests/event-votes.ts', quick: { VIEWERS: '100', MATCHUPS: '1', RUNS: '1' } },
      { script: 'load-tests/quick-votes.ts', quick: { VOTERS: '20', ROUNDS: '2', IMAGES: '10', RUNS: '1' } },
    ],
  },
  uploads: {
    about: 'concurrent ~10 MB image uploads: full pipeline and transport, throughput and memory',
    peers: 'node:http + busboy + sharp (pipeline-server.ts) and busboy alone (busboy-server.ts)',
    steps: () => [{ script: 'load-tests/upload-throughput.ts', quick: { RUNS: '1', CONCURRENCY: '2' } }],
  },
  jobs: {
    about: 'no-op jobs end to end through a hub and socket workers (1 and 4 workers)',
    peers: 'BullMQ on the same Redis and graphile-worker on the same PostgreSQL',
    steps: () => [{ script: 'load-tests/jobs-dispatch.ts', quick: { JOBS: '200', RUNS: '1' } }],
  },
  studio: {
    about: 'ad-studio generation streams (load-tests/studio*.ts, when present)',
    peers: 'as the studio scripts define',
    steps: studioSteps,
  },
};

const USAGE = `usage: npm run load -- <scenario> [--quick]
scenarios: ${Object.keys(SCENARIOS).join(', ')} (npm run load -- list describes them)`;

interface StepResult {
  script: string;
  code: number | null;
  seconds: number;
  tables: string[][];
  ratios: string[];
  header: string | null;
}

function runStep(scenario: string, step: Step, quick: boolean, t0: number): Promise<StepResult> {
  const env = { ...process.env, ...step.env, ...(quick ? step.quick : {}) };
  const started = Date.now();
  const stamp = () => {
    const s = Math.round((Date.now() - t0) / 1000);
    return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  };
  console.log(`[${scenario} ${stamp()}] ▶ ${step.script}${quick ? ' (quick)' : ''}  ${Object.entries({ ...step.env, ...(quick ? step.quick : {}) }).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  const child = spawn(process.execPath, ['--import', 'tsx', step.script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tables: string[][] = [];
  const ratios: string[] = [];
  let header: string | null = null;
  let current: string[] | null = null;
  let lastOutput = Date.now();
  const onLine = (line: string) => {
    lastOutput = Date.now();
    console.log(`[${scenario} ${stamp()}] ${line}`);
    if (line.startsWith('|')) {
      if (!current) tables.push((current = []));
      current.push(line);
    } else {
      current = null;
      if (line.startsWith('# ') && !header) header = line.slice(2);
      if (/ratio|×/.test(line) && !line.startsWith('#')) ratios.push(line.trim());
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const heartbeat = setInterval(() => {
    if (Date.now() - lastOutput > 15_000) console.log(`[${scenario} ${stamp()}] … ${step.script} still running`);
  }, 15_000);
  return new Promise((done) => {
    child.on('exit', (code) => {
      clearInterval(heartbeat);
      done({ script: step.script, code, seconds: (Date.now() - started) / 1000, tables, ratios, header });
    });
  });
}

async function main(argv: string[]): Promise<number> {
  const args = argv.filter((a) => a !== '--quick');
  const quick = argv.includes('--quick');
  const name = args[0];
  if (!name || args.length > 1 || name === '--help' || name === '-h') {
    console.error(USAGE);
    return name === '--help' || name === '-h' ? 0 : 2;
  }
  if (name === 'list') {
    for (const [n, s] of Object.entries(SCENARIOS)) {
      const steps = s.steps();
      console.log(`${n.padEnd(12)} ${s.about}\n${' '.repeat(13)}peers: ${s.peers}\n${' '.repeat(13)}runs: ${typeof steps === 'string' ? steps : steps.map((x) => x.script).join(', ')}`);
    }
    return 0;
  }
  const scenario = SCENARIOS[name];
  if (!scenario) {
    console.error(`unknown scenario '${name}'\n${USAGE}`);
    return 2;
  }
  const steps = scenario.steps();
  if (typeof steps === 'string') {
    console.log(`${name}: ${steps}`);
    return 0;
  }
  for (const s of steps) if (!existsSync(join(ROOT, s.script))) throw new Error(`${s.script} is missing`);
  const t0 = Date.now();
  console.log(`# npm run load -- ${name}${quick ? ' --quick' : ''}: ${scenario.about}\n# peers: ${scenario.peers}`);
  const results: StepResult[] = [];
  for (const step of steps) results.push(await runStep(name, step, quick, t0));

  console.log(`\n## summary: ${name}${quick ? ' (quick: smoke sizes, not results)' : ''}, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  for (const r of results) {
    console.log(`### ${r.script}: ${r.code === 0 ? 'ok' : `FAILED (exit ${r.code})`}, ${r.seconds.toFixed(0)} s`);
    if (r.header) console.log(r.header);
    for (const t of r.tables) console.log(`\n${t.join('\n')}`);
    if (r.ratios.length) console.log(`\n${r.ratios.map((x) => `- ${x}`).join('\n')}`);
    console.log('');
  }
  return results.every((r) => r.code === 0) ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
