import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makePng, makeTempDir, type TempDir } from '../../src/modules/media/test-fixtures.js';
import { api, connectSocket, emitAck, nextEvent, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { newRedisPrefix, startTestHub, type TestHub } from '../helpers/hub.js';

const LIMITS = { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 }, socketEvents: { limit: 1000, windowSeconds: 1 } };

/** Resolves with every `event` payload seen in `ms`; for asserting that nothing (more) arrives. */
function collect<T>(socket: Socket, event: string, ms: number): Promise<T[]> {
  const seen: T[] = [];
  const on = (payload: T) => seen.push(payload);
  socket.on(event, on);
  return new Promise((resolve) => setTimeout(() => (socket.off(event, on), resolve(seen)), ms));
}

/*
 * Both hubs run the node:http engine on purpose. socket.io's uWS integration (`io.attachApp`) patches the
 * adapter prototype process-wide: a second hub in the same process, uWS or not, then shares the first
 * one's uWS publish path (a node hub's sockets crash on `websocket.subscribe`). Separate processes
 * (production) are unaffected; the uWS path is covered by a single-hub test below.
 */
describe('live likes across two hubs sharing Redis', () => {
  let db: TestDatabase;
  let a: TestHub;
  let b: TestHub;
  let mediaDir: TempDir;
  let owner: { token: string; userId: number };
  let liker: { token: string; userId: number };
  let imageId: number;
  const open: Socket[] = [];
  const track = (s: Socket) => (open.push(s), s);

  async function postImage(token: string): Promise<number> {
    const form = new FormData();
    form.append('prompt', 'live like target');
    form.append('file', new Blob([await makePng(24, 24)], { type: 'image/png' }), 'live.png');
    const res = await fetch(`${a.url}/api/v1/images`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: number }).id;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    mediaDir = await makeTempDir('easel-likes-live-');
    const prefix = newRedisPrefix();
    const overrides = { rateLimits: LIMITS, media: { dir: mediaDir.dir } };
    a = await startTestHub({ dbUrl: db.url, redis: prefix, engine: 'node', overrides });
    b = await startTestHub({ dbUrl: db.url, redis: prefix, engine: 'node', overrides });
    owner = await registerAndLogin(a.url, 'live_owner');
    liker = await registerAndLogin(a.url, 'live_liker');
    imageId = await postImage(owner.token);
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

  it('a watcher on hub B gets image:likes when the image is liked and unliked over HTTP on hub A', async () => {
    const watcher = track(await connectSocket(b.url, '/', owner.token));
    const ack = await emitAck(watcher, 'image:watch', { imageId });
    expect(ack).toEqual({ ok: true, data: { imageId, like_count: 0, seq: 0 } });

    // Exactly one delivery: the push reaches hub B only through Redis.
    const liked = collect(watcher, 'image:likes', 700);
    expect((await api(a.url, 'PUT', `/api/v1/images/${imageId}/like`, { token: liker.token })).status).toBe(200);
    expect(await liked).toEqual([{ imageId, like_count: 1, seq: 1 }]);

    // A repeated like changes nothing, so nothing is pushed.
    const quiet = collect(watcher, 'image:likes', 400);
    await api(a.url, 'PUT', `/api/v1/images/${imageId}/like`, { token: liker.token });
    expect(await quiet).toEqual([]);

    const unliked = nextEvent(watcher, 'image:likes');
    await api(a.url, 'DELETE', `/api/v1/images/${imageId}/like`, { token: liker.token });
    expect(await unliked).toEqual({ imageId, like_count: 0, seq: 2 });
  });

  it('guests can watch; watchers of other images and unwatched sockets get nothing', async () => {
    const guest = await api(b.url, 'POST', '/api/v1/auth/guest');
    const guestSocket = track(await connectSocket(b.url, '/', guest.body.access_token));
    const otherImage = await postImage(owner.token);
    const bystander = track(await connectSocket(a.url, '/', liker.token));
    const leaver = track(await connectSocket(b.url, '/', owner.token));
    expect((await emitAck(guestSocket, 'image:watch', { imageId })).ok).toBe(true);
    expect((await emitAck(bystander, 'image:watch', { imageId: otherImage })).ok).toBe(true);
    expect((await emitAck(leaver, 'image:watch', { imageId })).ok).toBe(true);
    expect(await emitAck(leaver, 'image:unwatch', { imageId })).toEqual({ ok: true, data: { imageId } });

    const bystanderSaw = collect(bystander, 'image:likes', 600);
    const leaverSaw = collect(leaver, 'image:likes', 600);
    const guestGot = nextEvent(guestSocket, 'image:likes');
    await api(a.url, 'PUT', `/api/v1/images/${imageId}/like`, { token: liker.token });
    expect(await guestGot).toEqual({ imageId, like_count: 1, seq: 3 });
    expect(await bystanderSaw).toEqual([]);
    expect(await leaverSaw).toEqual([]);
  });

  it('image:watch answers bad payloads, unknown and deleted images with error acks and keeps the socket', async () => {
    const socket = track(await connectSocket(a.url, '/', liker.token));
    expect(await emitAck(socket, 'image:watch', { imageId: 999999 })).toMatchObject({ ok: false, error: { code: 'image_not_found' } });
    for (const bad of [{}, { imageId: 'abc' }, { imageId: -1 }, { imageId: 1.5 }, { imageId: 1, extra: true }]) {
      expect(await emitAck(socket, 'image:watch', bad)).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    }
    const doomed = await postImage(owner.token);
    expect((await api(a.url, 'DELETE', `/api/v1/images/${doomed}`, { token: owner.token })).status).toBe(204);
    expect(await emitAck(socket, 'image:watch', { imageId: doomed })).toMatchObject({ ok: false, error: { code: 'image_not_found' } });
    expect(await emitAck(socket, 'image:watch', { imageId })).toMatchObject({ ok: true });
    expect(socket.connected).toBe(true);
  });

  it('a refused image:watch leaves no room behind (the room is joined before the read, then left)', async () => {
    const socket = track(await connectSocket(a.url, '/', liker.token));
    // More than MAX_WATCHED_IMAGES (200) refusals: had any kept its room, the last ones would be 429.
    for (let n = 0; n < 210; n++) {
      expect(await emitAck(socket, 'image:watch', { imageId: 900_000 + n })).toMatchObject({ ok: false, error: { code: 'image_not_found' } });
    }
    const saw = collect<{ imageId: number }>(socket, 'image:likes', 400);
    expect(await emitAck(socket, 'image:watch', { imageId })).toMatchObject({ ok: true });
    await api(a.url, 'DELETE', `/api/v1/images/${imageId}/like`, { token: liker.token });
    expect((await saw).map((p) => p.imageId)).toEqual([imageId]);
  });
});

