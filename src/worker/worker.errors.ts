import type { JobError } from '../modules/jobs/jobs.events.js';
import { AppError } from '../platform/errors.js';

/**
 * How a failed job is reported: `retryable` decides whether the hub requeues it (with backoff, while
 * attempts remain) or fails it now. The rule: the input's fault (not an image, truncated, too many pixels,
 * schema, a missing original: 4xx) is final, since another attempt would see the same bytes; anything else
 * (model crash, hub unreachable, out of memory, this worker shutting down) may succeed elsewhere or later.
 */

/** Why the runner aborted a job: the reason travels as the AbortSignal's `reason`. */
export type AbortKind = 'cancelled' | 'shutdown' | 'lease_lost';

export class JobAbortedError extends Error {
  constructor(
    readonly kind: AbortKind,
    message: string,
  ) {
    super(message);
    this.name = 'JobAbortedError';
  }
}

export interface FailureReport {
  error: JobError;
  retryable: boolean;
}

/** 4xx statuses that a retry could still turn around (timeouts, rate limits, conflicts). */
const TRANSIENT_4XX = new Set([408, 409, 423, 425, 429]);

export function classifyFailure(err: unknown, signal?: AbortSignal): FailureReport {
  const reason: unknown = signal?.aborted ? signal.reason : err;
  if (reason instanceof JobAbortedError) {
    // A cancel is final (jobs.events.ts: answer `cancelled`, not retryable); a shutdown hands the job back.
    return reason.kind === 'cancelled'
      ? { error: { code: 'cancelled', message: reason.message }, retryable: false }
      : { error: { code: reason.kind === 'shutdown' ? 'worker_shutdown' : 'lease_lost', message: reason.message }, retryable: true };
  }
  if (err instanceof AppError) {
    const retryable = err.status >= 500 || TRANSIENT_4XX.has(err.status);
    return { error: { code: err.code, message: err.message.slice(0, 4000) }, retryable };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { error: { code: 'worker_error', message: message.slice(0, 4000) }, retryable: true };
}
