import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { Easel } from '../../src/client/index.js';
import { makePng } from '../../src/modules/media/test-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { FakeWorker } from '../helpers/jobs.js';
import { haveChromium, launchForWeb, openApp, registerInUi } from '../helpers/web.js';

/**
 * The web app served at `/` in headless Chromium on a phone-sized viewport: headers and assets, sign-up, the
 * feed (drag-and-drop upload with progress, live like counts), the arena (keyboard votes, live leaderboard), and an upscale whose bar reaches 100% and
 * whose result downloads. Jobs run on a fake worker the test drives, so progress steps are deterministic.
 */
describe.skipIf(!haveChromium)('web app in headless Chromium', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let browser: Browser;
  let worker: FakeWorker;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, overrides: { rateLimits: { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 } } } });
    browser = await launchForWeb();
    worker = await FakeWorker.start(hub.url, (await hub.app.tokens.issueWorker('web-worker')).token, { types: ['upscale', 'bestcut'] });
  });
  afterAll(async () => {
    worker?.close();
    await browser?.close();
    await hub?.stop();
    await db?.drop();
  });

  it('serves the app with a strict CSP and immutable hashed assets; /admin and /docs stay', async () => {
    const res = await fetch(`${hub.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await res.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const css = /href="(\/assets\/[^"]+\.css)"/.exec(html)![1]!;
    const js = await fetch(hub.url + script);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(hub.url + css)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    for (const bad of ['/assets/nope.js', '/assets/..%2Fpackage.json', '/assets/.inputs-sha256', '/assets/x.exe']) expect((await fetch(hub.url + bad)).status, bad).toBe(404);
    expect(await (await fetch(`${hub.url}/admin`)).text()).toMatch(/admin/i);
    expect((await fetch(`${hub.url}/docs`)).status).toBe(200);
  });

  it('signs up, uploads to the feed by drag and drop with progress, and shows likes live', async () => {
    const { page, errors, offsite, context } = await openApp(browser, hub.url);
    await registerInUi(page, 'web_feed_user');
    const png = await makePng(64, 48);
    // Drop a file on the zone, as a person dragging from the desktop would.
    const dt = await page.evaluateHandle((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      // Runs in the page, where DataTransfer exists (the test's own types are Node's).
      const d = new (globalThis as unknown as { DataTransfer: new () => { items: { add(f: File): void } } }).DataTransfer();
      d.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
      return d;
    }, png.toString('base64'));
    await page.locator('.upload .drop').dispatchEvent('drop', { dataTransfer: dt });
    await page.getByText('dropped.png').waitFor();
    await page.getByLabel('Prompt').fill('a dropped sunset');
    await page.getByRole('button', { name: 'Upload' }).click();
    const card = page.locator('.image-card', { hasText: 'a dropped sunset' });
    await card.waitFor({ timeout: 15_000 });
    const imageId = Number(await card.getAttribute('data-image-id'));
    await expect.poll(() => card.locator('.like-count').textContent()).toBe('0');
    // Someone else likes it from another client: the count moves without a reload.
    const other = new Easel({ url: hub.url, watchNetwork: false });
    await other.register({ username: 'web_feed_liker', password: 'correct-horse-battery' });
    await other.api.images.like(imageId);
    await expect.poll(() => card.locator('.like-count').textContent(), { timeout: 10_000 }).toBe('1');
    other.close();
    // The top-24h view lists it with its like.
    await page.getByRole('tab', { name: 'Top 24h' }).click();
    await page.locator('.image-card', { hasText: 'a dropped sunset' }).waitFor();
    expect(errors).toEqual([]);
    expect(offsite).toEqual([]);
    await context.close();
  });

  it('arena: votes with the keyboard and the leaderboard moves live', async () => {
    // A matchup pairs images of two different owners.
    for (let i = 0; i < 2; i++) {
      const owner = new Easel({ url: hub.url, watchNetwork: false });
      await owner.register({ username: `web_arena_owner${i}`, password: 'correct-horse-battery' });
      await owner.api.images.upload({ file: new Blob([await makePng(30 + i, 30)], { type: 'image/png' }), prompt: `arena entry ${i}`, tournament_opt_in: true });
      owner.close();
    }
    const { page, errors, context } = await openApp(browser, hub.url);
    await registerInUi(page, 'web_arena_voter');
    await page.getByRole('link', { name: 'Arena' }).click();
    const pick = page.locator('.pick').first();
    await pick.waitFor({ timeout: 10_000 }).catch(async (e) => {
      throw new Error(`${e.message}\n${await page.locator('main').textContent()}`);
    });
    await page.keyboard.press('ArrowLeft');
    const voted = page.getByText(/^Voted #\d+ over #\d+/);
    await voted.waitFor({ timeout: 10_000 });
    const winner = Number(/#(\d+)/.exec((await voted.textContent()) ?? '')![1]);
    // The winner's row shows the win without a reload (leaderboard:update), marked preliminary.
    const row = page.locator(`.board tr[data-image-id="${winner}"]`);
    await expect.poll(() => row.locator('td').nth(4).textContent().catch(() => null), { timeout: 10_000 }).toBe('1–0');
    expect(await row.locator('.badge').textContent()).toBe('preliminary');
    // S skips to another pair.
    await page.keyboard.press('s');
    await page.locator('.pick').first().waitFor();
    expect(errors).toEqual([]);
    await context.close();
  });

  it('upscales a photo: the bar follows the job to 100% and the result downloads; a best cut shows its pick', async () => {
    const { page, errors, context } = await openApp(browser, hub.url, '/#/photos');
    await registerInUi(page, 'web_photo_user');
    await page.goto(`${hub.url}/#/photos`);
    const original = await makePng(40, 30);
    await page.locator('#photo-files').setInputFiles({ name: 'cat.png', mimeType: 'image/png', buffer: original });
    await page.getByRole('button', { name: 'Upscale' }).click();
    const assign = await worker.nextAssign(15_000);
    const card = page.locator(`[data-photo-id="${assign.jobId}"]`);
    await card.waitFor({ timeout: 15_000 });
    const bar = card.getByRole('progressbar');
    // Like a real worker, progress is reported again until it shows: a report made before the page's job:watch
    // joined, and not yet written to the row (bounded-rate writes), reaches it only with the next report.
    for (const p of [0.25, 0.6]) {
      await expect
        .poll(async () => {
          expect((await worker.progress(assign.jobId, p, 'upscaling')).ok).toBe(true);
          return bar.getAttribute('aria-valuenow');
        }, { timeout: 10_000, interval: 300 })
        .toBe(String(Math.round(p * 100)));
    }
    const result = await makePng(80, 60);
    const done = await worker.ack('job:complete', {
      jobId: assign.jobId,
      result: { sha256: 'out', width: 80, height: 60, model: 'fake', provider: 'cpu', ms: 1 },
      outputs: [{ name: 'out', contentType: 'image/png', data: result }],
    });
    expect(done.ok).toBe(true);
    await expect.poll(() => bar.getAttribute('aria-valuenow'), { timeout: 10_000 }).toBe('100');
    await expect.poll(() => card.getAttribute('data-status'), { timeout: 10_000 }).toBe('completed');
    // Before/after comparison, then the download.
    await card.getByRole('img', { name: 'after' }).waitFor({ timeout: 10_000 });
    await card.getByRole('img', { name: 'before' }).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), card.getByRole('link', { name: 'Download' }).click()]);
    const path = await download.path();
    const { readFile } = await import('node:fs/promises');
    expect(Buffer.compare(await readFile(path!), result)).toBe(0);

    // Best cut of a burst: the pick becomes the processed file.
    await page.getByRole('radio', { name: 'Best cut' }).check();
    const burst = [await makePng(20, 20), await makePng(22, 20), await makePng(24, 20)];
    await page.locator('#photo-files').setInputFiles(burst.map((buffer, i) => ({ name: `burst-${i}.png`, mimeType: 'image/png', buffer })));
    await page.getByRole('button', { name: 'Pick the best' }).click();
    const cut = await worker.nextAssign(15_000, 1);
    expect(cut.type).toBe('bestcut');
    expect((await worker.completeBestcut(cut)).ok).toBe(true);
    const cutCard = page.locator(`[data-photo-id="${cut.jobId}"]`);
    await expect.poll(() => cutCard.getAttribute('data-status'), { timeout: 15_000 }).toBe('completed');
    await cutCard.getByRole('img', { name: 'after' }).waitFor({ timeout: 10_000 });
    // The photo row follows its job a moment after the job's last push; the page retries a 409 (not ready) then.
    expect(errors.filter((e) => !/status of 409/.test(e))).toEqual([]);
    await context.close();
  });
});