describe('live likes on a uWS hub with the Redis adapter', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let mediaDir: TempDir;
  const open: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    mediaDir = await makeTempDir('easel-likes-uws-');
    hub = await startTestHub({ dbUrl: db.url, redis: true, engine: 'uws', overrides: { rateLimits: LIMITS, media: { dir: mediaDir.dir } } });
  });

  afterAll(async () => {
    for (const s of open.splice(0)) s.close();
    await hub?.stop();
    await db?.drop();
    await mediaDir?.cleanup();
  });

  it('pushes image:likes exactly once to a watcher on the same node', async () => {
    const owner = await registerAndLogin(hub.url, 'uws_owner');
    const fan = await registerAndLogin(hub.url, 'uws_fan');
    const form = new FormData();
    form.append('prompt', 'uws target');
    form.append('file', new Blob([await makePng(20, 20)], { type: 'image/png' }), 'u.png');
    const posted = await fetch(`${hub.url}/api/v1/images`, { method: 'POST', body: form, headers: { authorization: `Bearer ${owner.token}` } });
    const imageId = ((await posted.json()) as { id: number }).id;
    const watcher = await connectSocket(hub.url, '/', owner.token);
    open.push(watcher);
    expect(await emitAck(watcher, 'image:watch', { imageId })).toEqual({ ok: true, data: { imageId, like_count: 0, seq: 0 } });
    const seen = collect(watcher, 'image:likes', 700);
    expect((await api(hub.url, 'PUT', `/api/v1/images/${imageId}/like`, { token: fan.token })).status).toBe(200);
    expect(await seen).toEqual([{ imageId, like_count: 1, seq: 1 }]);
  });
});
