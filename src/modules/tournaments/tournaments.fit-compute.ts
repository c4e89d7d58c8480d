import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { rateBradleyTerry } from './bradley-terry.bootstrap.js';
import type { PairCount } from './bradley-terry.js';

/** The fit's input in columns (one entry per aggregated (winner, loser, side) row), cheap to copy to a thread. */
export interface FitInput {
  items: number;
  winner: Int32Array;
  loser: Int32Array;
  /** 1: the winner was shown on the left. */
  winnerLeft: Uint8Array;
  count: Float64Array;
  minVotes: number;
  replicates: number;
  priorWeight: number;
  seed: number;
}

/** Per item (dense index): β, its 95% bounds, the tied rank (0 = preliminary) and the preliminary flag. */
export interface FitOutput {
  beta: Float64Array;
  lower: Float64Array;
  upper: Float64Array;
  rank: Int32Array;
  preliminary: Uint8Array;
  theta: number;
  thetaLower: number;
  thetaUpper: number;
  passes: number;
  converged: boolean;
}

/** The whole canonical pass (rateBradleyTerry) on column input. Pure. */
export function computeFit(input: FitInput): FitOutput {
  const pairs: PairCount[] = Array.from({ length: input.winner.length }, (_, r) => ({
    winner: input.winner[r]!,
    loser: input.loser[r]!,
    winnerSide: input.winnerLeft[r] ? 'left' : 'right',
    count: input.count[r]!,
  }));
  const s = rateBradleyTerry(input.items, pairs, { minVotes: input.minVotes, replicates: input.replicates, priorWeight: input.priorWeight, seed: input.seed });
  const n = input.items;
  const out: FitOutput = {
    beta: new Float64Array(n),
    lower: new Float64Array(n),
    upper: new Float64Array(n),
    rank: new Int32Array(n),
    preliminary: new Uint8Array(n),
    theta: s.theta,
    thetaLower: s.thetaLower,
    thetaUpper: s.thetaUpper,
    passes: s.fitPasses + s.bootstrap.passes,
    converged: s.converged,
  };
  for (const img of s.images) {
    out.beta[img.item] = img.logStrength;
    out.lower[img.item] = img.lower;
    out.upper[img.item] = img.upper;
    out.rank[img.item] = img.rank ?? 0;
    out.preliminary[img.item] = img.preliminary ? 1 : 0;
  }
  return out;
}

/**
 * {@link computeFit} on a worker thread, so a fit over a million votes (tens of seconds of bootstrap, see
 * load-tests/RESULTS.md) never stalls this node's sockets. The thread loads TypeScript through tsx's API,
 * the way the hub itself runs (`node --import tsx`), whatever the parent's flags (vitest has none).
 */
export function computeFitInWorker(input: FitInput): Promise<FitOutput> {
  const entry = new URL('./tournaments.fit-worker.ts', import.meta.url).href;
  // tsx's ESM API sits next to the CommonJS one that require.resolve finds (its CJS register fails from an eval'd script).
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const code = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(tsxApi)})
      .then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })
      .catch((err) => parentPort.postMessage({ error: String((err && err.stack) || err) }));`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: input });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
      void worker.terminate();
    };
    worker.once('message', (msg: { result?: FitOutput; error?: string }) =>
      settle(() => (msg.result ? resolve(msg.result) : reject(new Error(`fit worker failed: ${msg.error ?? 'no result'}`)))),
    );
    worker.once('error', (err) => settle(() => reject(err)));
    worker.once('exit', (code) => settle(() => reject(new Error(`fit worker exited with code ${code} before answering`))));
  });
}
