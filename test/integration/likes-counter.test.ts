import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePng, makeTempDir, type TempDir } from '../../src/modules/media/test-fixtures.js';
import type { EntityManager } from '../../src/platform/db/orm.js';
import { api, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const LIMITS = { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 } };

/**
 * The like counter after migration 0006: one statement per like/unlike moves like_count and likes_seq
 * under the image's row lock; a trigger only handles deletes cascaded from an account deletion.
 */
describe('likes: one statement, exact counts under concurrency, cascades', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let mediaDir: TempDir;
  let sql: pg.Client;
  let owner: { token: string; userId: number };
  let side = 16;

  async function post(token: string): Promise<number> {
    const form = new FormData();
    form.append('prompt', 'counter target');
    form.append('file', new Blob([await makePng(side++, 16)], { type: 'image/png' }), 'c.png');
    const res = await fetch(`${hub.url}/api/v1/images`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: number }).id;
  }

  /** Tokens for `n` fresh users, made through the service (no password hashing, no rate limit). */
  async function users(prefix: string, n: number): Promise<string[]> {
    return Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const user = await hub.app.identity.createUser(hub.orm.em.fork(), { username: `${prefix}_${i}`, password: null });
        return (await hub.app.tokens.issueAccess({ id: user.id, role: 'user' })).token;
      }),
    );
  }

  const stored = async (id: number) =>
    (await sql.query('select like_count, likes_seq::int as seq, (select count(*)::int from image_likes where image_id = $1) as rows from images where id = $1', [id])).rows[0];

  const like = (token: string, id: number | string, method: 'PUT' | 'DELETE' = 'PUT') => api(hub.url, method, `/api/v1/images/${id}/like`, { token });

  beforeAll(async () => {
    db = await createTestDatabase();
    mediaDir = await makeTempDir('easel-likes-counter-');
    hub = await startTestHub({ dbUrl: db.url, overrides: { rateLimits: LIMITS, media: { dir: mediaDir.dir } } });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    owner = await registerAndLogin(hub.url, 'counter_owner');
  });

  afterAll(async () => {
    await sql?.end();
    await hub?.stop();
    await db?.drop();
    await mediaDir?.cleanup();
  });

  it('a like and an unlike are each one database statement', async () => {
    const id = await post(owner.token);
    const fan = await hub.app.identity.createUser(hub.orm.em.fork(), { username: 'one_trip', password: null });
    const calls: string[] = [];
    const em = hub.orm.em.fork();
    // Records every method the service calls on the EntityManager (execute, findOne, flush, ...).
    const counted = new Proxy(em, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (calls.push(String(key)), (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    }) as EntityManager;
    const actor = { kind: 'user', userId: fan.id, role: 'user', tokenId: 't', expiresAt: 0 } as const;
    expect(await hub.app.community.like(counted, actor, id)).toEqual({ image_id: id, liked: true, like_count: 1, seq: 1 });
    expect(calls).toEqual(['execute']);
    calls.length = 0;
    expect(await hub.app.community.like(counted, actor, id)).toEqual({ image_id: id, liked: true, like_count: 1, seq: 1 });
    expect(await hub.app.community.unlike(counted, actor, id)).toEqual({ image_id: id, liked: false, like_count: 0, seq: 2 });
    expect(calls).toEqual(['execute', 'execute']);
    expect(await stored(id)).toEqual({ like_count: 0, seq: 2, rows: 0 });
  });

  it('100 concurrent likes by distinct users: each response carries its own count 1..100, stored 100', async () => {
    const id = await post(owner.token);
    const tokens = await users('burst', 100);
    const results = await Promise.all(tokens.map((t) => like(t, id)));
    expect(results.map((r) => r.status)).toEqual(Array(100).fill(200));
    // Every like runs under the row lock, so each one sees the count right after its own increment.
    expect(results.map((r) => r.body.like_count as number).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    // Only likes here, so each response's seq equals its count.
    expect(results.every((r) => r.body.seq === r.body.like_count)).toBe(true);
    expect(await stored(id)).toEqual({ like_count: 100, seq: 100, rows: 100 });

    const unlikes = await Promise.all(tokens.slice(0, 40).map((t) => like(t, id, 'DELETE')));
    expect(unlikes.map((r) => r.body.like_count as number).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 60));
    expect(await stored(id)).toEqual({ like_count: 60, seq: 140, rows: 60 });
  });

  it('the same user liking (and unliking) 20 times at once counts once', async () => {
    const id = await post(owner.token);
    const [token] = await users('double', 1);
    const likes = await Promise.all(Array.from({ length: 20 }, () => like(token!, id)));
    expect(likes.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(likes.every((r) => r.body.like_count === 1 && r.body.liked === true)).toBe(true);
    expect(await stored(id)).toEqual({ like_count: 1, seq: 1, rows: 1 });
    const unlikes = await Promise.all(Array.from({ length: 20 }, () => like(token!, id, 'DELETE')));
    expect(unlikes.every((r) => r.status === 200 && r.body.like_count === 0 && r.body.liked === false)).toBe(true);
    expect(await stored(id)).toEqual({ like_count: 0, seq: 2, rows: 0 });
  });

  it('interleaved likes and unlikes from many users keep like_count equal to the rows', async () => {
    const id = await post(owner.token);
    const tokens = await users('churn', 30);
    await Promise.all(
      tokens.map(async (t, i) => {
        for (let k = 0; k < 3 + (i % 2); k++) await like(t, id, k % 2 ? 'DELETE' : 'PUT');
      }),
    );
    // Even users did like, unlike, like (liked); odd users did one more unlike.
    expect(await stored(id)).toEqual({ like_count: 15, seq: 15 * 3 + 15 * 4, rows: 15 });
  });

  it('owners may like their own images; unknown, deleted and malformed ids are refused', async () => {
    const id = await post(owner.token);
    expect((await like(owner.token, id)).body).toEqual({ image_id: id, liked: true, like_count: 1, seq: 1 });

    const [fan] = await users('refused', 1);
    expect((await api(hub.url, 'DELETE', `/api/v1/images/${id}`, { token: owner.token })).status).toBe(204);
    for (const method of ['PUT', 'DELETE'] as const) {
      const gone = await like(fan!, id, method);
      expect(gone.status, method).toBe(404);
      expect(gone.body.code).toBe('image_not_found');
      expect((await like(fan!, 2_000_000_000, method)).status).toBe(404);
      for (const bad of ['abc', '0', '-1', '1.5', '99999999999']) expect((await like(fan!, bad, method)).status, `${method} ${bad}`).toBe(422);
      expect((await api(hub.url, method, `/api/v1/images/${id}/like`)).status).toBe(401);
    }
    // The owner's like on the now deleted image stays counted; nobody could add or remove one.
    expect(await stored(id)).toEqual({ like_count: 1, seq: 1, rows: 1 });
    const guest = await api(hub.url, 'POST', '/api/v1/auth/guest');
    const other = await post(owner.token);
    expect((await like(guest.body.access_token as string, other)).status).toBe(403);
    expect(await stored(other)).toEqual({ like_count: 0, seq: 0, rows: 0 });
  });

  it('deleting an account takes its likes out of other images once, and drops its own images cleanly', async () => {
    const a = await post(owner.token);
    const b = await post(owner.token);
    const [stay] = await users('stay', 1);
    const leaving = await registerAndLogin(hub.url, 'counter_leaving');
    const own = await post(leaving.token);
    for (const image of [a, b]) {
      await like(stay!, image);
      await like(leaving.token, image);
    }
    await like(leaving.token, own);
    await like(stay!, own);
    expect(await stored(a)).toEqual({ like_count: 2, seq: 2, rows: 2 });

    const gone = await api(hub.url, 'DELETE', '/api/v1/auth/me', { token: leaving.token, json: { current_password: 'correct-horse-battery' } });
    expect(gone.status).toBe(204);
    expect(await stored(a)).toEqual({ like_count: 1, seq: 3, rows: 1 });
    expect(await stored(b)).toEqual({ like_count: 1, seq: 3, rows: 1 });
    expect((await sql.query('select count(*)::int as n from images where id = $1', [own])).rows[0].n).toBe(0);
    // An ordinary unlike after the cascade is counted by the statement alone, not a second time by the trigger.
    expect((await like(stay!, a, 'DELETE')).body.like_count).toBe(0);
    expect(await stored(a)).toEqual({ like_count: 0, seq: 4, rows: 0 });
  });
});
