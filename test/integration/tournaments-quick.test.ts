import pg from 'pg';
import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makePng, makeTempDir, type TempDir } from '../../src/modules/media/test-fixtures.js';
import { createRatingFit } from '../../src/modules/tournaments/tournaments.fit.js';
import { createMatchupTokens } from '../../src/modules/tournaments/tournaments.matchup-token.js';
import { recordEventFinished } from '../../src/modules/tournaments/tournaments.ratings.js';
import { createLogger } from '../../src/platform/logger.js';
import { api, connectSocket, emitAck, nextEvent, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const LIMITS = { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 }, socketEvents: { limit: 5000, windowSeconds: 1 } };
const TOURNAMENTS = { candidateCacheMs: 0, leaderboardWindowMs: 100, matchupTtlSeconds: 60, fit: { intervalMs: 0, minVotes: 2, replicates: 20, priorWeight: 1 } };

interface User {
  token: string;
  userId: number;
}
interface MatchupBody {
  matchup_id: string;
  matchup_token: string;
  expires_at: string;
  left: { id: number; owner: { id: number } };
  right: { id: number; owner: { id: number } };
}

describe('quick matchups, votes, ratings and the leaderboard', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let mediaDir: TempDir;
  let sql: pg.Client;
  let alice: User;
  let bob: User;
  let carol: User;
  let dave: User;
  const images: Record<string, number> = {};
  const open: Socket[] = [];
  const track = (s: Socket) => (open.push(s), s);
  let size = 20;

  async function post(user: User, optIn: boolean): Promise<number> {
    const form = new FormData();
    form.append('prompt', 'tournament entry');
    form.append('tournament_opt_in', String(optIn));
    size += 1; // distinct bytes per image
    form.append('file', new Blob([await makePng(size, 20)], { type: 'image/png' }), 'entry.png');
    const res = await fetch(`${hub.url}/api/v1/images`, { method: 'POST', body: form, headers: { authorization: `Bearer ${user.token}` } });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: number }).id;
  }

  const match = async (token: string) => {
    const res = await api<{ matchup: MatchupBody }>(hub.url, 'GET', '/api/v1/tournaments/match', { token });
    expect(res.status).toBe(200);
    return res.body.matchup;
  };
  const vote = (token: string, body: unknown) => api(hub.url, 'POST', '/api/v1/tournaments/vote', { token, json: body });
  const secretTokens = (now?: () => number) => createMatchupTokens({ secret: hub.config.auth.jwtSecret, issuer: hub.config.auth.issuer, ttlSeconds: 60, ...(now ? { now } : {}) });
  const count = async (text: string, params: unknown[] = []) => (await sql.query(text, params)).rows[0].n as number;

  beforeAll(async () => {
    db = await createTestDatabase();
    mediaDir = await makeTempDir('easel-tournaments-');
    hub = await startTestHub({ dbUrl: db.url, redis: true, overrides: { rateLimits: LIMITS, media: { dir: mediaDir.dir }, tournaments: TOURNAMENTS } });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    [alice, bob, carol, dave] = await Promise.all([registerAndLogin(hub.url, 't_alice'), registerAndLogin(hub.url, 't_bob'), registerAndLogin(hub.url, 't_carol'), registerAndLogin(hub.url, 't_dave')]);
    images.a1 = await post(alice!, true);
    images.a2 = await post(alice!, true);
    images.aOut = await post(alice!, false);
    images.b1 = await post(bob!, true);
    images.b2 = await post(bob!, true);
    images.c1 = await post(carol!, true);
  });

  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });

  afterAll(async () => {
    await sql?.end();
    await hub?.stop();
    await db?.drop();
    await mediaDir?.cleanup();
  });

  it('matchups: two opted-in images of different owners, never the viewer own, sides randomised, signed for the viewer', async () => {
    const seen = { left: new Set<number>(), right: new Set<number>() };
    for (let i = 0; i < 40; i++) {
      const m = await match(carol.token);
      expect(m.left.owner.id).not.toBe(m.right.owner.id);
      for (const side of [m.left, m.right]) {
        expect(side.owner.id).not.toBe(carol.userId);
        expect(side.id).not.toBe(images.aOut);
      }
      seen.left.add(m.left.id);
      seen.right.add(m.right.id);
      expect(Date.parse(m.expires_at)).toBeGreaterThan(Date.now());
      expect((await secretTokens().verify(m.matchup_token)).viewer).toBe(`user:${carol.userId}`);
    }
    // Every image that can be shown to carol turned up on both sides in 40 draws (4 images, coin-flip sides).
    expect([...seen.left].sort()).toEqual([images.a1, images.a2, images.b1, images.b2].sort());
    expect([...seen.right].sort()).toEqual([...seen.left].sort());
  });

  it('guests fetch matchups (HTTP and socket) but get 403 account_required when they vote', async () => {
    const guest = (await api(hub.url, 'POST', '/api/v1/auth/guest')).body.access_token as string;
    const m = await match(guest);
    const res = await vote(guest, { matchup_token: m.matchup_token, winner_id: m.left.id });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('account_required');
    const socket = track(await connectSocket(hub.url, '/tournament', guest));
    const next = await emitAck(socket, 'match:next', {});
    expect(next.ok).toBe(true);
    const ack = await emitAck(socket, 'match:vote', { matchupToken: next.data.matchup.matchup_token, winnerId: next.data.matchup.right.id });
    expect(ack).toEqual({ ok: false, error: { code: 'account_required', message: expect.any(String) } });
    // Without any token the routes are 401.
    expect((await api(hub.url, 'GET', '/api/v1/tournaments/match')).status).toBe(401);
    expect(await count('select count(*)::int as n from votes')).toBe(0);
  });

  it('a vote stores winner, loser, side shown and time taken, moves both Glicko-2 ratings, and counts once', async () => {
    const m = await match(dave.token);
    await new Promise((r) => setTimeout(r, 30));
    const res = await vote(dave.token, { matchup_token: m.matchup_token, winner_id: m.right.id });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ counted: true, matchup_id: m.matchup_id, winner_id: m.right.id, loser_id: m.left.id, winner_side: 'right' });
    expect(res.body.elapsed_ms).toBeGreaterThanOrEqual(30);
    expect(res.body.winner).toMatchObject({ image_id: m.right.id, wins: 1, losses: 0, votes: 1, games: 1 });
    expect(res.body.winner.rating).toBeGreaterThan(1500);
    expect(res.body.loser.rating).toBeLessThan(1500);
    expect(res.body.winner.rd).toBeLessThan(350);
    const row = (await sql.query('select user_id, winner_id, loser_id, winner_side, elapsed_ms from votes where matchup_id = $1', [m.matchup_id])).rows;
    expect(row).toEqual([{ user_id: dave.userId, winner_id: m.right.id, loser_id: m.left.id, winner_side: 'right', elapsed_ms: res.body.elapsed_ms }]);

    // The same vote again is a harmless retry; the other image on the same matchup is a conflict.
    const again = await vote(dave.token, { matchup_token: m.matchup_token, winner_id: m.right.id });
    expect(again.body).toMatchObject({ counted: false, winner: null, loser: null, elapsed_ms: res.body.elapsed_ms });
    const other = await vote(dave.token, { matchup_token: m.matchup_token, winner_id: m.left.id });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('already_voted');
    const ratings = (await sql.query('select image_id, wins, losses, votes from image_ratings where image_id = any($1) order by image_id', [[m.left.id, m.right.id]])).rows;
    expect(ratings).toHaveLength(2);
    for (const r of ratings) expect(r.votes).toBe(1);

    // Image stats show the tournament numbers.
    const stats = await api(hub.url, 'GET', `/api/v1/images/${m.right.id}/stats`);
    expect(stats.body.tournament).toMatchObject({ rated: true, wins: 1, losses: 0, win_rate: 1, votes: 1, championships: 0, canonical: null, preliminary: true });
  });

  it('1,000 concurrent identical votes from one user (HTTP and four sockets) count once', async () => {
    const m = await match(dave.token);
    const before = await count('select count(*)::int as n from votes');
    const winnerVotesBefore = await count('select coalesce((select votes from image_ratings where image_id = $1), 0) as n', [m.left.id]);
    const sockets = await Promise.all([0, 1, 2, 3].map(async () => track(await connectSocket(hub.url, '/tournament', dave.token))));
    const http = Array.from({ length: 200 }, () => vote(dave.token, { matchup_token: m.matchup_token, winner_id: m.left.id }).then((r) => (r.status === 200 ? r.body : { status: r.status, ...r.body }) as { counted?: boolean }));
    const overSockets = sockets.flatMap((s) =>
      // A longer ack timeout than emitAck's: 1,000 votes share the test hub's four database connections.
      Array.from({ length: 200 }, () => (s.timeout(20_000).emitWithAck('match:vote', { matchupToken: m.matchup_token, winnerId: m.left.id }) as Promise<{ ok: boolean; data?: unknown }>).then((a) => (a.ok ? a.data : a)) as Promise<{ counted?: boolean }>),
    );
    const results = await Promise.all([...http, ...overSockets]);
    expect(results).toHaveLength(1000);
    expect(results.filter((r) => r.counted === true)).toHaveLength(1);
    expect(results.filter((r) => r.counted === false)).toHaveLength(999);
    expect(await count('select count(*)::int as n from votes')).toBe(before + 1);
    expect(await count('select votes as n from image_ratings where image_id = $1', [m.left.id])).toBe(winnerVotesBefore + 1);
  });

  it('refuses a winner outside the matchup, forged, expired and other viewers tokens, the owner, and a deleted image', async () => {
    const votesBefore = await count('select count(*)::int as n from votes');
    const m = await match(dave.token);
    const outside = [images.a1, images.a2, images.b1, images.b2, images.c1].find((id) => id !== m.left.id && id !== m.right.id)!;
    const notIn = await vote(dave.token, { matchup_token: m.matchup_token, winner_id: outside });
    expect([notIn.status, notIn.body.code]).toEqual([400, 'winner_not_in_matchup']);

    // Forged: the pair changed in the payload, signature kept.
    const [h, p, s] = m.matchup_token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = [h, Buffer.from(JSON.stringify({ ...claims, r: outside })).toString('base64url'), s].join('.');
    const forgedRes = await vote(dave.token, { matchup_token: forged, winner_id: outside });
    expect([forgedRes.status, forgedRes.body.code]).toEqual([400, 'matchup_token_invalid']);
    // An access token is not a matchup token.
    const access = await vote(dave.token, { matchup_token: dave.token, winner_id: m.left.id });
    expect([access.status, access.body.code]).toEqual([400, 'matchup_token_invalid']);

    // Expired: issued two minutes ago with a 60 s lifetime, by the hub's own key.
    const old = await secretTokens(() => Date.now() - 120_000).issue({ leftId: m.left.id, rightId: m.right.id, viewer: `user:${dave.userId}` });
    const expired = await vote(dave.token, { matchup_token: old.token, winner_id: m.left.id });
    expect([expired.status, expired.body.code]).toEqual([400, 'matchup_expired']);

    // Another viewer's matchup, over HTTP and over the socket.
    const carols = await match(carol.token);
    const stolen = await vote(dave.token, { matchup_token: carols.matchup_token, winner_id: carols.left.id });
    expect([stolen.status, stolen.body.code]).toEqual([403, 'matchup_not_yours']);
    const socket = track(await connectSocket(hub.url, '/tournament', dave.token));
    expect(await emitAck(socket, 'match:vote', { matchupToken: carols.matchup_token, winnerId: carols.left.id })).toMatchObject({ ok: false, error: { code: 'matchup_not_yours' } });

    // The owner: a validly signed matchup that shows alice's own image (the server never issues one; a stale or forged client could hold one).
    const own = await secretTokens().issue({ leftId: images.a1!, rightId: images.b1!, viewer: `user:${alice.userId}` });
    const ownRes = await vote(alice.token, { matchup_token: own.token, winner_id: images.a1 });
    expect([ownRes.status, ownRes.body.code]).toEqual([403, 'own_image']);

    // Malformed bodies never reach the service.
    for (const body of [{}, { matchup_token: m.matchup_token }, { matchup_token: m.matchup_token, winner_id: 'x' }, { matchup_token: m.matchup_token, winner_id: m.left.id, extra: 1 }]) {
      expect((await vote(dave.token, body)).status).toBe(422);
    }
    expect(await emitAck(socket, 'match:vote', { matchupToken: '', winnerId: 1 })).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    expect(await count('select count(*)::int as n from votes')).toBe(votesBefore);

    // A deleted image: the matchup was valid when issued; the vote is refused and nothing is stored.
    const extra = await post(bob, true);
    let withExtra: MatchupBody | null = null;
    for (let i = 0; i < 200 && !withExtra; i++) {
      const next = await match(dave.token);
      if (next.left.id === extra || next.right.id === extra) withExtra = next;
    }
    expect(withExtra).not.toBeNull();
    expect((await api(hub.url, 'DELETE', `/api/v1/images/${extra}`, { token: bob.token })).status).toBe(204);
    const gone = await vote(dave.token, { matchup_token: withExtra!.matchup_token, winner_id: extra });
    expect([gone.status, gone.body.code]).toEqual([410, 'matchup_image_gone']);
    expect(await count('select count(*)::int as n from votes')).toBe(votesBefore);
    expect(await count('select count(*)::int as n from image_ratings where image_id = $1', [extra])).toBe(0);
  });

  it('match:next and match:vote over the socket; leaderboard:watch acks a page and pushes leaderboard:update', async () => {
    const watcher = track(await connectSocket(hub.url, '/tournament', carol.token));
    const page = await emitAck(watcher, 'leaderboard:watch', { limit: 50, sort: 'live' });
    expect(page.ok).toBe(true);
    expect(page.data.sort).toBe('live');
    const voter = track(await connectSocket(hub.url, '/tournament', dave.token));
    const next = await emitAck(voter, 'match:next', {});
    const m = next.data.matchup as MatchupBody;
    const update = nextEvent(watcher, 'leaderboard:update');
    const ack = await emitAck(voter, 'match:vote', { matchupToken: m.matchup_token, winnerId: m.left.id });
    expect(ack).toMatchObject({ ok: true, data: { counted: true, winner_id: m.left.id, winner_side: 'left' } });
    const pushed = await update;
    expect(pushed.reason).toBe('vote');
    expect(pushed.items.map((i: { image_id: number }) => i.image_id).sort()).toEqual([m.left.id, m.right.id].sort());
    expect(pushed.items.find((i: { image_id: number }) => i.image_id === m.left.id)).toEqual(ack.data.winner);
    // Unwatched: no more pushes.
    expect((await emitAck(watcher, 'leaderboard:unwatch', {})).ok).toBe(true);
    let more = 0;
    watcher.on('leaderboard:update', () => more++);
    const n2 = (await emitAck(voter, 'match:next', {})).data.matchup as MatchupBody;
    await emitAck(voter, 'match:vote', { matchupToken: n2.matchup_token, winnerId: n2.right.id });
    await new Promise((r) => setTimeout(r, 300));
    expect(more).toBe(0);
  });

  it('the Bradley-Terry fit writes bt_* (one node at a time, once per interval) and the leaderboard pages through it', async () => {
    // More votes so some images pass minVotes (2).
    for (const user of [carol, dave]) {
      for (let i = 0; i < 8; i++) {
        const m = await match(user.token);
        const res = await vote(user.token, { matchup_token: m.matchup_token, winner_id: m.left.id < m.right.id ? m.left.id : m.right.id });
        expect(res.status).toBe(200);
      }
    }
    const watcher = track(await connectSocket(hub.url, '/tournament', carol.token));
    await emitAck(watcher, 'leaderboard:watch', {});
    // Trailing vote pushes from the votes above may still arrive: wait for the fit's.
    const fitted = new Promise((resolve) => watcher.on('leaderboard:update', (u: { reason: string }) => u.reason === 'fit' && resolve(u)));
    const outcome = await hub.app.tournaments.fit.run();
    expect(outcome).toMatchObject({ ran: true, summary: { converged: true, threaded: true } });
    expect(await fitted).toEqual({ reason: 'fit', items: [] });
    const totalVotes = await count('select count(*)::int as n from votes');
    expect(outcome.ran && outcome.summary.votes).toBe(totalVotes);
    const rows = (await sql.query('select image_id, bt_rating, bt_low, bt_high, bt_rank, preliminary, votes from image_ratings where votes > 0')).rows;
    for (const r of rows) {
      expect(r.bt_low).toBeLessThanOrEqual(r.bt_rating);
      expect(r.bt_high).toBeGreaterThanOrEqual(r.bt_rating);
      expect(r.preliminary).toBe(r.votes < 2);
      expect(r.bt_rank === null).toBe(r.preliminary);
    }
    expect((await sql.query('select count(*)::int as n from rating_fits')).rows[0].n).toBe(1);

    // Another node's fitter: skips while this one holds the lock, and skips a fit younger than its interval.
    const other = createRatingFit({ orm: hub.orm, logger: createLogger('silent', 'other-node'), options: { ...TOURNAMENTS.fit, intervalMs: 60_000 } });
    expect(await other.run(false)).toEqual({ ran: false, reason: 'recent' });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('begin');
    await holder.query(`select pg_advisory_xact_lock(hashtextextended('easel:tournaments:rating-fit', 0))`);
    expect(await other.run(true)).toEqual({ ran: false, reason: 'locked' });
    await holder.query('commit');
    await holder.end();
    expect(await other.run(true)).toMatchObject({ ran: true });
    // The event-loop path (thread: false) writes the same numbers: same votes, same seed.
    const inline = createRatingFit({ orm: hub.orm, logger: createLogger('silent', 'inline'), options: TOURNAMENTS.fit, thread: false });
    const threadedRows = (await sql.query('select image_id, bt_rating, bt_low, bt_high, bt_rank from image_ratings order by image_id')).rows;
    expect(await inline.run()).toMatchObject({ ran: true, summary: { threaded: false } });
    expect((await sql.query('select image_id, bt_rating, bt_low, bt_high, bt_rank from image_ratings order by image_id')).rows).toEqual(threadedRows);

    // The canonical board: ranked images first, then preliminary; a page of 1 walks the same order.
    const full = await api(hub.url, 'GET', '/api/v1/leaderboard?limit=100');
    expect(full.status).toBe(200);
    const items = full.body.items as { image: { id: number }; rank: number | null; rating: number | null; interval: unknown; preliminary: boolean; win_rate: number | null; wins: number; losses: number }[];
    expect(items.length).toBeGreaterThanOrEqual(4);
    // An image that opts out leaves the board (its history stays) and comes back when it opts in again.
    const leaving = items[0]!.image.id;
    const ownerOf = leaving === images.a1 || leaving === images.a2 ? alice : leaving === images.c1 ? carol : bob;
    const optOut = (value: boolean) => api(hub.url, 'PATCH', `/api/v1/images/${leaving}`, { token: ownerOf.token, json: { tournament_opt_in: value } });
    expect((await optOut(false)).status).toBe(200);
    expect((await api(hub.url, 'GET', '/api/v1/leaderboard?limit=100')).body.items.map((i: { image: { id: number } }) => i.image.id)).not.toContain(leaving);
    expect((await optOut(true)).status).toBe(200);
    const firstPrelim = items.findIndex((i) => i.preliminary);
    if (firstPrelim >= 0) expect(items.slice(firstPrelim).every((i) => i.preliminary)).toBe(true);
    for (const i of items) {
      expect(i.rating).not.toBeNull();
      expect(i.interval).not.toBeNull();
      expect(i.rank === null).toBe(i.preliminary);
      expect(i.win_rate).toBeCloseTo(i.wins / (i.wins + i.losses));
    }
    const walked: number[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { items: { image: { id: number } }[]; next_cursor: string | null } } = await api(hub.url, 'GET', `/api/v1/leaderboard?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      walked.push(...res.body.items.map((i) => i.image.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(walked).toEqual(items.map((i) => i.image.id));

    const live = await api(hub.url, 'GET', '/api/v1/leaderboard?sort=live&limit=100');
    const liveRatings = live.body.items.map((i: { live: { rating: number } }) => i.live.rating);
    expect(liveRatings).toEqual([...liveRatings].sort((a, b) => b - a));
    const liveCursor = (await api(hub.url, 'GET', '/api/v1/leaderboard?sort=live&limit=1')).body.next_cursor;
    for (const [query, code] of [
      [`cursor=${liveCursor}`, 'invalid_cursor'],
      ['cursor=garbage!', 'invalid_cursor'],
      ['limit=0', 'validation_failed'],
      ['sort=best', 'validation_failed'],
      ['extra=1', 'validation_failed'],
    ]) {
      const res = await api(hub.url, 'GET', `/api/v1/leaderboard?${query!}`);
      expect([res.status, res.body.code]).toEqual([code === 'invalid_cursor' ? 400 : 422, code]);
    }

    const stats = await api(hub.url, 'GET', `/api/v1/images/${items[0]!.image.id}/stats`);
    expect(stats.body.tournament.canonical).toMatchObject({ rating: items[0]!.rating, rank: items[0]!.rank });
  });

  it('the fit counts the crowd votes of live events as preferences too', async () => {
    const before = await hub.app.tournaments.fit.run();
    expect(before.ran).toBe(true);
    const [left, right] = [images.a1!, images.b1!];
    const event = await sql.query(`insert into events (name, entrants, selection, window_ms, grace_ms) values ('fit test', 8, 'list', 1000, 0) returning id`);
    const matchup = await sql.query(`insert into event_matchups (event_id, round, slot, left_id, right_id, status) values ($1, 0, 0, $2, $3, 'closed') returning id`, [event.rows[0].id, left, right]);
    // Two event votes by people who own neither image: one for each side.
    const voters = [carol, dave].map((u) => u.userId);
    const sides = ['left', 'right'];
    for (const [i, userId] of voters.entries()) {
      await sql.query(`insert into event_votes (matchup_id, user_id, side) values ($1, $2, $3)`, [matchup.rows[0].id, userId, sides[i]]);
    }
    const after = await hub.app.tournaments.fit.run();
    expect(after.ran && before.ran && after.summary.votes - before.summary.votes).toBe(2);
  });

  it('an image idle for weeks gets RD back before its next game, so the game moves it more', async () => {
    const set = (ids: number[], ago: string) =>
      sql.query(
        `insert into image_ratings (image_id, rating, rd, vol, updated_at) select x, 1500, 60, 0.06, now() - $2::interval from unnest($1::int[]) x
         on conflict (image_id) do update set rating = 1500, rd = 60, vol = 0.06, updated_at = excluded.updated_at`,
        [ids, ago],
      );
    await set([images.a1!, images.b1!], '60 days');
    await set([images.a2!, images.b2!], '0 seconds');
    const em = hub.orm.em.fork();
    const idle = await hub.app.tournaments.recordResult(em, { winnerId: images.a1!, loserId: images.b1!, source: 'event' });
    const fresh = await hub.app.tournaments.recordResult(em, { winnerId: images.a2!, loserId: images.b2!, source: 'event' });
    expect(idle.winner.rating - 1500).toBeGreaterThan(2 * (fresh.winner.rating - 1500));
    expect(idle.winner.rd).toBeGreaterThan(fresh.winner.rd + 20);
  });

  it('recordResult (live events) moves ratings and win counts; a finished event counts championships', async () => {
    const em = hub.orm.em.fork();
    const before = (await sql.query('select wins, losses, votes from image_ratings where image_id = $1', [images.c1])).rows[0] ?? { wins: 0, losses: 0, votes: 0 };
    const result = await hub.app.tournaments.recordResult(em, { winnerId: images.c1!, loserId: images.b2!, source: 'event' });
    expect(result.winner).toMatchObject({ image_id: images.c1, wins: before.wins + 1, votes: before.votes });
    await recordEventFinished(em, { championId: images.c1!, entrantIds: [images.c1!, images.b2!] });
    const stats = await api(hub.url, 'GET', `/api/v1/images/${images.c1}/stats`);
    expect(stats.body.tournament).toMatchObject({ championships: 1, events_played: 1, championship_rate: 1 });
  });

  it('the documents describe the routes and the /tournament events', async () => {
    const openapi = (await api(hub.url, 'GET', '/openapi.json')).body;
    for (const path of ['/api/v1/tournaments/match', '/api/v1/tournaments/vote', '/api/v1/leaderboard']) expect(Object.keys(openapi.paths)).toContain(path);
    const asyncapi = JSON.stringify((await api(hub.url, 'GET', '/asyncapi.json')).body);
    for (const event of ['match:next', 'match:vote', 'leaderboard:watch', 'leaderboard:update']) expect(asyncapi).toContain(event);
  });
});
