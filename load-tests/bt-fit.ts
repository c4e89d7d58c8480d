/**
 * Canonical-tier cost: a Bradley–Terry fit with position term and prior, then a Poisson bootstrap, over
 * synthetic votes drawn from known strengths (seeded), so the numbers come with a check of the answer.
 *
 *   npx tsx load-tests/bt-fit.ts                                   # 1M votes, 10k images, B = 100, RUNS=1
 *   VOTES=20000 IMAGES=500 B=20 npx tsx load-tests/bt-fit.ts       # smoke
 *   MM=1 RUNS=3 npx tsx load-tests/bt-fit.ts                       # also time Hunter's MM, 3 runs, medians
 *
 * Env: VOTES, IMAGES, B (replicates), SEED, THETA (true position term, default 1.2), SPREAD (SD of the
 * true log-strengths, default 1), RUNS, MM=1.
 *
 * Stages, each timed per run: aggregate (raw votes → rows by winner, loser, side, as the database's
 * GROUP BY would), compile (rows → columns), fit (Newton, tolerance 1e-7), optionally fit with MM, and
 * bootstrap (B replicates warm-started from the fit). Printed per stage: median ms, passes over the
 * rows; then memory (RSS and heap after each stage, peak RSS) and the quality of the answer (Kendall τ
 * against the truth, 95 % interval coverage, θ and its interval). Votes are generated before the clock
 * starts; pairs are uniformly random, so rows ≈ votes here: the worst case for aggregation.
 */
import { compilePairs, fitBradleyTerry, type BradleyTerryFit } from '../src/modules/tournaments/bradley-terry.js';
import { bootstrapBradleyTerry, type BootstrapIntervals } from '../src/modules/tournaments/bradley-terry.bootstrap.js';
import { aggregateVotes, type PairCount, type PairTable } from '../src/modules/tournaments/bradley-terry.pairs.js';
import { kendallTau, simulateVotes } from '../src/modules/tournaments/simulate.js';
import { announce, median, runCount } from './baselines/stats.js';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

function envNumber(name: string, fallback: number): number {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number`);
  return n;
}

const VOTES = envInt('VOTES', 1_000_000);
const IMAGES = envInt('IMAGES', 10_000);
const B = envInt('B', 100);
const SEED = envInt('SEED', 1);
const THETA = envNumber('THETA', 1.2);
const SPREAD = envNumber('SPREAD', 1);
const WITH_MM = process.env.MM === '1';
const RUNS = runCount(1);

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const memory: string[] = [];
function snapshot(stage: string): void {
  const m = process.memoryUsage();
  memory.push(`${stage}: rss ${mb(m.rss)}, heap ${mb(m.heapUsed)}`);
}

function time<T>(fn: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = fn();
  return { value, ms: performance.now() - start };
}

announce(`bt-fit (${VOTES.toLocaleString('en')} votes, ${IMAGES.toLocaleString('en')} images, B = ${B}, θ = ${THETA}, spread ${SPREAD}, seed ${SEED})`, RUNS);
const generated = time(() => simulateVotes({ items: IMAGES, votes: VOTES, theta: THETA, spread: SPREAD, seed: SEED }));
const sim = generated.value;
console.log(`generated in ${generated.ms.toFixed(0)} ms (not part of any stage)`);
snapshot('votes generated');

const ms: Record<string, number[]> = { aggregate: [], compile: [], fit: [], 'fit (MM)': [], bootstrap: [] };
let rows: PairCount[] = [];
let table: PairTable | undefined;
let fit: BradleyTerryFit | undefined;
let mm: BradleyTerryFit | undefined;
let intervals: BootstrapIntervals | undefined;
for (let run = 1; run <= RUNS; run++) {
  const agg = time(() => aggregateVotes(IMAGES, sim.votes));
  rows = agg.value;
  ms.aggregate!.push(agg.ms);
  if (run === 1) snapshot('aggregated');
  const compiled = time(() => compilePairs(IMAGES, rows));
  table = compiled.value;
  ms.compile!.push(compiled.ms);
  const fitted = time(() => fitBradleyTerry(compiled.value));
  fit = fitted.value;
  ms.fit!.push(fitted.ms);
  if (run === 1) snapshot('fitted');
  if (WITH_MM) {
    const m = time(() => fitBradleyTerry(compiled.value, { method: 'mm', maxIterations: 20_000 }));
    mm = m.value;
    ms['fit (MM)']!.push(m.ms);
  }
  const boot = time(() => bootstrapBradleyTerry(compiled.value, fitted.value, { replicates: B, seed: SEED }));
  intervals = boot.value;
  ms.bootstrap!.push(boot.ms);
  if (run === 1) snapshot('bootstrapped');
  console.log(`run ${run}: ${Object.entries(ms).filter(([, v]) => v.length === run).map(([k, v]) => `${k} ${v[run - 1]!.toFixed(0)} ms`).join(', ')}`);
}
if (!table || !fit || !intervals) throw new Error('no run completed');

console.log(`\nrows: ${rows.length.toLocaleString('en')} (${(rows.length / VOTES).toFixed(2)} per vote)`);
console.log(`aggregate: median ${median(ms.aggregate!).toFixed(0)} ms`);
console.log(`compile:   median ${median(ms.compile!).toFixed(0)} ms`);
console.log(`fit:       median ${median(ms.fit!).toFixed(0)} ms, ${fit.iterations} evaluation + ${fit.products} CG passes, converged ${fit.converged}, ${fit.backtracks} backtracks`);
if (mm) console.log(`fit (MM):  median ${median(ms['fit (MM)']!).toFixed(0)} ms, ${mm.iterations} passes, converged ${mm.converged}`);
console.log(
  `bootstrap: median ${median(ms.bootstrap!).toFixed(0)} ms for B = ${B} (${(median(ms.bootstrap!) / B).toFixed(0)} ms per replicate), ` +
    `${(intervals.passes / B).toFixed(1)} passes per replicate, ${intervals.unconverged} unconverged`,
);
console.log(`memory: ${memory.join('; ')}; peak rss ${mb(process.resourceUsage().maxRSS * 1024)}`);

let covered = 0;
for (let i = 0; i < IMAGES; i++) if (intervals.lower[i]! <= sim.truth[i]! && sim.truth[i]! <= intervals.upper[i]!) covered++;
const tau = time(() => kendallTau(fit.logStrength, sim.truth));
console.log(
  `quality: Kendall τ vs truth ${tau.value.toFixed(3)}, 95 % interval coverage ${((100 * covered) / IMAGES).toFixed(1)} %, ` +
    `θ ${fit.theta.toFixed(3)} [${intervals.thetaLower.toFixed(3)}, ${intervals.thetaUpper.toFixed(3)}] (true ${THETA})`,
);
