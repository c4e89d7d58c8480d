import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Easel } from '../../src/client/index.js';
import { createLogger } from '../../src/platform/logger.js';
import { startInProcessWorker } from '../../src/worker/in-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { adminToken } from '../helpers/events.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { haveChromium, launchForWeb, openApp, registerInUi } from '../helpers/web.js';

/**
 * Not a check: `EASEL_SCREENSHOTS=1 npx vitest run test/integration/web-screenshots.test.ts` refreshes the
 * README's screenshots (docs/screenshots/) from a hub with sample data. Skipped otherwise.
 */
const OUT = join(process.cwd(), 'docs', 'screenshots');

function artwork(i: number): Promise<Buffer> {
  const h = (i * 47) % 360;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="320"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${h},80%,60%)"/><stop offset="1" stop-color="hsl(${(h + 120) % 360},70%,35%)"/></linearGradient></defs><rect width="320" height="320" fill="url(#g)"/><circle cx="${80 + ((i * 53) % 160)}" cy="${90 + ((i * 31) % 140)}" r="${40 + (i % 5) * 12}" fill="hsl(${(h + 200) % 360},90%,70%)" opacity="0.8"/><rect x="${40 + ((i * 29) % 180)}" y="${160 + ((i * 17) % 90)}" width="90" height="60" rx="12" fill="hsl(${(h + 60) % 360},60%,85%)" opacity="0.7"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

describe.skipIf(!haveChromium || !process.env.EASEL_SCREENSHOTS)('README screenshots', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let root: string;
  let browser: Browser;
  let worker: Awaited<ReturnType<typeof startInProcessWorker>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    root = await mkdtemp(join(tmpdir(), 'easel-shots-'));
    hub = await startTestHub({
      dbUrl: db.url,
      overrides: {
        media: { dir: join(root, 'media') },
        studio: { local: { tokenDelayMs: 5 } },
        rateLimits: { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 } },
        auth: { admin: { username: 'shot_admin', password: 'admin-password-1' } },
      },
    });
    await hub.app.identity.bootstrapAdmin(hub.orm.em.fork(), 'shot_admin', 'admin-password-1');
    worker = await startInProcessWorker(hub, hub.config, createLogger('silent', 'test-worker'));
    await worker.connection.ready();
    browser = await launchForWeb();
    await mkdir(OUT, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await worker?.stop(1000);
    await hub?.stop();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });

  const shot = (page: Page, name: string) => page.screenshot({ path: join(OUT, `${name}.png`) });

  it('takes the screenshots', async () => {
    const prompts = ['neon koi pond', 'paper city at dawn', 'glass desert', 'moss cathedral', 'orbiting teacups', 'velvet storm', 'copper forest', 'tidal library'];
    const ids: number[] = [];
    for (let o = 0; o < 2; o++) {
      const owner = new Easel({ url: hub.url, watchNetwork: false });
      await owner.register({ username: `artist_${o}`, password: 'correct-horse-battery' });
      for (let i = o; i < 8; i += 2) ids.push((await owner.api.images.upload({ file: new Blob([await artwork(i)], { type: 'image/png' }), prompt: prompts[i]!, model_name: 'sdxl', tournament_opt_in: true })).id);
      owner.close();
    }
    const { page, context } = await openApp(browser, hub.url);
    await page.getByRole('heading', { name: 'Sign in to Easel' }).waitFor();
    await shot(page, 'signin');
    await registerInUi(page, 'ada');
    await page.locator('.image-card img').first().waitFor();
    await page.waitForTimeout(500);
    await shot(page, 'feed');

    await page.getByRole('link', { name: 'Arena' }).click();
    for (let i = 0; i < 6; i++) {
      await page.locator('.pick').first().waitFor();
      await page.keyboard.press(i % 2 ? 'ArrowRight' : 'ArrowLeft');
      await page.waitForTimeout(250);
    }
    await page.locator('.board').waitFor();
    await page.waitForTimeout(500);
    await shot(page, 'arena');

    const admin = await adminToken(hub.url, 'shot_admin', 'admin-password-1');
    const made = await fetch(`${hub.url}/api/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Friday night cup', entrants: 8, selection: 'list', image_ids: ids, window_ms: 20_000 }) });
    const eventId = ((await made.json()) as { id: number }).id;
    await fetch(`${hub.url}/api/v1/events/${eventId}/start`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    await page.goto(`${hub.url}/#/events/${eventId}`);
    await page.locator('.current button.vote[data-side="left"]').click();
    await page.waitForTimeout(800);
    await shot(page, 'event');

    await page.goto(`${hub.url}/#/studio`);
    await page.locator('.chat').waitFor();
    await page.getByRole('textbox', { name: 'Message' }).fill('Cold brew coffee for busy mornings');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.msg.assistant.done').first().waitFor({ timeout: 30_000 });
    await page.getByLabel('Output').selectOption('image');
    await page.getByRole('textbox', { name: 'Message' }).fill('Lemonade stand summer sale');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('img.ad-image').waitFor({ timeout: 30_000 });
    await page.waitForTimeout(800);
    await page.locator('.chat .messages').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await page.locator('.chat .messages').screenshot({ path: join(OUT, 'studio.png') });

    await page.goto(`${hub.url}/#/photos`);
    await page.locator('#photo-files').setInputFiles({ name: 'street.png', mimeType: 'image/png', buffer: await artwork(3) });
    await page.getByRole('button', { name: 'Upscale' }).click();
    await page.locator('.photo[data-status="completed"] img[alt="after"]').waitFor({ timeout: 60_000 });
    await page.waitForTimeout(500);
    await shot(page, 'photos');
    await context.close();
  }, 180_000);
});
