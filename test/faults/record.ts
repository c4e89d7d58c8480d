import { appendFileSync } from 'node:fs';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FaultRecord {
  fault: string;
  /** What was lost: must never be anything durable (a final result, a job completion, a vote). */
  lost: string;
  /** How long recovery took, measured. */
  recovery: string;
  notes?: string;
}

/**
 * Prints one fault's outcome (so CI logs show it) and, with FAULTS_REPORT=<file>, appends it there as a
 * JSON line: `FAULTS_REPORT=/tmp/faults.jsonl npx vitest run test/faults` gathers the table kept in
 * load-tests/RESULTS.md.
 */
export function record(entry: FaultRecord): void {
  console.log(`[fault] ${entry.fault}\n  lost: ${entry.lost}\n  recovery: ${entry.recovery}${entry.notes ? `\n  notes: ${entry.notes}` : ''}`);
  const file = process.env.FAULTS_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify({ ...entry, at: new Date().toISOString() })}\n`);
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await fn();
  return { value, ms: Date.now() - started };
}

/** Polls `check` until it is true; fails after `timeoutMs` naming `what`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
