import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePng, makeTempDir, makeTextFile, type TempDir } from '../../src/modules/media/test-fixtures.js';
import { api, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const LIMITS = { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 } };

interface Upload {
  fields?: Record<string, string>;
  file?: Buffer | null;
  fileFirst?: boolean;
}

describe('community: image posts, feeds and likes', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let mediaDir: TempDir;
  let sql: pg.Client;
  let alice: { token: string; userId: number };
  let bob: { token: string; userId: number };
  let admin: { token: string; userId: number };
  let side = 16;

  async function upload(token: string | undefined, u: Upload = {}) {
    const form = new FormData();
    const file = u.file === undefined ? await makePng(side++, 16) : u.file;
    const addFile = () => file && form.append('file', new Blob([file], { type: 'image/png' }), 'picture.png');
    if (u.fileFirst) addFile();
    for (const [k, v] of Object.entries(u.fields ?? { prompt: 'a lighthouse at dusk, oil painting' })) form.append(k, v);
    if (!u.fileFirst) addFile();
    const res = await fetch(`${hub.url}/api/v1/images`, { method: 'POST', body: form, headers: token ? { authorization: `Bearer ${token}` } : {} });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  }

  async function post(token: string, fields: Record<string, string> = { prompt: 'a cat astronaut' }): Promise<number> {
    const res = await upload(token, { fields });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as number;
  }

  const count = async (table: string) => Number((await sql.query(`select count(*) from ${table}`)).rows[0].count);

  beforeAll(async () => {
    db = await createTestDatabase();
    mediaDir = await makeTempDir('easel-community-');
    hub = await startTestHub({ dbUrl: db.url, overrides: { rateLimits: LIMITS, media: { dir: mediaDir.dir } } });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    alice = await registerAndLogin(hub.url, 'alice');
    bob = await registerAndLogin(hub.url, 'bob');
    await hub.app.identity.bootstrapAdmin(hub.orm.em.fork(), 'root_admin', 'admin-password-1');
    const tok = await api(hub.url, 'POST', '/api/v1/auth/token', { json: { username: 'root_admin', password: 'admin-password-1' } });
    admin = { token: tok.body.access_token, userId: 0 };
  });

  afterAll(async () => {
    await sql?.end();
    await hub?.stop();
    await db?.drop();
    await mediaDir?.cleanup();
  });

  it('POST /images stores the post with owner, urls, counts and a Location header', async () => {
    const res = await upload(alice.token, { fields: { prompt: '  neon koi pond  ', model_name: 'sdxl-1.0', tournament_opt_in: 'true' } });
    expect(res.status).toBe(201);
    const img = res.body;
    expect(res.headers.get('location')).toBe(`/api/v1/images/${img.id}`);
    expect(img).toMatchObject({
      owner: { id: alice.userId, username: 'alice' },
      prompt: 'neon koi pond',
      model_name: 'sdxl-1.0',
      tournament_opt_in: true,
      active: true,
      like_count: 0,
      liked_by_me: false,
      media: { format: 'png', width: expect.any(Number), height: 16 },
    });
    expect(img.urls).toEqual({
      original: hub.app.media.urlFor(img.media.sha256, 'original'),
      thumb: hub.app.media.urlFor(img.media.sha256, 'thumb'),
      webp: hub.app.media.urlFor(img.media.sha256, 'webp'),
    });
    expect(new Date(img.created_at).toISOString()).toBe(img.created_at);
    const thumb = await fetch(hub.url + img.urls.thumb);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');

    const anon = await api(hub.url, 'GET', `/api/v1/images/${img.id}`);
    expect(anon.status).toBe(200);
    expect(anon.body.id).toBe(img.id);
    expect(anon.body).not.toHaveProperty('liked_by_me');
  });

  it('rejects bad upload fields with 422 and leaves no image or media row behind', async () => {
    const images = await count('images');
    const media = await count('media');
    const cases: [string, Upload, string][] = [
      ['empty prompt', { fields: { prompt: '   ' } }, 'body.prompt'],
      ['prompt of 2001 chars', { fields: { prompt: 'x'.repeat(2001) } }, 'body.prompt'],
      ['missing prompt', { fields: {} }, 'body.prompt'],
      ['model_name of 101 chars', { fields: { prompt: 'ok', model_name: 'm'.repeat(101) } }, 'body.model_name'],
      ['tournament_opt_in not a boolean', { fields: { prompt: 'ok', tournament_opt_in: 'yes' } }, 'body.tournament_opt_in'],
      ['unknown field', { fields: { prompt: 'ok', owner_id: '1' } }, 'body'],
      ['fields after the file', { fields: { prompt: '' }, fileFirst: true }, 'body.prompt'],
      ['no file', { fields: { prompt: 'ok' }, file: null }, 'body.file'],
    ];
    for (const [name, u, path] of cases) {
      const res = await upload(alice.token, u);
      expect(res.status, name).toBe(422);
      expect(res.headers.get('content-type'), name).toContain('application/problem+json');
      expect(res.body.code, name).toBe('validation_failed');
      expect(res.body.errors.map((e: { path: string }) => e.path).some((p: string) => p.startsWith(path)), `${name}: ${JSON.stringify(res.body.errors)}`).toBe(true);
    }
    const notImage = await upload(alice.token, { file: makeTextFile() });
    expect(notImage.status).toBe(415);
    const anon = await upload(undefined);
    expect(anon.status).toBe(401);
    expect(await count('images')).toBe(images);
    expect(await count('media')).toBe(media);
  });

  it('GET /images/{id}: unknown is 404, malformed ids are 422 problems', async () => {
    const missing = await api(hub.url, 'GET', '/api/v1/images/999999');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'image_not_found', status: 404 });
    for (const bad of ['abc', '0', '-1', '1.5', '1e3', '99999999999']) {
      const res = await api(hub.url, 'GET', `/api/v1/images/${bad}`);
      expect(res.status, bad).toBe(422);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
  });

  it('PATCH: owner and admin may edit; another user gets 403; bad bodies get 422', async () => {
    const id = await post(alice.token);
    const byOwner = await api(hub.url, 'PATCH', `/api/v1/images/${id}`, { token: alice.token, json: { prompt: 'edited', model_name: null, tournament_opt_in: true } });
    expect(byOwner.status).toBe(200);
    expect(byOwner.body).toMatchObject({ prompt: 'edited', model_name: null, tournament_opt_in: true });

    const byOther = await api(hub.url, 'PATCH', `/api/v1/images/${id}`, { token: bob.token, json: { prompt: 'hijacked' } });
    expect(byOther.status).toBe(403);
    expect(byOther.body.code).toBe('not_image_owner');

    for (const [name, body] of [
      ['unknown field', { prompt: 'ok', active: true }],
      ['empty body', {}],
      ['prompt too long', { prompt: 'p'.repeat(2001) }],
      ['empty prompt', { prompt: '' }],
      ['model_name too long', { model_name: 'm'.repeat(101) }],
      ['opt-in as string', { tournament_opt_in: 'true' }],
    ] as const) {
      const res = await api(hub.url, 'PATCH', `/api/v1/images/${id}`, { token: alice.token, json: body });
      expect(res.status, name).toBe(422);
    }
    const byAdmin = await api(hub.url, 'PATCH', `/api/v1/images/${id}`, { token: admin.token, json: { model_name: 'moderated' } });
    expect(byAdmin.status).toBe(200);
    const after = await api(hub.url, 'GET', `/api/v1/images/${id}`);
    expect(after.body).toMatchObject({ prompt: 'edited', model_name: 'moderated' });
    expect((await api(hub.url, 'PATCH', '/api/v1/images/999999', { token: alice.token, json: { prompt: 'x' } })).status).toBe(404);
  });

  it('DELETE is soft, owner/admin only, and removes the image from feeds, top, random and likes', async () => {
    const id = await post(alice.token, { prompt: 'to be deleted', tournament_opt_in: 'true' });
    expect((await api(hub.url, 'PUT', `/api/v1/images/${id}/like`, { token: bob.token })).body.like_count).toBe(1);

    const byOther = await api(hub.url, 'DELETE', `/api/v1/images/${id}`, { token: bob.token });
    expect(byOther.status).toBe(403);
    expect((await api(hub.url, 'GET', `/api/v1/images/${id}`)).status).toBe(200);

    expect((await api(hub.url, 'DELETE', `/api/v1/images/${id}`, { token: alice.token })).status).toBe(204);
    expect((await api(hub.url, 'DELETE', `/api/v1/images/${id}`, { token: alice.token })).status).toBe(204);
    const row = (await sql.query('select active, deleted_at from images where id = $1', [id])).rows[0];
    expect(row.active).toBe(false);
    expect(row.deleted_at).not.toBeNull();

    expect((await api(hub.url, 'GET', `/api/v1/images/${id}`)).status).toBe(404);
    expect((await api(hub.url, 'GET', `/api/v1/images/${id}`, { token: bob.token })).status).toBe(404);
    const own = await api(hub.url, 'GET', `/api/v1/images/${id}`, { token: alice.token });
    expect(own.status).toBe(200);
    expect(own.body.active).toBe(false);

    const like = await api(hub.url, 'PUT', `/api/v1/images/${id}/like`, { token: admin.token });
    expect(like.status).toBe(404);
    expect(like.body.code).toBe('image_not_found');
    expect((await api(hub.url, 'DELETE', `/api/v1/images/${id}/like`, { token: bob.token })).status).toBe(404);
    expect((await api(hub.url, 'PATCH', `/api/v1/images/${id}`, { token: alice.token, json: { prompt: 'revive' } })).status).toBe(404);
    expect((await api(hub.url, 'DELETE', `/api/v1/images/${id}`, { token: bob.token })).status).toBe(404);

    const feed = await api(hub.url, 'GET', `/api/v1/images?user_id=${alice.userId}&limit=100`);
    expect(feed.body.items.map((i: { id: number }) => i.id)).not.toContain(id);
    const top = await api(hub.url, 'GET', '/api/v1/images/top?window=24h&limit=100');
    expect(top.body.items.map((i: { id: number }) => i.id)).not.toContain(id);
    const random = await api(hub.url, 'GET', '/api/v1/images/random?limit=50');
    expect(random.body.items.map((i: { id: number }) => i.id)).not.toContain(id);
    // Tournaments draw from active, opted-in images: the deleted one is no longer eligible.
    const eligible = await sql.query('select id from images where active and tournament_opt_in');
    expect(eligible.rows.map((r) => r.id)).not.toContain(id);

    const other = await post(bob.token);
    expect((await api(hub.url, 'DELETE', `/api/v1/images/${other}`, { token: admin.token })).status).toBe(204);
    expect((await api(hub.url, 'GET', `/api/v1/images/${other}`, { token: admin.token })).body.active).toBe(false);
  });

  it('likes are idempotent per user and reflected in like_count, liked_by_me and stats', async () => {
    const id = await post(alice.token);
    const first = await api(hub.url, 'PUT', `/api/v1/images/${id}/like`, { token: bob.token });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ image_id: id, liked: true, like_count: 1, seq: 1 });
    const again = await api(hub.url, 'PUT', `/api/v1/images/${id}/like`, { token: bob.token });
    expect(again.body).toEqual({ image_id: id, liked: true, like_count: 1, seq: 1 });
    expect((await sql.query('select count(*)::int as n from image_likes where image_id = $1', [id])).rows[0].n).toBe(1);

    expect((await api(hub.url, 'GET', `/api/v1/images/${id}`, { token: bob.token })).body).toMatchObject({ like_count: 1, liked_by_me: true });
    expect((await api(hub.url, 'GET', `/api/v1/images/${id}`, { token: alice.token })).body).toMatchObject({ like_count: 1, liked_by_me: false });
    const stats = await api(hub.url, 'GET', `/api/v1/images/${id}/stats`);
    expect(stats.body).toMatchObject({ image_id: id, like_count: 1, likes_24h: 1, tournament: { rated: false, rating: 1500, rd: 350, wins: 0, losses: 0, canonical: null } });

    expect((await api(hub.url, 'DELETE', `/api/v1/images/${id}/like`, { token: bob.token })).body).toEqual({ image_id: id, liked: false, like_count: 0, seq: 2 });
    expect((await api(hub.url, 'DELETE', `/api/v1/images/${id}/like`, { token: bob.token })).body).toEqual({ image_id: id, liked: false, like_count: 0, seq: 2 });
    expect((await api(hub.url, 'PUT', '/api/v1/images/999999/like', { token: bob.token })).status).toBe(404);
    expect((await api(hub.url, 'PUT', `/api/v1/images/${id}/like`)).status).toBe(401);
    expect((await api(hub.url, 'GET', '/api/v1/images/999999/stats')).status).toBe(404);
  });

  it('20 concurrent likes by different users count 20; 10 concurrent likes by one user count 1', async () => {
    const id = await post(alice.token);
    const users = await Promise.all(
      Array.from({ length: 20 }, async (_, n) => {
        const user = await hub.app.identity.createUser(hub.orm.em.fork(), { username: `liker_${n}`, password: null });
        return (await hub.app.tokens.issueAccess({ id: user.id, role: 'user' })).token;
      }),
    );
    const results = await Promise.all(users.map((token) => api(hub.url, 'PUT', `/api/v1/images/${id}/like`, { token })));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(Math.max(...results.map((r) => r.body.like_count))).toBe(20);
    expect((await api(hub.url, 'GET', `/api/v1/images/${id}`)).body.like_count).toBe(20);

    const same = await Promise.all(Array.from({ length: 10 }, () => api(hub.url, 'PUT', `/api/v1/images/${id}/like`, { token: bob.token })));
    expect(same.every((r) => r.status === 200)).toBe(true);
    const unlikes = await Promise.all(users.slice(0, 5).map((token) => api(hub.url, 'DELETE', `/api/v1/images/${id}/like`, { token })));
    expect(unlikes.every((r) => r.status === 200)).toBe(true);
    const stored = (await sql.query('select like_count, (select count(*)::int from image_likes where image_id = $1) as rows from images where id = $1', [id])).rows[0];
    expect(stored).toEqual({ like_count: 16, rows: 16 });
  });

  it('deleting an account takes its likes out of like_count (the counter follows cascades)', async () => {
    const id = await post(alice.token);
    const leaving = await registerAndLogin(hub.url, 'leaving_user');
    await api(hub.url, 'PUT', `/api/v1/images/${id}/like`, { token: bob.token });
    expect((await api(hub.url, 'PUT', `/api/v1/images/${id}/like`, { token: leaving.token })).body.like_count).toBe(2);
    const gone = await api(hub.url, 'DELETE', '/api/v1/auth/me', { token: leaving.token, json: { current_password: 'correct-horse-battery' } });
    expect(gone.status).toBe(204);
    expect((await api(hub.url, 'GET', `/api/v1/images/${id}`)).body.like_count).toBe(1);
  });

  it('paginates with an opaque cursor, stable under identical timestamps, filtered by user', async () => {
    const carol = await registerAndLogin(hub.url, 'carol');
    const ids: number[] = [];
    for (let n = 0; n < 7; n++) ids.push(await post(carol.token, { prompt: `carol ${n}` }));
    // Same created_at for four of them: the id tie-breaker must still give every row exactly once.
    await sql.query(`update images set created_at = '2030-01-01T00:00:00.000Z' where id = any($1)`, [ids.slice(1, 5)]);
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const qs: string = `user_id=${carol.userId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await api(hub.url, 'GET', `/api/v1/images?${qs}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((i: { id: number; owner: { id: number } }) => (expect(i.owner.id).toBe(carol.userId), i.id)));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(4);
    const expected = (await sql.query('select id from images where user_id = $1 and active order by created_at desc, id desc', [carol.userId])).rows.map((r) => r.id);
    expect(seen).toEqual(expected);
    expect(new Set(seen).size).toBe(7);

    const all = await api(hub.url, 'GET', '/api/v1/images?limit=100');
    expect(all.body.items.length).toBeGreaterThanOrEqual(7);
    expect(all.body.next_cursor).toBeNull();
    expect(all.body.items.every((i: { active: boolean }) => i.active)).toBe(true);
  });

  it('rejects forged cursors (400 invalid_cursor) and bad query params (422)', async () => {
    const forged = [
      'not-a-cursor',
      Buffer.from('{"v":1,"t":"2030-01-01T00:00:00.000Z","id":"1 or 1=1"}').toString('base64url'),
      Buffer.from('{"v":1,"t":"2030-01-01T00:00:00.000Z\' --","id":1}').toString('base64url'),
      '%01%02',
    ];
    for (const cursor of forged) {
      const res = await api(hub.url, 'GET', `/api/v1/images?cursor=${cursor}`);
      expect(res.status, cursor).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.code).toBe('invalid_cursor');
    }
    // NUL is refused at the edge for every string input, before the cursor codec sees it.
    expect((await api(hub.url, 'GET', '/api/v1/images?cursor=%00%01')).status).toBe(422);
    for (const qs of ['limit=0', 'limit=101', 'limit=abc', 'user_id=abc', 'sort=asc']) {
      expect((await api(hub.url, 'GET', `/api/v1/images?${qs}`)).status, qs).toBe(422);
    }
    expect((await api(hub.url, 'GET', '/health')).status).toBe(200);
  });

  it('GET /images/random returns distinct active images only', async () => {
    const active = (await sql.query('select id from images where active')).rows.map((r) => r.id as number);
    const one = await api(hub.url, 'GET', '/api/v1/images/random');
    expect(one.status).toBe(200);
    expect(one.body.items).toHaveLength(1);
    expect(active).toContain(one.body.items[0].id);
    const many = await api(hub.url, 'GET', '/api/v1/images/random?limit=50');
    const got = many.body.items.map((i: { id: number }) => i.id);
    expect(new Set(got).size).toBe(got.length);
    expect([...got].sort((a, b) => a - b)).toEqual([...active].sort((a, b) => a - b).slice(0, 50));
    expect((await api(hub.url, 'GET', '/api/v1/images/random?limit=51')).status).toBe(422);
  });

  it('GET /images/top ranks by likes received inside the window', async () => {
    const dave = await registerAndLogin(hub.url, 'dave');
    const older = await post(dave.token, { prompt: 'liked long ago' });
    const recent = await post(dave.token, { prompt: 'liked today' });
    const likers = await Promise.all(
      Array.from({ length: 3 }, async (_, n) => {
        const user = await hub.app.identity.createUser(hub.orm.em.fork(), { username: `top_${n}`, password: null });
        return (await hub.app.tokens.issueAccess({ id: user.id, role: 'user' })).token;
      }),
    );
    for (const token of likers) await api(hub.url, 'PUT', `/api/v1/images/${older}/like`, { token });
    await api(hub.url, 'PUT', `/api/v1/images/${recent}/like`, { token: likers[0] });
    // The three likes on `older` happened two days ago.
    await sql.query(`update image_likes set created_at = now() - interval '2 days' where image_id = $1`, [older]);

    const day = await api(hub.url, 'GET', '/api/v1/images/top?window=24h&limit=100');
    expect(day.status).toBe(200);
    expect(day.body.window).toBe('24h');
    const dayIds = day.body.items.map((i: { id: number }) => i.id);
    expect(dayIds).toContain(recent);
    expect(dayIds).not.toContain(older);
    expect(day.body.items.find((i: { id: number }) => i.id === recent).window_likes).toBe(1);

    const week = await api(hub.url, 'GET', '/api/v1/images/top?window=7d&limit=100');
    const weekIds = week.body.items.map((i: { id: number }) => i.id);
    expect(weekIds.indexOf(older)).toBeLessThan(weekIds.indexOf(recent));
    expect(week.body.items.find((i: { id: number }) => i.id === older)).toMatchObject({ window_likes: 3, like_count: 3 });
    const counts = week.body.items.map((i: { window_likes: number }) => i.window_likes);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));

    expect((await api(hub.url, 'GET', '/api/v1/images/top')).body.window).toBe('24h');
    for (const w of ['2h', '24', 'forever', '']) expect((await api(hub.url, 'GET', `/api/v1/images/top?window=${w}`)).status, w).toBe(422);
  });

  it('documents the routes in /openapi.json and the live events in /asyncapi.json', async () => {
    const openapi = await api(hub.url, 'GET', '/openapi.json');
    expect(openapi.status).toBe(200);
    const paths = Object.keys(openapi.body.paths);
    for (const p of ['/api/v1/images', '/api/v1/images/random', '/api/v1/images/top', '/api/v1/images/{id}', '/api/v1/images/{id}/like', '/api/v1/images/{id}/stats']) expect(paths).toContain(p);
    expect(Object.keys(openapi.body.paths['/api/v1/images'].post.requestBody.content)).toEqual(['multipart/form-data']);
    const asyncapi = await api(hub.url, 'GET', '/asyncapi.json');
    expect(asyncapi.status).toBe(200);
    const text = JSON.stringify(asyncapi.body);
    for (const ev of ['image:watch', 'image:unwatch', 'image:likes']) expect(text).toContain(ev);
  });
});
