/** Run counts, medians and a busy-machine flag, shared by every benchmark so reports read the same. */
import { loadavg, cpus } from 'node:os';

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** RUNS env (default `fallback`, at least 1): how many times each side is measured. */
export function runCount(fallback = 3): number {
  const n = Number(process.env.RUNS ?? fallback);
  return Number.isInteger(n) && n >= 1 ? n : fallback;
}

/**
 * The 1-minute load average against the core count, sampled before a benchmark starts. A load above
 * 0.5 per core means something else was running: the numbers of that run are flagged, not trusted.
 */
export function machineLoad(): { load1: number; cores: number; busy: boolean; note: string } {
  const load1 = loadavg()[0]!;
  const cores = cpus().length;
  const busy = load1 > cores * 0.5;
  return { load1, cores, busy, note: `load average ${load1.toFixed(2)} on ${cores} cores${busy ? ' — MACHINE BUSY, numbers not comparable' : ''}` };
}

/** Prints the run header every benchmark starts with. */
export function announce(name: string, runs: number): void {
  const load = machineLoad();
  console.log(`# ${name}: ${runs} run(s) per side, node ${process.version}, ${load.note}`);
}

/** Interleaves sides so drift in machine load hits each side alike: A B C, A B C, ... */
export async function interleaved<T>(runs: number, sides: Record<string, () => Promise<T>>, onResult?: (side: string, run: number, value: T) => void): Promise<Record<string, T[]>> {
  const out: Record<string, T[]> = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  for (let run = 1; run <= runs; run++) {
    for (const [side, fn] of Object.entries(sides)) {
      const value = await fn();
      out[side]!.push(value);
      onResult?.(side, run, value);
    }
  }
  return out;
}
