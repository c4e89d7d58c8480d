import type { JobAssign, JobDelta, JobFail, JobProgress } from '../modules/jobs/jobs.events.js';
import { classifyFailure, JobAbortedError, type FailureReport } from './worker.errors.js';
import type { HandlerRegistry, OutputFile, WorkerLogger } from './worker.handlers.js';

/**
 * Runs assigned jobs, no sockets involved (the connection feeds it and forwards what it emits): at most
 * `concurrency` at once, one AbortController each, exactly one final answer (`complete` or `fail`) per
 * accepted assignment, or none when the lease was lost (the hub has moved the job on).
 *
 * A cancel or a shutdown past its grace answers at once rather than when the handler notices the signal:
 * the hub learns promptly and the slot frees; the handler's late outcome is ignored. Handlers check the
 * signal between tiles, so the work itself stops within one tile.
 */

export interface JobCompletion {
  jobId: string;
  result: Record<string, unknown>;
  outputs: OutputFile[];
  cost?: Record<string, number>;
}

export interface RunnerSink {
  progress(p: JobProgress): void;
  /** Streamed text of a running job (fire-and-forget, in order). */
  delta?(d: JobDelta): void;
  complete(c: JobCompletion): void;
  fail(f: JobFail): void;
}

export interface RunnerOptions {
  registry: HandlerRegistry;
  concurrency: number;
  sink: RunnerSink;
  fetchMedia(sha256: string, signal: AbortSignal): Promise<Buffer>;
  logger: WorkerLogger;
  /** Least time between two progress events of one job with the same stage, except a stage's 1 (default 100 ms). */
  progressIntervalMs?: number;
}

export interface Runner {
  /** Starts the job, or answers `job:fail` at once (retryable) when full or draining. */
  assign(job: JobAssign): void;
  /** A cancel from the hub: aborts and answers `cancelled`. false when the job is not running here. */
  cancel(jobId: string, reason: string): boolean;
  /** The hub no longer binds this job to us (lost lease): abort it and answer nothing. */
  drop(jobId: string): void;
  runningIds(): string[];
  /** Smallest `leaseMs` among running jobs (drives heartbeats), null when idle. */
  shortestLeaseMs(): number | null;
  readonly draining: boolean;
  /**
   * Stops taking work, waits up to `graceMs` for running jobs, then hands the rest back
   * (`job:fail` retryable, `worker_shutdown`). Resolves once every job has answered.
   */
  drain(graceMs: number): Promise<{ finished: number; handedBack: number }>;
}

interface Running {
  job: JobAssign;
  controller: AbortController;
  done: Promise<void>;
}

