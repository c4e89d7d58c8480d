import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LikesChange } from '../../src/modules/community/community.schemas.js';
import { makePng, makeTempDir, type TempDir } from '../../src/modules/media/test-fixtures.js';
import { ConfigError, loadConfig } from '../../src/platform/config.js';
import { api, connectSocket, emitAck, nextEvent, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { newRedisPrefix, startTestHub, type TestHub } from '../helpers/hub.js';

const LIMITS = { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 } };
const WINDOW = 250;

/** Every `image:likes` a socket receives, with the time it arrived. */
function record(socket: Socket): { seen: (LikesChange & { at: number })[]; stop: () => void } {
  const seen: (LikesChange & { at: number })[] = [];
  const on = (p: LikesChange) => seen.push({ ...p, at: Date.now() });
  socket.on('image:likes', on);
  return { seen, stop: () => socket.off('image:likes', on) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/* node:http hubs: two uWS hubs cannot share a process (see likes-live.test.ts). */
describe('coalesced image:likes across hubs sharing Redis', () => {
  let db: TestDatabase;
  let a: TestHub;
  let b: TestHub;
  let mediaDir: TempDir;
  let owner: { token: string; userId: number };
  let side = 16;
  const open: Socket[] = [];
  const prefix = newRedisPrefix();
  const overrides = (likesWindowMs: number) => ({ rateLimits: LIMITS, media: { dir: mediaDir.dir }, community: { likesWindowMs } });

  async function post(hub: TestHub): Promise<number> {
    const form = new FormData();
    form.append('prompt', 'coalesce target');
    form.append('file', new Blob([await makePng(side++, 16)], { type: 'image/png' }), 'c.png');
    const res = await fetch(`${hub.url}/api/v1/images`, { method: 'POST', body: form, headers: { authorization: `Bearer ${owner.token}` } });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: number }).id;
  }

  async function tokens(hub: TestHub, name: string, n: number): Promise<string[]> {
    return Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const user = await hub.app.identity.createUser(hub.orm.em.fork(), { username: `${name}_${i}`, password: null });
        return (await hub.app.tokens.issueAccess({ id: user.id, role: 'user' })).token;
      }),
    );
  }

  async function watch(hub: TestHub, imageId: number): Promise<Socket> {
    const socket = await connectSocket(hub.url, '/', owner.token);
    open.push(socket);
    expect(await emitAck(socket, 'image:watch', { imageId })).toMatchObject({ ok: true });
    return socket;
  }

  const like = (hub: TestHub, token: string, id: number, method = 'PUT') => api(hub.url, method, `/api/v1/images/${id}/like`, { token });

  beforeAll(async () => {
    db = await createTestDatabase();
    mediaDir = await makeTempDir('easel-likes-coalesce-');
    a = await startTestHub({ dbUrl: db.url, redis: prefix, engine: 'node', overrides: overrides(WINDOW) });
    b = await startTestHub({ dbUrl: db.url, redis: prefix, engine: 'node', overrides: overrides(WINDOW) });
    owner = await registerAndLogin(a.url, 'coalesce_owner');
  });

  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
    await mediaDir?.cleanup();
  });

  it('a single like reaches a watcher on the other node within the window', async () => {
    const id = await post(a);
    const watcher = await watch(b, id);
    const [fan] = await tokens(a, 'single', 1);
    const got = nextEvent<LikesChange>(watcher, 'image:likes', 2000);
    expect((await like(a, fan!, id)).status).toBe(200);
    const answered = Date.now();
    expect(await got).toEqual({ imageId: id, like_count: 1, seq: 1 });
    // The first change of a quiet image is not held back at all (it is published before the HTTP
    // answer); the bound is the window.
    expect(Date.now() - answered).toBeLessThan(WINDOW);
  });

  it('50 rapid likes: far fewer pushes, at most one per window, the last one is the final count', async () => {
    const id = await post(a);
    const near = await watch(a, id);
    const far = await watch(b, id);
    const fans = await tokens(a, 'burst', 50);
    const onA = record(near);
    const onB = record(far);
    const started = Date.now();
    const results = await Promise.all(fans.map((t) => like(a, t, id)));
    const elapsed = Date.now() - started;
    expect(results.every((r) => r.status === 200)).toBe(true);
    await sleep(WINDOW * 2 + 200);
    onA.stop();
    onB.stop();

    for (const { seen } of [onA, onB]) {
      expect(seen.length).toBeGreaterThanOrEqual(1);
      expect(seen.length).toBeLessThanOrEqual(Math.ceil(elapsed / WINDOW) + 2);
      expect(seen.length).toBeLessThan(50 / 2);
      expect(seen.at(-1)).toMatchObject({ imageId: id, like_count: 50, seq: 50 });
      const seqs = seen.map((p) => p.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);
      // Pushes of one image from one node leave a window apart; delivery jitter may bunch them a little.
      for (let i = 1; i < seen.length; i++) expect(seen[i]!.at - seen[i - 1]!.at).toBeGreaterThanOrEqual(WINDOW / 2);
    }
  });

  it('likes through both nodes: the push with the highest seq carries the final count', async () => {
    const id = await post(a);
    const watcher = await watch(b, id);
    const fans = await tokens(a, 'both', 40);
    const seen = record(watcher);
    const started = Date.now();
    await Promise.all(fans.map((t, i) => like(i % 2 ? a : b, t, id)));
    const elapsed = Date.now() - started;
    await sleep(WINDOW * 2 + 200);
    seen.stop();
    const newest = seen.seen.reduce((x, y) => (y.seq > x.seq ? y : x));
    expect(newest).toMatchObject({ like_count: 40, seq: 40 });
    // Each node coalesces its own likes, so there can be up to one push per node per window.
    expect(seen.seen.length).toBeLessThanOrEqual(2 * (Math.ceil(elapsed / WINDOW) + 2));
    expect(seen.seen.length).toBeLessThan(40);
  });

  it('a node that stops flushes its pending count at once instead of dropping it', async () => {
    const slow = await startTestHub({ dbUrl: db.url, redis: prefix, engine: 'node', overrides: overrides(60_000) });
    const id = await post(a);
    const watcher = await watch(b, id);
    const fans = await tokens(a, 'flush', 3);
    const seen = record(watcher);
    for (const t of fans) expect((await like(slow, t, id)).status).toBe(200);
    await sleep(300);
    // Only the leading push: the rest waits for a window of a minute.
    expect(seen.seen.map((p) => p.like_count)).toEqual([1]);
    const stopping = Date.now();
    await slow.stop();
    await sleep(300);
    seen.stop();
    expect(seen.seen.map((p) => p.like_count)).toEqual([1, 3]);
    expect(seen.seen[1]!.at - stopping).toBeLessThan(5000);
  });

  it('window 0 pushes every like, as before coalescing', async () => {
    const eager = await startTestHub({ dbUrl: db.url, redis: prefix, engine: 'node', overrides: overrides(0) });
    try {
      const id = await post(a);
      const watcher = await watch(b, id);
      const fans = await tokens(a, 'eager', 10);
      const seen = record(watcher);
      for (const t of fans) await like(eager, t, id);
      await like(eager, fans[0]!, id, 'DELETE');
      await sleep(300);
      seen.stop();
      expect(seen.seen.map((p) => p.like_count)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 9]);
    } finally {
      await eager.stop();
    }
  });
});

describe('community.likesWindowMs config', () => {
  const load = (value: string) => loadConfig({ env: { NODE_ENV: 'test', EASEL__COMMUNITY__LIKES_WINDOW_MS: value } });

  it('defaults to 250 ms and takes 0 (no coalescing) from the environment', () => {
    expect(loadConfig({ env: { NODE_ENV: 'test' } }).community.likesWindowMs).toBe(250);
    expect(load('0').community.likesWindowMs).toBe(0);
    expect(load('1000').community.likesWindowMs).toBe(1000);
  });

  it('refuses negative, fractional, huge and non-numeric windows', () => {
    for (const bad of ['-1', '2.5', '60001', '"fast"', 'null']) expect(() => load(bad), bad).toThrow(ConfigError);
  });
});
