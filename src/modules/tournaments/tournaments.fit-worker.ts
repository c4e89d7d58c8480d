import { parentPort, workerData } from 'node:worker_threads';
import { computeFit, type FitInput } from './tournaments.fit-compute.js';

// Entry of the fit thread (tournaments.fit-compute.ts computeFitInWorker): one fit, one answer, exit.
try {
  const result = computeFit(workerData as FitInput);
  // Copied, not transferred: a few arrays of one entry per image, small next to the fit.
  parentPort!.postMessage({ result });
} catch (err) {
  parentPort!.postMessage({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
}
