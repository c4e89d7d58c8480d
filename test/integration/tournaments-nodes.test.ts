import pg from 'pg';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildHub, type ChildHub } from '../helpers/child-hub.js';
import { api, connectSocket, emitAck, nextEvent, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, REDIS_URL, type TestDatabase } from '../helpers/db.js';
import { seedImages, sleep } from '../helpers/events.js';
import { newRedisPrefix, startTestHub, type TestHub } from '../helpers/hub.js';

const LIMITS = { register: { limit: 1000, windowSeconds: 60 }, socketEvents: { limit: 1000, windowSeconds: 1 } };
const INTERVAL_MS = 500;
const TOURNAMENTS = { matchupTtlSeconds: 60, candidateCacheMs: 0, leaderboardWindowMs: 50, fit: { intervalMs: INTERVAL_MS, minVotes: 1, replicates: 10, priorWeight: 1 } };

/*
 * Two hub nodes on one database and one Redis: B is a child process (two uWS hubs cannot share a process),
 * A runs in this one. Both run the periodic fit timer.
 */
describe('quick matchups across two hub nodes', () => {
  let db: TestDatabase;
  let a: TestHub;
  let b: ChildHub;
  let sql: pg.Client;
  let voter: { token: string; userId: number };
  const open: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const prefix = newRedisPrefix();
    b = await startChildHub({
      env: {
        HTTP_ENGINE: 'uws',
        DATABASE_URL: db.url,
        REDIS_URL,
        EASEL__REDIS__KEY_PREFIX: prefix,
        EASEL__TOURNAMENTS: JSON.stringify(TOURNAMENTS),
        EASEL__RATE_LIMITS__REGISTER: JSON.stringify(LIMITS.register),
        EASEL__RATE_LIMITS__SOCKET_EVENTS: JSON.stringify(LIMITS.socketEvents),
        EASEL__SERVER__SHUTDOWN_GRACE_MS: '1000',
      },
    });
    a = await startTestHub({ dbUrl: db.url, engine: 'uws', redis: prefix, overrides: { rateLimits: LIMITS, tournaments: TOURNAMENTS } });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    const [owner1, owner2] = await Promise.all([registerAndLogin(a.url, 'n_owner1'), registerAndLogin(a.url, 'n_owner2')]);
    voter = await registerAndLogin(a.url, 'n_voter');
    await seedImages(sql, owner1!.userId, 3);
    await seedImages(sql, owner2!.userId, 3);
  }, 90_000);

  afterAll(async () => {
    for (const s of open) s.close();
    await sql?.end();
    await b?.stop();
    await a?.stop();
    await db?.drop();
  });

  it('a matchup from one node is voted on the other, and a leaderboard watcher on either node sees the update', async () => {
    const watcherA = await connectSocket(a.url, '/tournament', voter.token);
    const watcherB = await connectSocket(b.url, '/tournament', voter.token);
    open.push(watcherA, watcherB);
    expect((await emitAck(watcherA, 'leaderboard:watch', {})).ok).toBe(true);
    expect((await emitAck(watcherB, 'leaderboard:watch', {})).ok).toBe(true);
    const m = (await api(a.url, 'GET', '/api/v1/tournaments/match', { token: voter.token })).body.matchup;
    const onA = nextEvent(watcherA, 'leaderboard:update');
    const onB = nextEvent(watcherB, 'leaderboard:update');
    const res = await api(b.url, 'POST', '/api/v1/tournaments/vote', { token: voter.token, json: { matchup_token: m.matchup_token, winner_id: m.left.id } });
    expect(res.status).toBe(200);
    expect(res.body.counted).toBe(true);
    for (const update of [await onA, await onB]) {
      expect(update.reason).toBe('vote');
      expect(update.items.map((i: { image_id: number }) => i.image_id).sort()).toEqual([m.left.id, m.right.id].sort());
    }
    // The same vote on the node that issued the matchup is the same vote.
    const again = await api(a.url, 'POST', '/api/v1/tournaments/vote', { token: voter.token, json: { matchup_token: m.matchup_token, winner_id: m.left.id } });
    expect(again.body.counted).toBe(false);
  });

  it('both nodes run the fit timer, yet the fit runs about once per interval in all', async () => {
    for (let i = 0; i < 6; i++) {
      const m = (await api(b.url, 'GET', '/api/v1/tournaments/match', { token: voter.token })).body.matchup;
      expect((await api(a.url, 'POST', '/api/v1/tournaments/vote', { token: voter.token, json: { matchup_token: m.matchup_token, winner_id: m.right.id } })).status).toBe(200);
    }
    const count = async () => (await sql.query('select count(*)::int as n from rating_fits')).rows[0].n as number;
    // Wait for the first fit, then count over a span of several intervals.
    for (let waited = 0; (await count()) === 0 && waited < 10_000; waited += 100) await sleep(100);
    const first = await count();
    expect(first).toBeGreaterThan(0);
    const started = Date.now();
    await sleep(6 * INTERVAL_MS);
    const span = Date.now() - started;
    const fits = (await count()) - first;
    // One fitter every interval (a fit younger than 0.9 × interval is skipped): at most span / (0.9 × interval) + 1.
    // Two independent timers would fit about twice as often.
    expect(fits).toBeGreaterThan(0);
    expect(fits).toBeLessThanOrEqual(Math.floor(span / (0.9 * INTERVAL_MS)) + 1);
    // And they are spaced: each fit began at least 0.9 × interval after the previous one finished.
    const gaps = (await sql.query('select (extract(epoch from finished_at - lag(finished_at) over (order by id)) * 1000)::float8 as gap from rating_fits order by id')).rows
      .map((r) => r.gap as number | null)
      .filter((g): g is number => g !== null);
    expect(gaps.length).toBeGreaterThan(0);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(0.9 * INTERVAL_MS - 2);
    const rated = (await sql.query('select count(*)::int as n from image_ratings where bt_rating is not null')).rows[0].n;
    expect(rated).toBeGreaterThan(0);
  });
});
