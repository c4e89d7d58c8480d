import pg from 'pg';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventClock, type EventClock } from '../../src/modules/tournaments/events.clock.js';
import { createLogger } from '../../src/platform/logger.js';
import { startChildHub, type ChildHub } from '../helpers/child-hub.js';
import { api, connectSocket, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, REDIS_URL, type TestDatabase } from '../helpers/db.js';
import { adminToken, FAST_EVENTS, join, seedImages, sleep, vote, Watcher } from '../helpers/events.js';
import { newRedisPrefix, startTestHub, type TestHub } from '../helpers/hub.js';

const ADMIN = { username: 'node_admin', password: 'admin-password-1' };
const LIMITS = { register: { limit: 1000, windowSeconds: 60 }, socketEvents: { limit: 1000, windowSeconds: 1 } };

/** State changes (not tallies) a watcher saw, one per seq (a node taking over may push its latest again). */
function changes(w: Watcher): Map<number, { type: string; payload: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const bySeq = new Map<number, { type: string; payload: any }>(); // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const p of w.pushes) if (p.type !== 'event:tally') bySeq.set(p.payload.seq, p);
  return bySeq;
}

describe('two clocks on one database', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let sql: pg.Client;
  const clocks: EventClock[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, engine: 'node' });
    // Only the two test clocks compete: the hub's own stays out.
    await hub.app.events.clock.stop();
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });
  afterAll(async () => {
    await Promise.allSettled(clocks.map((c) => c.stop()));
    await sql?.end();
    await hub?.stop();
    await db?.drop();
  });

  it('lets exactly one of them run an event', async () => {
    const owner = await registerAndLogin(hub.url, 'clock_owner');
    const images = await seedImages(sql, owner.userId, 8);
    const [ev] = (await sql.query(`insert into events (name, entrants, selection, window_ms, grace_ms) values ('Contested', 8, 'list', 150, 0) returning id`)).rows;
    const id = ev.id as number;
    await sql.query(`insert into event_entries (event_id, image_id, seed) select $1, i, o from unnest($2::int[]) with ordinality t(i, o)`, [id, images]);
    // The service builds brackets; here the rows are written by hand: 4 first-round pairs, then empty rounds.
    const pairs = [[0, 7], [3, 4], [1, 6], [2, 5]];
    for (let slot = 0; slot < 4; slot++) {
      await sql.query('insert into event_matchups (event_id, round, slot, left_id, right_id) values ($1, 0, $2, $3, $4)', [id, slot, images[pairs[slot]![0]!], images[pairs[slot]![1]!]]);
    }
    for (const [round, slot] of [[1, 0], [1, 1], [2, 0]]) await sql.query('insert into event_matchups (event_id, round, slot) values ($1, $2, $3)', [id, round, slot]);
    const pushes: { clock: string; type: string; seq: number }[] = [];
    const settings = { tickMs: 15, leaseMs: 2000, tallyMs: 100, breakMs: 0, historySize: 256 };
    for (const name of ['x', 'y']) {
      clocks.push(
        createEventClock({
          orm: hub.orm,
          nodeId: `clock-${name}`,
          settings,
          urlFor: (sha) => `/media/${sha}`,
          logger: createLogger('silent'),
          push: (_id, type, payload) => {
            if (type !== 'event:tally') pushes.push({ clock: name, type, seq: (payload as { seq: number }).seq });
          },
        }),
      );
    }
    for (const c of clocks) c.start();
    await sql.query(`update events set status = 'live', started_at = now() where id = $1`, [id]);
    const deadline = Date.now() + 20_000;
    while (!pushes.some((p) => p.type === 'event:finished') && Date.now() < deadline) await sleep(50);
    // Every state change happened once, in order, all by the same clock, although both ticked throughout.
    expect(pushes.map((p) => p.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(new Set(pushes.map((p) => p.clock)).size).toBe(1);
    const stream = await sql.query('select seq from event_stream where event_id = $1 order by seq', [id]);
    expect(stream.rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect((await sql.query('select count(*)::int as n from event_matchups where event_id = $1 and winner_id is not null', [id])).rows[0].n).toBe(7);
  }, 30_000);
});

describe('a live event across two hub nodes', () => {
  let db: TestDatabase;
  let sql: pg.Client;
  let a: TestHub;
  let b: ChildHub;
  let admin: string;
  let images: number[];
  const open: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const prefix = newRedisPrefix();
    // B first and alone: it migrates the database and is the only clock when the event starts.
    b = await startChildHub({
      env: {
        HTTP_ENGINE: 'uws',
        DATABASE_URL: db.url,
        REDIS_URL,
        EASEL__REDIS__KEY_PREFIX: prefix,
        EASEL__EVENTS: JSON.stringify({ ...FAST_EVENTS, windowMs: 800, graceMs: 200 }),
        EASEL__RATE_LIMITS__REGISTER: JSON.stringify(LIMITS.register),
        EASEL__RATE_LIMITS__SOCKET_EVENTS: JSON.stringify(LIMITS.socketEvents),
        ADMIN_USERNAME: ADMIN.username,
        ADMIN_PASSWORD: ADMIN.password,
        EASEL__SERVER__SHUTDOWN_GRACE_MS: '1000',
      },
    });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    admin = await adminToken(b.url, ADMIN.username, ADMIN.password);
    const owner = await registerAndLogin(b.url, 'nodes_owner');
    images = await seedImages(sql, owner.userId, 16);
    a = await startTestHub({ dbUrl: db.url, engine: 'uws', redis: prefix, overrides: { events: { ...FAST_EVENTS, windowMs: 800, graceMs: 200 }, rateLimits: LIMITS } });
  }, 90_000);

  afterAll(async () => {
    for (const s of open) s.close();
    await sql?.end();
    await b?.stop();
    await a?.stop();
    await db?.drop();
  });

  async function createEvent(base: string, body: Record<string, unknown>): Promise<number> {
    const made = await api(base, 'POST', '/api/v1/events', { token: admin, json: body });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    return made.body.id as number;
  }

  async function socketOn(base: string, token: string): Promise<Socket> {
    const s = await connectSocket(base, '/tournament', token);
    open.push(s);
    return s;
  }

  it('finishes a 16-entrant event on the other node when the clock’s node is killed, losing no vote', async () => {
    const users = await Promise.all([0, 1, 2, 3, 4].map((i) => registerAndLogin(a.url, `crowd_${i}`)));
    const id = await createEvent(b.url, { name: 'Two-node cup', entrants: 16, selection: 'list', image_ids: images });
    // Viewers on both nodes; voters 0-2 on A vote left, 3-4 on B vote right: left wins 3-2 while B lives.
    const viewA = new Watcher(await socketOn(a.url, users[0]!.token));
    const viewB = new Watcher(await socketOn(b.url, users[1]!.token));
    const voters = await Promise.all(users.map((u, i) => socketOn(i < 3 ? a.url : b.url, u.token)));
    for (const w of [viewA, viewB]) expect((await join(w.socket, id)).ok).toBe(true);
    await sleep(150); // the adapter subscribes to the room's channel asynchronously
    // B alone runs the clock at the start.
    await a.app.events.clock.stop();
    expect((await api(b.url, 'POST', `/api/v1/events/${id}/start`, { token: admin })).status).toBe(200);
    await viewA.wait((p) => p.type === 'event:matchup' && p.payload.seq === 1);
    a.app.events.clock.start();
    const bPid = b.logs.find((l) => typeof l.pid === 'number')!.pid as number;
    expect((await sql.query('select lease_owner from events where id = $1', [id])).rows[0].lease_owner).toContain(`:${bPid}:`);

    const counted = new Map<number, { left: number; right: number }>();
    let killedAt = 0;
    for (let n = 0; n < 15; n++) {
      const m = (await viewA.wait((p) => p.type === 'event:matchup' && p.payload.seq === 2 * n + 1, 20_000)).payload.matchup;
      const acks = await Promise.all(voters.map((s, i) => vote(s, id, m.id, i < 3 ? 'left' : 'right')));
      const tally = { left: 0, right: 0 };
      for (const ack of acks) {
        expect(ack.ok, JSON.stringify(ack)).toBe(true);
        if (ack.data.counted) tally[ack.data.choice as 'left' | 'right']++;
      }
      counted.set(m.id, tally);
      if (n === 2) {
        // Mid-matchup, with B's votes for it acked: B dies without a word.
        process.kill(bPid, 'SIGKILL');
        killedAt = Date.now();
        for (const i of [3, 4]) voters[i] = await socketOn(a.url, users[i]!.token);
      }
      const result = (await viewA.wait((p) => p.type === 'event:result' && p.payload.matchup.id === m.id, 20_000)).payload;
      if (n === 2) expect(Date.now() - killedAt).toBeLessThan(5_000);
      // No acked vote is lost: the close counts exactly what was acked.
      expect(result.matchup).toMatchObject({ left_votes: tally.left, right_votes: tally.right, winner_id: m.left_id });
    }
    const finished = (await viewA.wait((p) => p.type === 'event:finished', 20_000)).payload;
    expect(finished.matchups).toHaveLength(15);
    const seenA = changes(viewA);
    // One clock at a time: every change reached A's viewer once, apart from the one the new clock pushes
    // again when it takes over (its predecessor may have died before pushing it).
    const received = viewA.pushes.filter((p) => p.type !== 'event:tally').length;
    expect(received - seenA.size).toBeLessThanOrEqual(1);
    expect([...seenA.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    // B's viewer lost its node; it reconnects to A with the last seq it saw and gets the rest replayed.
    const seenB = changes(viewB);
    const last = Math.max(...seenB.keys());
    expect(last).toBeGreaterThanOrEqual(5);
    const back = await socketOn(a.url, users[1]!.token);
    const re = await join(back, id, last);
    expect(re.data.recovered).toBe(true);
    for (const e of re.data.missed) seenB.set(e.payload.seq, e);
    expect([...seenB.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    expect([...seenB.values()].filter((e) => e.type === 'event:result')).toHaveLength(15);
    // Every result agrees across both viewers, and with the database.
    for (const [seq, e] of seenA) expect(seenB.get(seq)).toEqual(e);
    const stored = await sql.query('select id, left_votes, right_votes from event_matchups where event_id = $1', [id]);
    for (const row of stored.rows) expect({ left: row.left_votes, right: row.right_votes }).toEqual(counted.get(row.id));
    const event = await api(a.url, 'GET', `/api/v1/events/${id}`);
    expect(event.body).toMatchObject({ status: 'finished', champion_id: finished.champion_id });
  }, 90_000);
});