export function createRunner(opts: RunnerOptions): Runner {
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${opts.concurrency}`);
  const interval = opts.progressIntervalMs ?? 100;
  const running = new Map<string, Running>();
  let draining = false;
  let handedBack = 0;
  let finished = 0;

  const refuse = (jobId: string, report: FailureReport) => opts.sink.fail({ jobId, ...report });

  function progressReporter(jobId: string, signal: AbortSignal) {
    let last: { stage: string; at: number } | null = null;
    let pending: JobProgress | null = null;
    let timer: NodeJS.Timeout | null = null;
    const send = (p: JobProgress) => {
      last = { stage: p.stage, at: Date.now() };
      pending = null;
      opts.sink.progress(p);
    };
    const report = (stage: string, progress: number, message?: string) => {
      if (signal.aborted) return;
      const p: JobProgress = { jobId, stage, progress: Math.min(1, Math.max(0, Number.isFinite(progress) ? progress : 0)), ...(message ? { message: message.slice(0, 500) } : {}) };
      const wait = last && last.stage === stage ? last.at + interval - Date.now() : 0;
      // A stage's end (1) always goes out: it may be the last word before the answer.
      if (wait <= 0 || p.progress === 1) {
        if (timer) clearTimeout(timer);
        timer = null;
        send(p);
        return;
      }
      // Same stage within the interval: keep the latest and send it when the interval ends.
      pending = p;
      timer ??= setTimeout(() => {
        timer = null;
        if (pending && !signal.aborted && running.has(jobId)) send(pending);
      }, wait);
    };
    const stop = () => {
      if (timer) clearTimeout(timer);
    };
    return { report, stop };
  }

  async function execute(job: JobAssign, controller: AbortController): Promise<void> {
    const { signal } = controller;
    const reporter = progressReporter(job.jobId, signal);
    const log = { jobId: job.jobId, type: job.type, attempt: job.attempt };
    const started = Date.now();
    // Settles when aborted, so a handler that ignores its signal cannot hold the answer back.
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    aborted.catch(() => {}); // observed below through race; this only silences the unhandled copy
    try {
      opts.logger.info(log, 'job started');
      const work = opts.registry.run(job.type, job.input, {
        jobId: job.jobId,
        attempt: job.attempt,
        signal,
        progress: reporter.report,
        delta: (text) => {
          if (!signal.aborted && text) opts.sink.delta?.({ jobId: job.jobId, text });
        },
        fetchMedia: (sha256) => opts.fetchMedia(sha256, signal),
        logger: opts.logger,
      });
      work.catch(() => {}); // a rejection after an abort has nobody left to tell
      const outcome = await Promise.race([work, aborted]);
      signal.throwIfAborted();
      reporter.stop();
      running.delete(job.jobId);
      finished++;
      opts.logger.info({ ...log, ms: Date.now() - started }, 'job completed');
      opts.sink.complete({ jobId: job.jobId, result: outcome.result as Record<string, unknown>, outputs: outcome.outputs ?? [], ...(outcome.cost ? { cost: outcome.cost } : {}) });
    } catch (err) {
      reporter.stop();
      running.delete(job.jobId);
      const kind = signal.aborted && signal.reason instanceof JobAbortedError ? signal.reason.kind : null;
      if (kind === 'lease_lost') {
        opts.logger.warn(log, 'job dropped: the hub no longer holds it for this worker');
        return;
      }
      const report = classifyFailure(err, signal);
      if (kind === 'shutdown') handedBack++;
      else finished++;
      const level = report.retryable ? 'warn' : 'info';
      opts.logger[level]({ ...log, ms: Date.now() - started, code: report.error.code, retryable: report.retryable, message: report.error.message }, 'job failed');
      opts.sink.fail({ jobId: job.jobId, ...report });
    }
  }

  return {
    assign(job) {
      if (running.has(job.jobId)) {
        // The hub re-sent a job we already run (e.g. after a reconnect): keep the one in progress.
        opts.logger.debug({ jobId: job.jobId }, 'duplicate assignment ignored');
        return;
      }
      if (draining) return refuse(job.jobId, { error: { code: 'worker_shutdown', message: 'Worker is shutting down' }, retryable: true });
      if (running.size >= opts.concurrency) {
        return refuse(job.jobId, { error: { code: 'worker_busy', message: `Worker is running ${running.size} of ${opts.concurrency} jobs` }, retryable: true });
      }
      const controller = new AbortController();
      const entry: Running = { job, controller, done: Promise.resolve() };
      running.set(job.jobId, entry);
      entry.done = execute(job, controller);
    },
    cancel(jobId, reason) {
      const entry = running.get(jobId);
      if (!entry) return false;
      entry.controller.abort(new JobAbortedError('cancelled', `Cancelled: ${reason}`.slice(0, 4000)));
      return true;
    },
    drop(jobId) {
      running.get(jobId)?.controller.abort(new JobAbortedError('lease_lost', 'The hub no longer holds this job for this worker'));
    },
    runningIds: () => [...running.keys()],
    shortestLeaseMs() {
      let min: number | null = null;
      for (const { job } of running.values()) min = min === null ? job.leaseMs : Math.min(min, job.leaseMs);
      return min;
    },
    get draining() {
      return draining;
    },
    async drain(graceMs) {
      draining = true;
      const all = () => Promise.all([...running.values()].map((r) => r.done));
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const outcome = await Promise.race([all().then(() => 'done' as const), graceOver]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        for (const r of running.values()) r.controller.abort(new JobAbortedError('shutdown', `Worker shutting down: not finished within ${graceMs} ms, handed back`));
        await all();
      }
      return { finished, handedBack };
    },
  };
}
