import pg from 'pg';
import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, connectSocket, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { adminToken, FAST_EVENTS, join, seedImages, sleep, vote, Watcher } from '../helpers/events.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

// Single node, no Redis: the clock still takes its lease in PostgreSQL.
describe('live events on one node', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let sql: pg.Client;
  let admin: string;
  let owner: { token: string; userId: number };
  const voters: { token: string; userId: number }[] = [];
  let images: number[];
  const open: Socket[] = [];

  const create = (body: Record<string, unknown>, token = admin) => api(hub.url, 'POST', '/api/v1/events', { token, json: body });
  const start = (id: number, token = admin) => api(hub.url, 'POST', `/api/v1/events/${id}/start`, { token });
  const socketFor = async (token: string) => {
    const s = await connectSocket(hub.url, '/tournament', token);
    open.push(s);
    return s;
  };
  /** Creates the event, lets the watchers join (so none misses the first push), then starts it. */
  async function liveEvent(body: Record<string, unknown>, watchers: Socket[]): Promise<number> {
    const made = await create(body);
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    for (const w of watchers) expect((await join(w, made.body.id)).ok).toBe(true);
    expect((await start(made.body.id)).status).toBe(200);
    return made.body.id as number;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({
      dbUrl: db.url,
      overrides: {
        events: { ...FAST_EVENTS, historySize: 3 },
        rateLimits: { register: { limit: 1000, windowSeconds: 60 }, socketEvents: { limit: 5000, windowSeconds: 1 } },
        auth: { admin: { username: 'event_admin', password: 'admin-password-1' } },
      },
    });
    await hub.app.identity.bootstrapAdmin(hub.orm.em.fork(), 'event_admin', 'admin-password-1');
    admin = await adminToken(hub.url, 'event_admin', 'admin-password-1');
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    owner = await registerAndLogin(hub.url, 'ev_owner');
    for (let i = 0; i < 3; i++) voters.push(await registerAndLogin(hub.url, `ev_voter_${i}`));
    images = await seedImages(sql, owner.userId, 20);
    await seedImages(sql, owner.userId, 3, false);
  });
  afterEach(async () => {
    for (const s of open.splice(0)) s.close();
    // Events a test left running would go on moving the ratings of images later tests use.
    await sql.query(`update events set status = 'finished', lease_owner = null where status = 'live'`);
  });
  afterAll(async () => {
    await sql?.end();
    await hub?.stop();
    await db?.drop();
  });

  describe('creating and starting', () => {
    it('refuses bad bodies, non-admins and guests', async () => {
      const bad: [string, Record<string, unknown>, string][] = [
        ['12 entrants', { name: 'x', entrants: 12 }, 'body.entrants'],
        ['no name', { entrants: 8 }, 'body.name'],
        ['list without ids', { name: 'x', entrants: 8, selection: 'list' }, 'body.image_ids'],
        ['list of the wrong length', { name: 'x', entrants: 8, selection: 'list', image_ids: images.slice(0, 7) }, 'body.image_ids'],
        ['list with a repeat', { name: 'x', entrants: 8, selection: 'list', image_ids: [...images.slice(0, 7), images[0]] }, 'body.image_ids'],
        ['ids without list', { name: 'x', entrants: 8, selection: 'top', image_ids: images.slice(0, 8) }, 'body.image_ids'],
        ['window too short', { name: 'x', entrants: 8, window_ms: 10 }, 'body.window_ms'],
        ['negative grace', { name: 'x', entrants: 8, grace_ms: -1 }, 'body.grace_ms'],
        ['unknown field', { name: 'x', entrants: 8, rigged: true }, 'body.rigged'],
      ];
      for (const [label, body, path] of bad) {
        const res = await create(body);
        expect(res.status, label).toBe(422);
        expect(res.body.errors.map((e: { path: string }) => e.path), label).toContain(path);
      }
      expect((await create({ name: 'x', entrants: 8 }, owner.token)).status).toBe(403);
      const guest = await api(hub.url, 'POST', '/api/v1/auth/guest');
      expect((await create({ name: 'x', entrants: 8 }, guest.body.access_token)).status).toBe(403);
      expect((await api(hub.url, 'POST', '/api/v1/events', { json: { name: 'x', entrants: 8 } })).status).toBe(401);
    });

    it('refuses an event with fewer opted-in images than entrants, and a list with an ineligible image', async () => {
      const few = await create({ name: 'too big', entrants: 32 });
      expect(few.status).toBe(409);
      expect(few.body).toMatchObject({ code: 'not_enough_images' });
      expect(few.body.detail).toContain('20 are available');
      const optedOut = (await sql.query('select id from images where not tournament_opt_in limit 1')).rows[0].id as number;
      const listed = await create({ name: 'bad list', entrants: 8, selection: 'list', image_ids: [...images.slice(0, 7), optedOut] });
      expect(listed.status).toBe(422);
      expect(listed.body).toMatchObject({ code: 'images_not_eligible', errors: [{ path: 'body.image_ids.7' }] });
      expect(Number((await sql.query('select count(*) from events')).rows[0].count)).toBe(0);
    });

    it('creates the whole bracket, seeds best against worst, and starts once however often it is asked', async () => {
      const made = await create({ name: 'Spring cup', entrants: 8, selection: 'list', image_ids: images.slice(0, 8), window_ms: 3_600_000 });
      expect(made.status).toBe(201);
      expect(made.headers.get('location')).toBe(`/api/v1/events/${made.body.id}`);
      expect(made.body).toMatchObject({ status: 'upcoming', entrants: 8, selection: 'list', window_ms: 3_600_000, grace_ms: FAST_EVENTS.graceMs, sealed: false, seq: 0 });
      expect(made.body.matchups).toHaveLength(7);
      expect(made.body.matchups[0]).toMatchObject({ round: 0, slot: 0, left_id: images[0], right_id: images[7], status: 'pending', round_name: 'Quarter-finals' });
      expect(made.body.matchups[6]).toMatchObject({ round: 2, left_id: null, right_id: null, round_name: 'Final' });
      expect(made.body.entries.map((e: { image: { id: number } }) => e.image.id)).toEqual(images.slice(0, 8));

      const tries = await Promise.all(Array.from({ length: 5 }, () => start(made.body.id)));
      expect(tries.map((t) => t.status).sort()).toEqual([200, 409, 409, 409, 409]);
      expect(tries.find((t) => t.status === 409)!.body.code).toBe('event_already_started');
      expect((await start(made.body.id)).status).toBe(409);
      expect((await start(999_999)).status).toBe(404);
      expect((await start(made.body.id, owner.token)).status).toBe(403);
    });

    it('refuses to start an event whose entrant left tournaments since', async () => {
      const made = await create({ name: 'Doomed', entrants: 8, selection: 'list', image_ids: images.slice(8, 16) });
      await sql.query('update images set tournament_opt_in = false where id = $1', [images[9]]);
      const res = await start(made.body.id);
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('entrant_unavailable');
      await sql.query('update images set tournament_opt_in = true where id = $1', [images[9]]);
    });

    it('lists events by status with cursor paging, and 404s unknown ones', async () => {
      for (const name of ['Listed A', 'Listed B', 'Listed C']) expect((await create({ name, entrants: 8, window_ms: 3_600_000 })).status).toBe(201);
      const newest = (await api(hub.url, 'GET', '/api/v1/events?limit=1')).body.items[0];
      expect(newest.name).toBe('Listed C');
      expect((await start(newest.id)).status).toBe(200);
      const upcoming = await api(hub.url, 'GET', '/api/v1/events?status=upcoming&limit=1');
      expect(upcoming.status).toBe(200);
      expect(upcoming.body.items).toHaveLength(1);
      expect(upcoming.body.items[0].status).toBe('upcoming');
      const page2 = await api(hub.url, 'GET', `/api/v1/events?status=upcoming&limit=1&cursor=${upcoming.body.next_cursor}`);
      expect(page2.body.items[0].id).toBeLessThan(upcoming.body.items[0].id);
      const live = await api(hub.url, 'GET', '/api/v1/events?status=live');
      expect(live.body.items.map((e: { id: number }) => e.id)).toEqual([newest.id]);
      const all = await api(hub.url, 'GET', '/api/v1/events?limit=100');
      expect(all.body.next_cursor).toBeNull();
      expect(all.body.items.map((e: { name: string }) => e.name).slice(0, 3)).toEqual(['Listed C', 'Listed B', 'Listed A']);
      expect((await api(hub.url, 'GET', '/api/v1/events?status=over')).status).toBe(422);
      expect((await api(hub.url, 'GET', '/api/v1/events?cursor=garbage!')).status).toBe(400);
      expect((await api(hub.url, 'GET', '/api/v1/events/999999')).status).toBe(404);
      expect((await api(hub.url, 'GET', '/api/v1/events/abc')).status).toBe(422);
    });
  });

  it('runs an 8-entrant event to a champion: matchups, tallies, results by votes, ratings recorded', async () => {
    const ids = images.slice(0, 8);
    const before = await sql.query('select coalesce(sum(events_played), 0)::int as played from image_ratings');
    const viewer = new Watcher(await socketFor(voters[0]!.token));
    const crowd = await Promise.all(voters.map((v) => socketFor(v.token)));
    const eventId = await liveEvent({ name: 'Crowd cup', entrants: 8, selection: 'list', image_ids: ids }, [viewer.socket]);
    for (let n = 0; n < 7; n++) {
      // Matchup n opens at seq 2n + 1; its result is 2n + 2.
      const m = (await viewer.wait((p) => p.type === 'event:matchup' && p.payload.seq === 2 * n + 1)).payload;
      expect(m).toMatchObject({ eventId, matchup: { status: 'open' }, grace_ms: FAST_EVENTS.graceMs });
      expect(m.left.id).toBe(m.matchup.left_id);
      // Two vote right, one votes left (by image id): right wins on votes.
      const acks = await Promise.all([vote(crowd[0]!, eventId, m.matchup.id, 'right'), vote(crowd[1]!, eventId, m.matchup.id, m.matchup.right_id), vote(crowd[2]!, eventId, m.matchup.id, m.matchup.left_id)]);
      expect(acks.map((a) => a.data)).toEqual([
        { matchupId: m.matchup.id, choice: 'right', counted: true },
        { matchupId: m.matchup.id, choice: 'right', counted: true },
        { matchupId: m.matchup.id, choice: 'left', counted: true },
      ]);
      const tally = await viewer.wait((p) => p.type === 'event:tally' && p.payload.matchupId === m.matchup.id && p.payload.left_votes + p.payload.right_votes === 3);
      expect(tally.payload).toMatchObject({ left_votes: 1, right_votes: 2 });
      const result = (await viewer.wait((p) => p.type === 'event:result' && p.payload.matchup.id === m.matchup.id)).payload;
      expect(result.matchup).toMatchObject({ status: 'closed', left_votes: 1, right_votes: 2, winner_id: m.matchup.right_id, decided_by: 'votes' });
    }
    const finished = (await viewer.wait((p) => p.type === 'event:finished')).payload;
    const final = finished.matchups.find((x: { round: number }) => x.round === 2);
    expect(finished.champion_id).toBe(final.winner_id);
    expect(finished.matchups).toHaveLength(7);
    // Every state change has its own seq, in order, without gaps.
    const seqs = viewer.pushes.filter((p) => p.type !== 'event:tally').map((p) => p.payload.seq);
    expect(seqs).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    const got = await api(hub.url, 'GET', `/api/v1/events/${eventId}`);
    expect(got.body).toMatchObject({ status: 'finished', champion_id: finished.champion_id, seq: 15, current_matchup_id: null });
    expect(got.body.matchups).toEqual(finished.matchups);
    const ratings = await sql.query('select image_id, wins, losses, championships, events_played from image_ratings where image_id = any($1)', [ids]);
    expect(ratings.rows.reduce((s, r) => s + r.wins, 0)).toBe(7);
    expect(ratings.rows.reduce((s, r) => s + r.losses, 0)).toBe(7);
    expect(ratings.rows.find((r) => r.image_id === finished.champion_id)).toMatchObject({ championships: 1, wins: 3, losses: 0 });
    const after = await sql.query('select coalesce(sum(events_played), 0)::int as played from image_ratings');
    expect(after.rows[0].played - before.rows[0].played).toBe(8);
    expect(Number((await sql.query('select count(*) from event_votes v join event_matchups m on m.id = v.matchup_id where m.event_id = $1', [eventId])).rows[0].count)).toBe(21);
    // Image stats (and so the leaderboard) carry the event: the champion won 3 of 3 and 1 of 1 events.
    const stats = await api(hub.url, 'GET', `/api/v1/images/${finished.champion_id}/stats`);
    expect(stats.body.tournament).toMatchObject({ wins: 3, losses: 0, win_rate: 1, championships: 1, events_played: 1, championship_rate: 1 });
    // The clock let go of the finished event.
    expect((await sql.query('select lease_owner from events where id = $1', [eventId])).rows[0].lease_owner).toBeNull();
  }, 30_000);

  it('counts a vote in the grace period, refuses one after it, and refuses bad votes', async () => {
    const [v0, v1] = voters;
    const s0 = await socketFor(v0!.token);
    const s1 = await socketFor(v1!.token);
    const viewer = new Watcher(s0);
    const eventId = await liveEvent({ name: 'Grace cup', entrants: 8, selection: 'list', image_ids: images.slice(8, 16), window_ms: 400, grace_ms: 900 }, [s0]);
    const state = await join(s0, eventId);
    const m = (await viewer.first('event:matchup')).matchup;
    const pending = state.data.event.matchups.find((x: { round: number }) => x.round === 1);
    // Bad votes first, while the window is open.
    const ownerSocket = await socketFor(owner.token);
    const guest = await api(hub.url, 'POST', '/api/v1/auth/guest');
    const guestSocket = await socketFor(guest.body.access_token);
    const cases: [Socket, Record<string, unknown>, string][] = [
      [ownerSocket, { eventId, matchupId: m.id, choice: 'left' }, 'own_image'],
      [guestSocket, { eventId, matchupId: m.id, choice: 'left' }, 'account_required'],
      [s1, { eventId, matchupId: m.id, choice: images[0] }, 'not_in_matchup'],
      [s1, { eventId, matchupId: pending.id, choice: 'left' }, 'matchup_not_open'],
      [s1, { eventId, matchupId: 999_999, choice: 'left' }, 'matchup_not_found'],
      [s1, { eventId: eventId + 1000, matchupId: m.id, choice: 'left' }, 'matchup_not_found'],
      [s1, { eventId, matchupId: m.id, choice: 'middle' }, 'validation_failed'],
      [s1, { eventId, matchupId: m.id, choice: 'left', extra: 1 }, 'validation_failed'],
      [s1, { eventId, matchupId: -1, choice: 'left' }, 'validation_failed'],
    ];
    // Guests watch (their join acks the state) but cannot vote.
    expect((await join(guestSocket, eventId)).data).toMatchObject({ my_vote: null, event: { id: eventId, current_matchup_id: m.id } });
    for (const [socket, payload, code] of cases) {
      const res = await socket.timeout(5000).emitWithAck('event:vote', payload);
      expect(res, code).toMatchObject({ ok: false, error: { code } });
    }
    // Inside the grace period: after closes_at by the server's clock, before closes_at + grace.
    const skew = Date.parse(state.data.event.server_now) - Date.now();
    const closesAt = Date.parse(m.closes_at);
    await sleep(Math.max(0, closesAt - (Date.now() + skew)) + 200);
    const late = await vote(s1, eventId, m.id, 'left');
    expect(late).toEqual({ ok: true, data: { matchupId: m.id, choice: 'left', counted: true } });
    const result = (await viewer.wait((p) => p.type === 'event:result' && p.payload.matchup.id === m.id)).payload;
    expect(result.matchup).toMatchObject({ left_votes: 1, right_votes: 0, winner_id: m.left_id, decided_by: 'votes' });
    // After the close: refused, and not stored.
    const tooLate = await vote(s0, eventId, m.id, 'right');
    expect(tooLate).toMatchObject({ ok: false, error: { code: 'voting_closed' } });
    expect(Number((await sql.query('select count(*) from event_votes where matchup_id = $1', [m.id])).rows[0].count)).toBe(1);
  }, 20_000);

  it('counts 1,000 concurrent identical votes from one user once', async () => {
    const s = await socketFor(voters[2]!.token);
    const viewer = new Watcher(s);
    const eventId = await liveEvent({ name: 'Flood cup', entrants: 8, selection: 'list', image_ids: images.slice(12, 20), window_ms: 2500, grace_ms: 100 }, [s]);
    const m = (await viewer.first('event:matchup')).matchup;
    const acks = await Promise.all(Array.from({ length: 1000 }, () => vote(s, eventId, m.id, 'left')));
    expect(acks.every((a) => a.ok && a.data.choice === 'left')).toBe(true);
    expect(acks.filter((a) => a.data.counted)).toHaveLength(1);
    expect((await sql.query('select count(*)::int as n from event_votes where matchup_id = $1', [m.id])).rows[0].n).toBe(1);
    // An open event shows live counts to anyone reading it.
    const during = await api(hub.url, 'GET', `/api/v1/events/${eventId}`);
    expect(during.body).toMatchObject({ status: 'live', current_matchup_id: m.id });
    expect(during.body.matchups.find((x: { id: number }) => x.id === m.id)).toMatchObject({ status: 'open', left_votes: 1, right_votes: 0 });
    // A later vote for the other side changes nothing: the first vote stands.
    expect((await vote(s, eventId, m.id, 'right')).data).toEqual({ matchupId: m.id, choice: 'left', counted: false });
    const result = (await viewer.wait((p) => p.type === 'event:result' && p.payload.matchup.id === m.id)).payload;
    expect(result.matchup).toMatchObject({ left_votes: 1, right_votes: 0 });
  }, 20_000);

  it('keeps a sealed event’s tallies hidden until each matchup closes', async () => {
    const s = await socketFor(voters[0]!.token);
    const viewer = new Watcher(s);
    const eventId = await liveEvent({ name: 'Sealed cup', entrants: 8, selection: 'list', image_ids: images.slice(4, 12), window_ms: 800, sealed: true }, [s]);
    const m = (await viewer.first('event:matchup')).matchup;
    expect(m).toMatchObject({ left_votes: null, right_votes: null });
    expect((await vote(s, eventId, m.id, 'right')).data.counted).toBe(true);
    const during = await api(hub.url, 'GET', `/api/v1/events/${eventId}`);
    expect(during.body.matchups.find((x: { id: number }) => x.id === m.id)).toMatchObject({ status: 'open', left_votes: null, right_votes: null });
    const rejoin = await join(s, eventId);
    expect(rejoin.data.my_vote).toBe('right');
    expect(rejoin.data.event.matchups.find((x: { id: number }) => x.id === m.id).right_votes).toBeNull();
    const result = (await viewer.wait((p) => p.type === 'event:result' && p.payload.matchup.id === m.id)).payload;
    expect(result.matchup).toMatchObject({ left_votes: 0, right_votes: 1, winner_id: m.right_id });
    expect(viewer.of('event:tally')).toEqual([]);
  }, 20_000);

  it('breaks a tie by rating, not by seed', async () => {
    // Seeds list the lower-rated image first in every pair; nobody votes.
    const ids = images.slice(0, 8);
    const rated = ids;
    await sql.query(`insert into image_ratings (image_id, rating) select id, 1000 + 100 * o from unnest($1::int[]) with ordinality t(id, o)
                     on conflict (image_id) do update set rating = excluded.rating`, [rated]);
    const s = await socketFor(voters[1]!.token);
    const viewer = new Watcher(s);
    await liveEvent({ name: 'Quiet cup', entrants: 8, selection: 'list', image_ids: ids, window_ms: 200, grace_ms: 0 }, [s]);
    const first = (await viewer.first('event:result')).matchup;
    const ratingOf = async (id: number) => (await sql.query('select rating from image_ratings where image_id = $1', [id])).rows[0]?.rating ?? 1500;
    expect(first).toMatchObject({ left_votes: 0, right_votes: 0, decided_by: 'rating' });
    // Seed 1 (ids[0]) is the lowest rated: rating beat the better seed.
    expect(first.winner_id).toBe(ids[7]);
    expect(await ratingOf(first.winner_id)).toBeGreaterThan(await ratingOf(ids[0]!));
  }, 20_000);

  it('passes an entrant through on a walkover when its opponent left with its owner’s account', async () => {
    const leaver = await registerAndLogin(hub.url, 'ev_leaver');
    const [gone] = await seedImages(sql, leaver.userId, 1);
    const ids = [...images.slice(0, 7), gone!];
    const s = await socketFor(voters[0]!.token);
    const viewer = new Watcher(s);
    const made = await create({ name: 'Walkover cup', entrants: 8, selection: 'list', image_ids: ids, window_ms: 200, grace_ms: 0 });
    await join(s, made.body.id);
    // Seed 8 (slot 0, right) goes with its owner; the cascade empties its side of the bracket.
    await sql.query('delete from users where id = $1', [leaver.userId]);
    expect((await start(made.body.id)).status).toBe(200);
    const first = (await viewer.first('event:result')).matchup;
    expect(first).toMatchObject({ slot: 0, round: 0, left_id: ids[0], right_id: null, winner_id: ids[0], decided_by: 'walkover', left_votes: 0, right_votes: 0 });
    // The walkover opened nothing: the next matchup shown is slot 1, and the event goes on to a champion.
    expect((await viewer.first('event:matchup')).matchup).toMatchObject({ round: 0, slot: 1 });
    const finished = await viewer.first('event:finished');
    expect(ids).toContain(finished.champion_id);
    expect(finished.matchups.filter((m: { decided_by: string }) => m.decided_by === 'walkover')).toHaveLength(1);
  }, 20_000);

  it('replays exactly what a viewer missed, or says recovered: false', async () => {
    const watching = await socketFor(voters[1]!.token);
    const viewer = new Watcher(watching);
    const other = new Watcher(await socketFor(voters[2]!.token));
    const eventId = await liveEvent({ name: 'Replay cup', entrants: 8, selection: 'list', image_ids: images.slice(12, 20), window_ms: 600, grace_ms: 0 }, [watching, other.socket]);
    const firstMatchup = await viewer.first('event:matchup');
    expect(firstMatchup.seq).toBe(1);
    // Gone for a whole matchup: its result and the next opening.
    watching.disconnect();
    await other.wait((p) => p.type === 'event:matchup' && p.payload.seq === 3);
    const back = await socketFor(voters[1]!.token);
    const re = await join(back, eventId, 1);
    expect(re.ok).toBe(true);
    expect(re.data.recovered).toBe(true);
    const upTo = re.data.event.seq;
    expect(re.data.missed.map((e: { payload: { seq: number } }) => e.payload.seq)).toEqual(Array.from({ length: upTo - 1 }, (_, i) => i + 2));
    expect(re.data.missed[0]).toMatchObject({ type: 'event:result', payload: { matchup: { id: firstMatchup.matchup.id, status: 'closed' } } });
    // What was missed is exactly what a viewer who stayed got.
    await other.wait((p) => p.type !== 'event:tally' && p.payload.seq === upTo);
    const stayed = other.pushes.filter((p) => p.type !== 'event:tally' && p.payload.seq >= 2 && p.payload.seq <= upTo);
    expect(re.data.missed).toEqual(stayed);
    // History keeps 3 entries here: from 0 it cannot replay once seq passes 3; a seq from the future is not ours.
    await other.wait((p) => p.payload.seq >= 4);
    const old = await join(back, eventId, 0);
    expect(old.data).toMatchObject({ recovered: false, missed: [] });
    expect(old.data.event.seq).toBeGreaterThanOrEqual(4);
    expect((await join(back, eventId, 10_000)).data.recovered).toBe(false);
    // A late joiner sees the same state as everyone else.
    const fresh = await join(await socketFor(owner.token), eventId);
    expect(fresh.data).toMatchObject({ recovered: false, my_vote: null });
    expect(fresh.data.event.matchups.length).toBe(7);
    expect((await join(back, 999_999)).error.code).toBe('event_not_found');
  }, 20_000);
});
