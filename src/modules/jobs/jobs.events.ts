/**
 * The socket protocol between the hub and its workers (`/workers`), and the typed job map. This file is the
 * contract both sides import: the hub (jobs.service / workers.namespace) and the worker process
 * (src/worker.ts, src/worker/jobs/*). A new job type is one entry in JobMap plus one handler per side.
 *
 * Flow: worker connects with a worker token → `worker:hello` (ack {workerId, resume}) → the hub pushes
 * `job:assign` while the worker has free slots for a type it announced → the worker emits `job:progress`
 * (any number), then exactly one of `job:complete` / `job:fail`. The hub may push `job:cancel`; the worker
 * then stops and answers `job:fail {retryable: false, error: {code: 'cancelled'}}` (or nothing if it already
 * finished: the hub ignores late answers).
 *
 * Leases: `job:assign.leaseMs` is how long the worker holds the job without news. Every `job:progress` for a
 * job extends its lease (heartbeat implied by progress); a worker whose step is long and silent sends
 * `job:heartbeat {jobIds}` at least every leaseMs/3. An expired lease is requeued by the hub's reaper and may
 * go to another worker: the first worker's later complete/fail is then refused (`lease_lost`).
 *
 * Inputs reach the worker by URL: `GET {HUB_URL}/api/v1/media/{sha256}?variant=original` with the worker
 * token as `Authorization: Bearer`. Outputs ride the socket as binary (`outputs[].data`); the hub stores them
 * through the media service (larger than ~1 MB: in pieces, see JobOutputChunk) and the result names them by sha256: the worker puts an output's `name` where
 * the result wants a sha256 (e.g. result `{sha256: 'out', ...}` with outputs `[{name: 'out', ...}]`); the hub
 * replaces every top-level string value of `result` equal to an output name by that output's stored sha256,
 * then validates the result against JobMap[type].result.
 *
 * Every worker→hub event is acked `{ok: true, data}` or `{ok: false, error: {code, message}}`.
 */
import { z } from 'zod';
import { AdImageResult, AdJobInput, AdTextResult } from '../studio/studio.job-schemas.js';

export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');
/** Job ids are uuids: not guessable, not enumerable. */
export const JobId = z.uuid();

// ---------- job map ----------

export const UpscaleInput = z.strictObject({
  /** sha256 of the stored original (media). */
  sha256: Sha256,
  scale: z.union([z.literal(2), z.literal(4)]),
  /** Manifest model name (weights/manifest.json); absent: the worker's default for the scale. */
  model: z.string().min(1).max(100).optional(),
});
export const UpscaleResult = z.strictObject({
  /** sha256 of the stored result (media); the worker sends the name of the output that holds it. */
  sha256: Sha256,
  width: z.int().positive(),
  height: z.int().positive(),
  model: z.string(),
  provider: z.string(),
  ms: z.number().nonnegative(),
});

export const BestcutInput = z.strictObject({
  sha256s: z.array(Sha256).min(2).max(10),
});
export const BestcutResult = z.strictObject({
  scores: z.array(
    z.strictObject({ sha256: Sha256, sharpness: z.number(), exposure: z.number(), ok: z.boolean() }),
  ),
  /** sha256 of the picked candidate. */
  pick: Sha256,
});


export const JobMap = {
  upscale: { input: UpscaleInput, result: UpscaleResult },
  bestcut: { input: BestcutInput, result: BestcutResult },
  // The ad studio (modules/studio/studio.job-schemas.ts).
  ad_text: { input: AdJobInput, result: AdTextResult },
  ad_image: { input: AdJobInput, result: AdImageResult },
} as const;

export type JobType = keyof typeof JobMap;
export const JOB_TYPES = Object.keys(JobMap) as JobType[];
export const JobTypeSchema = z.enum(JOB_TYPES as [JobType, ...JobType[]]);
export type JobInput<T extends JobType> = z.output<(typeof JobMap)[T]['input']>;
export type JobResult<T extends JobType> = z.output<(typeof JobMap)[T]['result']>;

