import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Easel, type Cause, type StudioView } from '../../src/client/index.js';
import { makePng } from '../../src/modules/media/test-fixtures.js';
import { createLogger } from '../../src/platform/logger.js';
import { startInProcessWorker } from '../../src/worker/in-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { until } from '../helpers/jobs.js';

/**
 * The SDK's studio stream against a hub with the in-process worker and the local provider: a streamed reply
 * whose deltas add up to the stored message, a reply that keeps streaming while the client is offline and
 * is whole after it resumes with `since`, an ad image with an attached photo, and a guest's session that
 * belongs to the account after the guest registers.
 */
describe('client SDK: studio sessions', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let root: string;
  let worker: Awaited<ReturnType<typeof startInProcessWorker>>;
  const clients: Easel[] = [];
  const client = () => {
    const c = new Easel({ url: hub.url, watchNetwork: false });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    root = await mkdtemp(join(tmpdir(), 'easel-client-studio-'));
    hub = await startTestHub({
      dbUrl: db.url,
      overrides: {
        media: { dir: join(root, 'media') },
        studio: { local: { tokenDelayMs: 30 } },
        rateLimits: { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 }, socketEvents: { limit: 1000, windowSeconds: 1 } },
      },
    });
    worker = await startInProcessWorker(hub, hub.config, createLogger('silent', 'test-worker'));
    await worker.connection.ready();
  }, 60_000);
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await worker?.stop(1000);
    await hub?.stop();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });

  const last = (v: StudioView | null) => v?.messages.at(-1);

  it('streams a reply into view.streaming, then the stored message equals the streamed text', async () => {
    const c = client();
    await c.continueAsGuest();
    const texts: string[] = [];
    const s = c.openStudio(null, (v) => {
      const t = Object.values(v.streaming)[0];
      if (t) texts.push(t);
    });
    await until(() => s.view !== null, 10_000, 'session open');
    const ack = await s.send({ text: 'Cold brew for busy mornings', generationType: 'text', style: 'ultra_realistic', aspectRatio: '1:1' });
    await until(() => last(s.view)?.job_id === ack.jobId && last(s.view)?.role === 'assistant', 30_000, 'message:done');
    expect(texts.length).toBeGreaterThan(2);
    // Each streamed state extends the previous one; the last equals the stored reply.
    for (let i = 1; i < texts.length; i++) expect(texts[i]!.startsWith(texts[i - 1]!)).toBe(true);
    expect(last(s.view)!.content).toBe(texts.at(-1));
    expect(s.view!.streaming).toEqual({});
  });

  it('resumes with since after going offline mid-reply: the text is whole, nothing twice', async () => {
    const c = client();
    await c.continueAsGuest();
    const causes: Cause[] = [];
    const s = c.openStudio(null, (_v, cause) => causes.push(cause));
    await until(() => s.view !== null, 10_000, 'session open');
    const ack = await s.send({ text: 'Running shoes that feel like clouds', generationType: 'text', style: 'anime', aspectRatio: '1:1' });
    await until(() => (s.view?.streaming[ack.jobId] ?? '').length > 0, 20_000, 'first delta');
    c.setOffline(true);
    await new Promise((r) => setTimeout(r, 300));
    c.setOffline(false);
    await until(() => last(s.view)?.job_id === ack.jobId && last(s.view)?.role === 'assistant', 30_000, 'message:done after resume');
    const stored = (await c.api.studio.messages(s.view!.sessionId)).items.find((m) => m.job_id === ack.jobId && m.role === 'assistant')!;
    expect(last(s.view)!.content).toBe(stored.content);
    expect(s.view!.messages.filter((m) => m.role === 'assistant')).toHaveLength(1);
    expect(causes.some((x) => x.kind === 'replay' || x.kind === 'snapshot')).toBe(true);
  });

  it('makes an ad image from an attached photo; a guest keeps the session after registering', async () => {
    const c = client();
    await c.continueAsGuest();
    const s = c.openStudio(null, () => {});
    await until(() => s.view !== null, 10_000, 'session open');
    const sessionId = s.view!.sessionId;
    const marks: number[] = [];
    const ack = await s.generate({ text: 'A lemonade stand', generationType: 'image', style: 'semi_realistic', aspectRatio: '16:9' }, new Blob([await makePng(64, 36)], { type: 'image/png' }), { onProgress: (p) => marks.push(p.fraction) });
    expect(marks.at(-1)).toBe(1);
    await until(() => last(s.view)?.job_id === ack.jobId && last(s.view)?.role === 'assistant', 30_000, 'ad image');
    const image = last(s.view)!.image;
    expect(image?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await fetch(`${hub.url}${image!.url}`)).headers.get('content-type')).toMatch(/^image\//);
    s.close();

    await c.register({ username: 'client_studio_guest', password: 'correct-horse-battery' });
    expect(c.auth.current?.formerGuestToken).toBeTruthy();
    const again = c.openStudio(sessionId, () => {});
    await until(() => again.view !== null, 10_000, 'reopened as the user');
    expect(again.view!.sessionId).toBe(sessionId);
    expect(again.view!.messages.some((m) => m.job_id === ack.jobId)).toBe(true);
    expect(c.auth.current?.formerGuestToken).toBeUndefined();
    const mine = await c.api.studio.sessions();
    expect(mine.items.map((x) => x.id)).toContain(sessionId);
  });
});
