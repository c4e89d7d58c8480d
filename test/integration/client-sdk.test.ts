import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Easel, EaselError, type Cause, type EventView, type JobView } from '../../src/client/index.js';
import { makePng } from '../../src/modules/media/test-fixtures.js';
import { AppError } from '../../src/platform/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { adminToken, FAST_EVENTS, seedImages } from '../helpers/events.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { FakeWorker, until } from '../helpers/jobs.js';

/**
 * The SDK against a real hub: promise acks and typed errors, token refresh swapped on live sockets without
 * reconnecting, a refused refresh as signed-out, and job and live-event streams resumed after going offline
 * with nothing missed and nothing twice (replay, and snapshot when the history no longer reaches back).
 */
const ACCESS_TTL = 5;

describe('client SDK against a hub', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let sql: pg.Client;
  let workerToken: string;
  const clients: Easel[] = [];
  const workers: FakeWorker[] = [];
  let n = 0;

  const client = () => {
    const c = new Easel({ url: hub.url, watchNetwork: false });
    clients.push(c);
    return c;
  };
  const signedUp = async () => {
    const c = client();
    await c.register({ username: `sdk_user_${n++}`, password: 'correct-horse-battery' });
    return c;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({
      dbUrl: db.url,
      overrides: {
        auth: { accessTtlSeconds: ACCESS_TTL, clockToleranceSeconds: 0, admin: { username: 'sdk_admin', password: 'admin-password-1' } },
        events: { ...FAST_EVENTS, windowMs: 1500, historySize: 256 },
        jobs: { historySize: 4 },
        rateLimits: { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 }, socketEvents: { limit: 5000, windowSeconds: 1 } },
      },
    });
    await hub.app.identity.bootstrapAdmin(hub.orm.em.fork(), 'sdk_admin', 'admin-password-1');
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    workerToken = (await hub.app.tokens.issueWorker('sdk-worker')).token;
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    for (const w of workers.splice(0)) w.close();
  });
  afterAll(async () => {
    await sql?.end();
    await hub?.stop();
    await db?.drop();
  });

  it('resolves acks with data and rejects with an EaselError carrying the code', async () => {
    const c = await signedUp();
    const page = await c.request('/tournament', 'leaderboard:watch', { limit: 5 });
    expect(page.items).toEqual([]);
    const bad = await c.request('/', 'job:watch', { jobId: 'not-a-uuid' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(EaselError);
    expect((bad as EaselError).code).toBe('validation_failed');
    const missing = await c.request('/tournament', 'event:join', { eventId: 999_999 }).catch((e: unknown) => e);
    expect((missing as EaselError).code).toMatch(/not_found/);
    // HTTP helpers reject the same way, with the status.
    const http = await c.api.images.get(999_999).catch((e: unknown) => e);
    expect(http).toMatchObject({ code: expect.stringMatching(/not_found/), status: 404 });
    const dup = await client().register({ username: 'sdk_user_0', password: 'correct-horse-battery' }).catch((e: unknown) => e);
    expect((dup as EaselError).status).toBe(409);
  });

  it('refreshes the token before it expires and swaps it on the socket without reconnecting', async () => {
    const c = await signedUp();
    const s = c.socket('/');
    await until(() => s.connected, 5000, 'connected');
    const sid = s.id;
    let disconnects = 0;
    s.on('disconnect', () => disconnects++);
    const first = c.auth.token;
    // Two access lifetimes: without auth:refresh the hub would have ended the socket (token_expired).
    await new Promise((r) => setTimeout(r, ACCESS_TTL * 2000 + 1000));
    expect(c.auth.token).not.toBe(first);
    expect(s.connected).toBe(true);
    expect(s.id).toBe(sid);
    expect(disconnects).toBe(0);
    // The socket still answers under the new token.
    await expect(c.request('/', 'image:watch', { imageId: 1 })).rejects.toMatchObject({ code: expect.stringMatching(/not_found/) });
  }, 30_000);

  it('surfaces a refused refresh as signed out', async () => {
    const c = await signedUp();
    const states: string[] = [];
    c.onAuth((a) => states.push(a.state === 'signed-out' ? `signed-out:${a.reason}` : a.state));
    // Someone spends the refresh token (another device): the SDK's own refresh is then a reuse and is refused.
    const stolen = c.auth.current!.refreshToken!;
    await c.api.auth.refresh(stolen);
    expect(await c.auth.renew()).toBe(false);
    expect(states.at(-1)).toMatch(/^signed-out:refresh_/);
    expect(c.auth.state.state).toBe('signed-out');
  });

  async function startJob(c: Easel): Promise<string> {
    const png = await makePng(16, 16);
    const res = await c.api.photos.bestcut([new Blob([png], { type: 'image/png' }), new Blob([await makePng(16, 17)], { type: 'image/png' })]);
    return res.job_id;
  }

  it('resumes a watched job after going offline: replayed pushes once each, in order', async () => {
    const c = await signedUp();
    const w = await FakeWorker.start(hub.url, workerToken, { types: ['bestcut'] });
    workers.push(w);
    const jobId = await startJob(c);
    const seen: { seq: number; cause: Cause['kind']; status: string; progress: number }[] = [];
    const watch = c.watchJob(jobId, (v: JobView, cause) => seen.push({ seq: v.seq, cause: cause.kind, status: v.status, progress: v.progress }));
    const a = await w.nextAssign(10_000);
    await w.progress(jobId, 0.25);
    await until(() => watch.view?.progress === 0.25, 5000, 'first progress');
    c.setOffline(true);
    await until(() => !c.socket('/').connected, 5000, 'offline');
    await w.progress(jobId, 0.5);
    await w.progress(jobId, 0.75);
    // The hub writes progress (and its history) to the row at most every jobs.progressWriteMs (500 ms here):
    // a watch before that sees the row as it was. Past it, the missed pushes are in the history.
    await new Promise((r) => setTimeout(r, 800));
    c.setOffline(false);
    await until(() => watch.view?.progress === 0.75, 10_000, 'replayed progress');
    await w.completeBestcut(a);
    await until(() => watch.view?.status === 'completed', 10_000, 'done');
    const seqs = seen.map((s) => s.seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seen.some((s) => s.cause === 'replay' && s.progress === 0.5)).toBe(true);
    expect(seen.at(-1)).toMatchObject({ status: 'completed', cause: 'push' });
  });

  it('keeps a push that arrives before the first snapshot and applies it after the resync', async () => {
    const c = await signedUp();
    const w = await FakeWorker.start(hub.url, workerToken, { types: ['bestcut'] });
    workers.push(w);
    const jobId = await startJob(c);
    const a = await w.nextAssign(10_000);
    // Progress 0.1 reaches the row at once; the next write waits jobs.progressWriteMs (500 ms), so for that
    // long a snapshot says 0.1 while the push already said 0.25.
    await w.progress(jobId, 0.1);
    const service = hub.app.jobs.service;
    const watch = service.watch;
    let calls = 0;
    service.watch = (...args: Parameters<typeof watch>) => (calls++ === 0 ? Promise.reject(new AppError(503, 'db_unavailable', 'the database is not answering')) : watch.apply(service, args));
    try {
      const errors: string[] = [];
      const view = c.watchJob(jobId, () => {}, (e) => errors.push(e.code));
      await until(() => errors.length > 0, 5000, 'the first job:watch fails');
      expect([errors, view.view]).toEqual([['db_unavailable'], null]);
      // The owner gets the push through its user room with no view yet: the SDK resyncs, and the snapshot it
      // gets is older than the push. Dropping the push (as it did) left the view at 0.1 until the next push.
      await w.progress(jobId, 0.25);
      await until(() => view.view?.progress === 0.25, 5000, 'the early push, applied after the resync');
      expect(calls).toBe(2);
      view.close();
    } finally {
      service.watch = watch;
    }
    await w.completeBestcut(a);
  });

  it('takes the snapshot when the job history no longer reaches back (recovered: false)', async () => {
    const c = await signedUp();
    const w = await FakeWorker.start(hub.url, workerToken, { types: ['bestcut'] });
    workers.push(w);
    const jobId = await startJob(c);
    const causes: Cause['kind'][] = [];
    const watch = c.watchJob(jobId, (_v, cause) => causes.push(cause.kind));
    const a = await w.nextAssign(10_000);
    await until(() => watch.view !== null, 5000, 'first snapshot');
    c.setOffline(true);
    await until(() => !c.socket('/').connected, 5000, 'offline');
    for (let i = 1; i <= 8; i++) await w.progress(jobId, i / 10);
    await w.completeBestcut(a);
    c.setOffline(false);
    await until(() => watch.view?.status === 'completed', 10_000, 'snapshot after reconnect');
    expect(causes.filter((k) => k === 'snapshot').length).toBe(2);
    expect(watch.view?.result).toMatchObject({ pick: expect.any(String) });
  });

  it('resumes a live event after missing a whole matchup offline: same bracket and champion as a client that stayed', async () => {
    const owner = await signedUp();
    const images = await seedImages(sql, (await owner.api.auth.me()).id, 8);
    const admin = await adminToken(hub.url, 'sdk_admin', 'admin-password-1');
    const made = await fetch(`${hub.url}/api/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'sdk', entrants: 8, selection: 'list', image_ids: images }) });
    const eventId = ((await made.json()) as { id: number }).id;
    const stay = await signedUp();
    const away = await signedUp();
    const log = (list: string[]) => (v: EventView, cause: Cause) => list.push(`${cause.kind}:${cause.kind === 'snapshot' ? '' : cause.event}@${v.seq}`);
    const stayLog: string[] = [];
    const awayLog: string[] = [];
    const stayed = stay.joinEvent(eventId, log(stayLog));
    const gone = away.joinEvent(eventId, log(awayLog));
    await until(() => stayed.view !== null && gone.view !== null, 5000, 'joined');
    await fetch(`${hub.url}/api/v1/events/${eventId}/start`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    await until(() => stayed.view?.current_matchup_id != null, 10_000, 'first matchup');
    await stayed.vote('left');
    await until(() => (gone.view?.matchups.find((m) => m.id === stayed.view?.current_matchup_id)?.left_votes ?? 0) >= 1, 10_000, 'tally seen by the other client');
    away.setOffline(true);
    const offlineAt = stayed.view!.seq;
    // Offline through at least one result and the next matchup opening.
    await until(() => (stayed.view?.seq ?? 0) >= offlineAt + 3, 20_000, 'a matchup missed');
    away.setOffline(false);
    await until(() => stayed.view?.status === 'finished' && gone.view?.status === 'finished', 40_000, 'both finished');
    expect(gone.view!.champion_id).toBe(stayed.view!.champion_id);
    expect(gone.view!.matchups.map((m) => m.winner_id)).toEqual(stayed.view!.matchups.map((m) => m.winner_id));
    expect(awayLog.some((l) => l.startsWith('replay:event:result'))).toBe(true);
    // No seq went backwards or repeated for entries the app saw.
    const entrySeqs = awayLog.filter((l) => /^(push|replay):event:(matchup|result|finished)/.test(l)).map((l) => Number(l.split('@')[1]));
    expect(new Set(entrySeqs).size).toBe(entrySeqs.length);
    expect([...entrySeqs].sort((x, y) => x - y)).toEqual(entrySeqs);
  }, 60_000);

  it('uploads through fetch in Node, reporting progress 0 then 1', async () => {
    const c = await signedUp();
    const marks: number[] = [];
    const img = await c.api.images.upload({ file: new Blob([await makePng(20, 20)], { type: 'image/png' }), prompt: 'a sdk upload', tournament_opt_in: true }, { onProgress: (p) => marks.push(p.fraction) });
    expect(img.prompt).toBe('a sdk upload');
    expect(marks).toEqual([0, 1]);
    const stored = await c.api.media.upload(new Blob([await makePng(21, 20)], { type: 'image/png' }));
    expect(stored.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await c.api.ops.health()).toMatchObject({ status: expect.any(String) });
    // Admin helpers are typed too; a plain user gets the hub's refusal as an EaselError.
    await expect(c.api.jobs.adminStats()).rejects.toMatchObject({ status: 403 });
    const counts: number[] = [];
    const stop = c.watchLikes(img.id, (n) => counts.push(n));
    await until(() => counts.length === 1, 5000, 'like count');
    const liker = await signedUp();
    await liker.api.images.like(img.id);
    await until(() => counts.at(-1) === 1, 10_000, 'live like');
    stop();
  });

  it('guests cannot vote and get a typed error; signing out disconnects', async () => {
    const g = client();
    await g.continueAsGuest();
    expect(g.auth.state.state).toBe('guest');
    const err = await g.request('/tournament', 'match:vote', { matchupToken: 'x', winnerId: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EaselError);
    const s = g.socket('/tournament');
    await until(() => s.connected, 5000, 'guest connected');
    await g.signOut();
    await until(() => !s.connected, 5000, 'disconnected on sign-out');
  });
});

