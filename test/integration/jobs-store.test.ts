import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../src/migrations/index.js';
import * as store from '../../src/modules/jobs/jobs.store.js';
import { createOrm, migrate, type Orm } from '../../src/platform/db/orm.js';
import { createLogger } from '../../src/platform/logger.js';
import { entities } from '../../src/schema.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const KEEP = 8;
const backoff = { baseMs: 1, maxMs: 1 };

/**
 * The store records each change's push in the change's own statement (SQL built next to `pushFor`). What a
 * client replays with `since` must be exactly what watchers were pushed live: checked here for every status.
 */
describe('jobs store: one statement per change, history equal to the live pushes', () => {
  let db: TestDatabase;
  let orm: Orm;
  const em = () => orm.em.fork();
  const history = async (id: string) => store.eventsSince(em(), id, 0);
  // What watchers are sent (jobType is for in-process hooks only, neither sent nor stored).
  const live = (row: store.JobRow): store.JobPush => {
    const { jobType, ...push } = store.pushFor(row);
    expect(jobType).toBe(row.type);
    return push;
  };
  // Each test its own type, so a job another test left queued is never claimed here.
  const job = (type: string, ownerId: number | null = null) => ({ type, ownerId, input: { sha256s: ['a'.repeat(64)] }, priority: 0, maxAttempts: 2 });

  beforeAll(async () => {
    db = await createTestDatabase();
    orm = await createOrm({ url: db.url, poolMax: 4, debug: false, entities, migrations, logger: createLogger('silent') });
    await migrate(orm);
  }, 60_000);

  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('queued → active → progress → completed: each push stored as pushFor gives it', async () => {
    const created = (await store.insertJob(em(), job('t_done'), 10))!;
    expect(created).not.toHaveProperty('n');
    const [claimed] = await store.claimJobs(em(), 'w1', ['t_done'], 1, 60_000, KEEP);
    expect(claimed!.id).toBe(created.id);
    const progress: store.JobPush = { event: 'job:progress', payload: { jobId: created.id, seq: claimed!.seq + 1, status: 'active', stage: 'half', progress: 0.5, message: 'é "quoted"' } };
    expect(await store.writeProgress(em(), created.id, 'w1', { stage: 'half', progress: 0.5, message: 'é "quoted"', seq: claimed!.seq + 1 }, [progress], 60_000, KEEP)).toBe(true);
    const done = (await store.completeJob(em(), created.id, 'w1', claimed!.seq + 1, { pick: 'x', scores: [0.25, 1] }, { usd: 0.01 }, KEEP))!;
    expect(await history(created.id)).toEqual([live(created), live(claimed!), progress, live(done)]);
    // A duplicate completion changes nothing and records nothing.
    expect(await store.completeJob(em(), created.id, 'w1', 99, {}, null, KEEP)).toBeNull();
    expect(await history(created.id)).toHaveLength(4);
  });

  it('failed, requeued, cancelled and reaped rows store the same push as they send', async () => {
    const a = (await store.insertJob(em(), job('t_fail'), 10))!;
    const [ca] = await store.claimJobs(em(), 'w2', ['t_fail'], 1, 60_000, KEEP);
    const retry = (await store.failJob(em(), a.id, 'w2', ca!.seq, { code: 'boom', message: 'first' }, true, backoff, KEEP))!;
    expect(retry.status).toBe('queued');
    await new Promise((r) => setTimeout(r, 5));
    const [again] = await store.claimJobs(em(), 'w2', ['t_fail'], 1, 60_000, KEEP);
    const failed = (await store.failJob(em(), a.id, 'w2', again!.seq, { code: 'boom', message: 'second' }, true, backoff, KEEP))!;
    expect(failed.status).toBe('failed');
    expect(await history(a.id)).toEqual([a, ca!, retry, again!, failed].map(live));

    const b = (await store.insertJob(em(), job('t_fail'), 10))!;
    const cancelled = (await store.cancelJob(em(), b.id, 'changed my mind', KEEP))!;
    expect(cancelled.heldBy).toBeNull();
    expect(cancelled.row).not.toHaveProperty('prev');
    expect(await history(b.id)).toEqual([b, cancelled.row].map(live));

    const c = (await store.insertJob(em(), job('t_fail'), 10))!;
    const [cc] = await store.claimJobs(em(), 'w3', ['t_fail'], 1, 1, KEEP);
    await new Promise((r) => setTimeout(r, 20));
    const reaped = (await store.reapExpired(em(), backoff, KEEP)).find((r) => r.id === c.id)!;
    expect(reaped.status).toBe('queued');
    expect(await history(c.id)).toEqual([c, cc!, reaped].map(live));
  });

  it('progress from a worker that lost the lease records nothing', async () => {
    const a = (await store.insertJob(em(), job('t_lost'), 10))!;
    const [ca] = await store.claimJobs(em(), 'w4', ['t_lost'], 1, 60_000, KEEP);
    const push: store.JobPush = { event: 'job:progress', payload: { jobId: a.id, seq: ca!.seq + 1, status: 'active', stage: 's', progress: 0.1, message: null } };
    expect(await store.writeProgress(em(), a.id, 'someone-else', { stage: 's', progress: 0.1, message: null, seq: ca!.seq + 1 }, [push], 60_000, KEEP)).toBe(false);
    expect(await history(a.id)).toEqual([a, ca!].map(live));
  });

  it('keeps the newest KEEP events and raises history_floor past the trimmed ones', async () => {
    const a = (await store.insertJob(em(), job('t_trim'), 10))!;
    const [ca] = await store.claimJobs(em(), 'w5', ['t_trim'], 1, 60_000, KEEP);
    let seq = ca!.seq;
    for (let i = 0; i < 3; i++) {
      const pushes: store.JobPush[] = Array.from({ length: 5 }, () => ({ event: 'job:progress', payload: { jobId: a.id, seq: ++seq, status: 'active', stage: 'x', progress: 0, message: null } }));
      expect(await store.writeProgress(em(), a.id, 'w5', { stage: 'x', progress: 0, message: null, seq }, pushes, 60_000, KEEP)).toBe(true);
    }
    const kept = await history(a.id);
    expect(kept.map((e) => e.payload.seq)).toEqual(Array.from({ length: KEEP }, (_, i) => seq - KEEP + 1 + i));
    expect((await store.findJob(em(), a.id))!.history_floor).toBe(seq - KEEP);
  });

  it('completeAndClaim: the freed slot takes the next job in the same statement, only if the completion took', async () => {
    const next = { types: ['t_cc'], leaseMs: 60_000 };
    const a = (await store.insertJob(em(), job('t_cc'), 10))!;
    const [ca] = await store.claimJobs(em(), 'w6', ['t_cc'], 1, 60_000, KEEP);
    const b = (await store.insertJob(em(), job('t_cc'), 10))!;
    const c = (await store.insertJob(em(), job('t_cc'), 10))!;
    // A foreign or repeated completion claims nothing.
    expect(await store.completeAndClaim(em(), a.id, 'not-w6', ca!.seq, { pick: 'x' }, null, next, KEEP)).toEqual({ done: null, claimed: [] });
    const first = await store.completeAndClaim(em(), a.id, 'w6', ca!.seq, { pick: 'x' }, null, next, KEEP);
    expect(first.done).toMatchObject({ id: a.id, status: 'completed', result: { pick: 'x' } });
    expect(first.done).not.toHaveProperty('kind');
    expect(first.claimed.map((r) => [r.id, r.status, r.lease_owner, r.attempts])).toEqual([[b.id, 'active', 'w6', 1]]);
    expect(await history(a.id)).toEqual([a, ca!, first.done!].map(live));
    expect(await history(b.id)).toEqual([b, first.claimed[0]!].map(live));
    expect(await store.completeAndClaim(em(), a.id, 'w6', 99, {}, null, next, KEEP)).toEqual({ done: null, claimed: [] });
    // A paused queue gives nothing; null `next` (a draining worker) claims nothing either.
    await em().execute(`insert into queue_state (type, paused) values ('t_cc', true) on conflict (type) do update set paused = true`);
    const second = await store.completeAndClaim(em(), b.id, 'w6', first.claimed[0]!.seq, { pick: 'y' }, null, next, KEEP);
    expect(second.done?.status).toBe('completed');
    expect(second.claimed).toEqual([]);
    await em().execute(`update queue_state set paused = false where type = 't_cc'`);
    const [cc] = await store.claimJobs(em(), 'w6', ['t_cc'], 1, 60_000, KEEP);
    expect(cc!.id).toBe(c.id);
    expect((await store.completeAndClaim(em(), c.id, 'w6', cc!.seq, { pick: 'z' }, null, null, KEEP)).claimed).toEqual([]);
  });

  it('an owner at the in-flight limit is refused and nothing is inserted', async () => {
    const owner = (await em().execute<{ id: number }[]>(`insert into users (username, password_hash, role) values ('limit_owner', 'x', 'user') returning id`))[0]!.id;
    const made = await Promise.all(Array.from({ length: 6 }, () => store.insertJob(em(), job('t_limit', owner), 3)));
    expect(made.filter(Boolean)).toHaveLength(3);
    const rows = await em().execute<{ n: string }[]>(`select count(*) as n from jobs where owner_id = ?`, [owner]);
    expect(Number(rows[0]!.n)).toBe(3);
  });
});
