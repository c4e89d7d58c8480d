import { describe, expect, it } from 'vitest';
import { JobComplete, JobMap, WorkerHello } from './jobs.events.js';
import { resolveOutputRefs } from './jobs.service.js';
import { pushFor, type JobRow } from './jobs.store.js';

const sha = 'a'.repeat(64);
const row = (over: Partial<JobRow>): JobRow => ({
  id: '00000000-0000-4000-8000-000000000001', type: 'bestcut', owner_id: 1, input: {}, priority: 0, status: 'active', stage: 's', progress: 0.5,
  message: null, attempts: 1, max_attempts: 3, run_after: new Date(), lease_owner: 'w', lease_expires_at: null, result: null, last_error: null,
  cost: null, cancel_reason: null, seq: 7, history_floor: 0, created_at: new Date(), started_at: null, finished_at: null, updated_at: new Date(), ...over,
});

describe('jobs helpers', () => {
  it('replaces output names in the result by stored sha256s, top level only', () => {
    const stored = new Map([['out', sha]]);
    expect(resolveOutputRefs({ sha256: 'out', model: 'out-model', nested: { sha256: 'out' } }, stored)).toEqual({ sha256: sha, model: 'out-model', nested: { sha256: 'out' } });
    expect(JobMap.upscale.result.safeParse(resolveOutputRefs({ sha256: 'out', width: 2, height: 2, model: 'm', provider: 'cpu', ms: 1 }, stored)).success).toBe(true);
    expect(JobMap.upscale.result.safeParse({ sha256: 'out', width: 2, height: 2, model: 'm', provider: 'cpu', ms: 1 }).success).toBe(false);
  });

  it('derives the push from the row state', () => {
    expect(pushFor(row({}))).toEqual({ event: 'job:progress', payload: { jobId: row({}).id, seq: 7, status: 'active', stage: 's', progress: 0.5, message: null }, jobType: 'bestcut' });
    expect(pushFor(row({ status: 'completed', result: { pick: sha } })).event).toBe('job:done');
    expect(pushFor(row({ status: 'failed', last_error: { code: 'boom', message: 'x' } })).payload).toMatchObject({ error: { code: 'boom' } });
    expect(pushFor(row({ status: 'cancelled', cancel_reason: 'user' })).payload).toMatchObject({ status: 'cancelled', error: { code: 'cancelled', message: 'user' } });
  });

  it('validates the protocol at the edge', () => {
    expect(WorkerHello.safeParse({ capabilities: { types: ['upscale'], provider: 'cpu', concurrency: 0 } }).success).toBe(false);
    expect(WorkerHello.safeParse({ capabilities: { types: [], provider: 'cpu', concurrency: 1 } }).success).toBe(false);
    expect(WorkerHello.parse({ capabilities: { types: ['upscale'], provider: 'cpu', concurrency: 2 } })).toMatchObject({ running: [], capabilities: { models: [] } });
    expect(JobComplete.safeParse({ jobId: row({}).id, result: {}, outputs: [{ name: 'o', contentType: 'image/png', data: 'not binary' }] }).success).toBe(false);
    expect(JobComplete.safeParse({ jobId: row({}).id, result: {}, outputs: [{ name: 'o', contentType: 'image/png', data: Buffer.from([1]) }] }).success).toBe(true);
    expect(JobMap.bestcut.input.safeParse({ sha256s: [sha] }).success).toBe(false);
    expect(JobMap.bestcut.input.safeParse({ sha256s: Array(11).fill(sha) }).success).toBe(false);
    expect(JobMap.upscale.input.safeParse({ sha256: sha, scale: 3 }).success).toBe(false);
  });
});