export const JOB_STATUSES = ['queued', 'active', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINISHED_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

export const JobError = z.strictObject({
  code: z.string().min(1).max(100),
  message: z.string().max(4000),
});
export type JobError = z.output<typeof JobError>;

// ---------- worker → hub ----------

export const WorkerHello = z.strictObject({
  capabilities: z.strictObject({
    types: z.array(JobTypeSchema).min(1).max(JOB_TYPES.length),
    models: z.array(z.string().max(100)).max(50).default([]),
    /** Execution provider in use: 'cuda' | 'webgpu' | 'cpu' | 'none' (free text, shown on the dashboard). */
    provider: z.string().min(1).max(50),
    concurrency: z.int().min(1).max(64),
    version: z.string().max(50).default('0'),
  }),
  /**
   * Stable per worker process (random at start, kept across reconnects): the lease owner is
   * `<token worker id>/<instanceId>`, so two processes sharing one token never hold each other's jobs and a
   * reconnecting process is recognised. Absent: the token's worker id alone.
   */
  instanceId: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/).optional(),
  /** Jobs this worker still runs after a reconnect; the hub re-binds those whose lease it still holds. */
  running: z.array(JobId).max(64).default([]),
});
export type WorkerHello = z.input<typeof WorkerHello>;
export const WorkerHelloAck = z.object({
  workerId: z.string(),
  /** Of `running`: the jobs re-bound to this worker (keep going); the others were lost: drop them. */
  resume: z.array(JobId),
});
export type WorkerHelloAck = z.output<typeof WorkerHelloAck>;

export const JobProgress = z.strictObject({
  jobId: JobId,
  stage: z.string().min(1).max(100),
  progress: z.number().min(0).max(1),
  message: z.string().max(500).optional(),
});
export type JobProgress = z.output<typeof JobProgress>;

export const JobDelta = z.strictObject({ jobId: JobId, text: z.string().max(16_000) });
export type JobDelta = z.output<typeof JobDelta>;

export const JobHeartbeat = z.strictObject({ jobIds: z.array(JobId).min(1).max(64) });
export type JobHeartbeat = z.output<typeof JobHeartbeat>;

export const JobOutput = z.strictObject({
  name: z.string().min(1).max(100),
  contentType: z.string().min(1).max(100),
  /** A Buffer on Node (socket.io binary attachment). */
  data: z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'must be binary (Buffer)'),
});
export type JobOutput = z.output<typeof JobOutput>;

/**
 * One piece of a binary output too large for one socket message (the hub's socket.io limit is 1 MB per
 * message): send pieces of at most OUTPUT_CHUNK_BYTES in order, then `job:complete` naming the output in
 * `result` (its `outputs` may then omit it). Pieces of one name are appended; the whole output is bounded by
 * the hub's upload size limit. Outputs under the limit may simply ride in `job:complete.outputs`.
 */
export const OUTPUT_CHUNK_BYTES = 512 * 1024;
export const JobOutputChunk = z.strictObject({
  jobId: JobId,
  name: z.string().min(1).max(100),
  contentType: z.string().min(1).max(100),
  data: z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.byteLength <= OUTPUT_CHUNK_BYTES, `must be binary (Buffer) of at most ${OUTPUT_CHUNK_BYTES} bytes`),
});
export type JobOutputChunk = z.output<typeof JobOutputChunk>;

export const JobComplete = z.strictObject({
  jobId: JobId,
  /** Validated against JobMap[type].result after output names are replaced by stored sha256s. */
  result: z.record(z.string(), z.unknown()),
  outputs: z.array(JobOutput).max(16).default([]),
  /** Optional cost accounting (tokens, ms, money); summed on the dashboard. */
  cost: z.record(z.string(), z.number()).optional(),
});
export type JobComplete = z.input<typeof JobComplete>;

export const JobFail = z.strictObject({
  jobId: JobId,
  error: JobError,
  /** true: requeue with backoff while attempts remain; false: fail now. */
  retryable: z.boolean(),
});
export type JobFail = z.output<typeof JobFail>;

/**
 * Ack codes a worker may see from complete/fail/progress/heartbeat:
 * - `ok` data `{status}`; `not_found`; `lease_lost` (the job is not active under this worker: expired and
 *   requeued, cancelled, or already finished; a duplicate completion gets `already_finished`).
 */
export const ACK_CODES = ['lease_lost', 'already_finished', 'not_found', 'invalid_result'] as const;

// ---------- hub → worker ----------

export const JobAssign = z.object({
  jobId: JobId,
  type: JobTypeSchema,
  input: z.unknown(),
  /** 1 for the first try. */
  attempt: z.int().min(1),
  leaseMs: z.int().positive(),
});
export type JobAssign = z.output<typeof JobAssign>;

export const JobCancel = z.object({ jobId: JobId, reason: z.string() });
export type JobCancel = z.output<typeof JobCancel>;

/** Event names, so neither side types a string twice. */
export const WorkerEvents = {
  hello: 'worker:hello',
  assign: 'job:assign',
  progress: 'job:progress',
  delta: 'job:delta',
  heartbeat: 'job:heartbeat',
  output: 'job:output',
  complete: 'job:complete',
  fail: 'job:fail',
  cancel: 'job:cancel',
} as const;
