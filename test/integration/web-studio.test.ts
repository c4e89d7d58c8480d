import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.js';
import { startInProcessWorker } from '../../src/worker/in-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { haveChromium, launchForWeb, openApp } from '../helpers/web.js';

/**
 * The studio screen in headless Chromium with the in-process worker and the local provider: a guest's chat
 * streams a reply token by token and shows an ad image; after the guest signs up the same session, with its
 * messages, is still there.
 */
describe.skipIf(!haveChromium)('studio in the browser', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let root: string;
  let browser: Browser;
  let worker: Awaited<ReturnType<typeof startInProcessWorker>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    root = await mkdtemp(join(tmpdir(), 'easel-web-studio-'));
    hub = await startTestHub({
      dbUrl: db.url,
      overrides: {
        media: { dir: join(root, 'media') },
        studio: { local: { tokenDelayMs: 60 } },
        rateLimits: { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 } },
      },
    });
    worker = await startInProcessWorker(hub, hub.config, createLogger('silent', 'test-worker'));
    await worker.connection.ready();
    browser = await launchForWeb();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await worker?.stop(1000);
    await hub?.stop();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('a guest chat streams a reply and shows an ad image; the session is still there after signing up', async () => {
    const { page, errors, offsite, context } = await openApp(browser, hub.url);
    await page.getByRole('button', { name: 'Continue as guest' }).click();
    await page.getByRole('link', { name: 'Studio' }).click();
    const chat = page.locator('.chat[data-session-id]');
    await chat.waitFor({ timeout: 15_000 });
    const sessionId = await chat.getAttribute('data-session-id');

    // Ad copy, streamed: the reply grows in place before it is stored.
    await page.getByRole('textbox', { name: 'Message' }).fill('Cold brew coffee for busy mornings');
    await page.getByRole('button', { name: 'Send' }).click();
    const streaming = page.locator('.msg.streaming p:not(.muted)');
    await streaming.waitFor({ timeout: 20_000 });
    const first = (await streaming.textContent()) ?? '';
    await expect.poll(async () => ((await streaming.textContent().catch(() => null)) ?? '').length, { timeout: 10_000 }).toBeGreaterThan(first.length);
    const reply = page.locator('.msg.assistant.done').first();
    await reply.waitFor({ timeout: 30_000 });
    const copy = (await reply.textContent()) ?? '';
    expect(copy.length).toBeGreaterThan(first.length);

    // An ad image at 9:16.
    await page.getByLabel('Output').selectOption('image');
    await page.getByLabel('Aspect ratio').selectOption('9:16');
    await page.getByRole('textbox', { name: 'Message' }).fill('Lemonade stand summer sale');
    await page.getByRole('button', { name: 'Send' }).click();
    const ad = page.locator('.msg.assistant img.ad-image');
    await ad.waitFor({ timeout: 30_000 });
    await expect.poll(() => ad.evaluate((img) => (img as unknown as { naturalWidth: number; naturalHeight: number }).naturalHeight > (img as unknown as { naturalWidth: number }).naturalWidth), { timeout: 10_000 }).toBe(true);
    // The history lists both generations with their cost.
    await expect.poll(() => page.locator('.history tbody tr').count(), { timeout: 10_000 }).toBe(2);

    // Sign up: the guest's session (and its messages) belongs to the account now.
    await page.getByRole('link', { name: 'Sign up' }).click();
    await page.getByLabel('Username').fill('web_studio_guest');
    await page.getByLabel('Password').fill('correct-horse-battery');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 15_000 });
    await page.getByRole('link', { name: 'Studio' }).click();
    await page.locator(`.chat[data-session-id="${sessionId}"]`).waitFor({ timeout: 15_000 });
    await expect.poll(() => page.locator('.msg.assistant').count(), { timeout: 10_000 }).toBe(2);
    expect(await page.locator('.msg.assistant.done').first().textContent()).toBe(copy);
    const token = await page.evaluate(() => (globalThis as unknown as { easel: { auth: { token: string } } }).easel.auth.token);
    const sessions = (await (await fetch(`${hub.url}/api/v1/chat/sessions`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: { id: string }[] };
    expect(sessions.items.map((s) => s.id)).toContain(sessionId);
    expect(errors).toEqual([]);
    expect(offsite).toEqual([]);
    await context.close();
  }, 60_000);
});
