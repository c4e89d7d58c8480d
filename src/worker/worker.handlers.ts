import type { JobInput, JobResult, JobType } from '../modules/jobs/jobs.events.js';
import { JobMap } from '../modules/jobs/jobs.events.js';
import { AppError } from '../platform/errors.js';

/**
 * The worker side of the typed job map: one handler per job type (src/worker/jobs/<type>.ts), looked up
 * by the runner. A handler gets its input already parsed by `JobMap[type].input` and answers with a result
 * shaped like `JobMap[type].result`, where a sha256 the hub will store is named by an output's `name`
 * (jobs.events.ts: the hub swaps names for stored hashes).
 */

/** The slice of a pino logger handlers and the runner use. */
export interface WorkerLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface JobContext {
  jobId: string;
  attempt: number;
  /** Aborted on cancel, on shutdown past the grace period, and when the lease was lost. */
  signal: AbortSignal;
  /** Stage and 0..1 progress; also renews the lease (jobs.events.ts). Rate-limited by the runner. */
  progress(stage: string, progress: number, message?: string): void;
  /** Streamed text (ad copy as it is written): relayed by the hub to whoever follows the job; not stored. */
  delta?(text: string): void;
  /** Bytes of a stored media object (the original), from the hub. */
  fetchMedia(sha256: string): Promise<Buffer>;
  logger: WorkerLogger;
}

/** A binary output riding `job:complete` (a Buffer is fine: socket.io sends it as an attachment). */
export interface OutputFile {
  name: string;
  contentType: string;
  data: Uint8Array;
}

export interface JobOutcome<T extends JobType> {
  result: JobResult<T>;
  outputs?: OutputFile[];
  cost?: Record<string, number>;
}

export interface JobHandler<T extends JobType> {
  type: T;
  run(input: JobInput<T>, ctx: JobContext): Promise<JobOutcome<T>>;
}

/** A handler of some type; the registry pairs each with its own input schema. */
export type AnyJobHandler = { [T in JobType]: JobHandler<T> }[JobType];

export interface HandlerRegistry {
  types(): JobType[];
  has(type: string): type is JobType;
  /** Validates `input` against the type's schema (422 `invalid_input`, not retryable) and runs the handler. */
  run(type: JobType, input: unknown, ctx: JobContext): Promise<JobOutcome<JobType>>;
}

/**
 * @example
 * const registry = createRegistry([upscaleHandler(deps), bestcutHandler(deps)]);
 * const { result, outputs } = await registry.run('bestcut', { sha256s: [a, b] }, ctx);
 */
export function createRegistry(handlers: AnyJobHandler[]): HandlerRegistry {
  const byType = new Map<JobType, AnyJobHandler>();
  for (const h of handlers) {
    if (byType.has(h.type)) throw new TypeError(`two handlers for job type ${h.type}`);
    byType.set(h.type, h);
  }
  return {
    types: () => [...byType.keys()],
    has: (type): type is JobType => byType.has(type as JobType),
    async run(type, input, ctx) {
      const handler = byType.get(type);
      if (!handler) throw new AppError(422, 'unsupported_type', `This worker does not run ${type} jobs`);
      const parsed = JobMap[type].input.safeParse(input);
      if (!parsed.success) {
        const errors = parsed.error.issues.map((i) => ({ path: `input.${i.path.join('.')}`, message: i.message }));
        throw new AppError(422, 'invalid_input', `Invalid ${type} input: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`, { errors });
      }
      // The map guarantees handler.type === type, so the parsed input fits this handler.
      return (handler.run as (input: unknown, ctx: JobContext) => Promise<JobOutcome<JobType>>)(parsed.data, ctx);
    },
  };
}
