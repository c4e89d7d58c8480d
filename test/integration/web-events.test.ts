import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { adminToken, FAST_EVENTS, seedImages } from '../helpers/events.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { haveChromium, launchForWeb, openApp, registerInUi, type WebPage } from '../helpers/web.js';

/**
 * A live event in two browser contexts: both join from the events list, vote, and see the tallies move; one
 * goes offline (setOffline) for a whole matchup and, back online, shows the result it missed without a
 * reload; both end with the same champion and the same bracket.
 */
const WINDOW_MS = 3000;

describe.skipIf(!haveChromium)('live event in two browsers', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let browser: Browser;
  let sql: pg.Client;
  const pages: WebPage[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({
      dbUrl: db.url,
      overrides: {
        events: { ...FAST_EVENTS, windowMs: WINDOW_MS, graceMs: 150 },
        rateLimits: { register: { limit: 1000, windowSeconds: 60 }, token: { limit: 1000, windowSeconds: 60 } },
        auth: { admin: { username: 'web_admin', password: 'admin-password-1' } },
      },
    });
    await hub.app.identity.bootstrapAdmin(hub.orm.em.fork(), 'web_admin', 'admin-password-1');
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    browser = await launchForWeb();
  });
  afterAll(async () => {
    for (const p of pages) await p.context.close();
    await browser?.close();
    await sql?.end();
    await hub?.stop();
    await db?.drop();
  });

  const currentId = async (page: Page) => Number((await page.locator('.current').getAttribute('data-matchup-id', { timeout: 15_000 })) ?? 0);
  const match = (page: Page, id: number) => page.locator(`.bracket [data-matchup-id="${id}"]`);
  /** Left votes of a matchup as the page shows them: the live tally while open, the bracket's count after. */
  const leftVotes = async (page: Page, id: number) => {
    const live = await page.locator(`.current[data-matchup-id="${id}"] .tally[data-side="left"]`).textContent({ timeout: 200 }).catch(() => null);
    const text = live ?? (await match(page, id).locator('span').first().textContent());
    return Number(/(\d+)( vote|$)/.exec(text ?? '')?.[1] ?? -1);
  };

  it('two contexts vote, see tallies and the same champion; one offline for a whole matchup catches up without a reload', async () => {
    const owner = await registerAndLogin(hub.url, 'web_ev_owner');
    const images = await seedImages(sql, owner.userId, 8);
    const admin = await adminToken(hub.url, 'web_admin', 'admin-password-1');
    const made = await fetch(`${hub.url}/api/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Browser cup', entrants: 8, selection: 'list', image_ids: images, window_ms: WINDOW_MS }),
    });
    const eventId = ((await made.json()) as { id: number }).id;

    const [a, b] = [await openApp(browser, hub.url), await openApp(browser, hub.url)];
    pages.push(a, b);
    await registerInUi(a.page, 'web_ev_a');
    await registerInUi(b.page, 'web_ev_b');
    for (const { page } of [a, b]) {
      await page.getByRole('link', { name: 'Events' }).click();
      await page.getByRole('link', { name: 'Browser cup' }).click();
      await page.locator('.event[data-status="upcoming"]').waitFor({ timeout: 10_000 });
      await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    }
    await fetch(`${hub.url}/api/v1/events/${eventId}/start`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });

    // Matchup 1: A votes, both see 1; B votes, both see 2.
    const m1 = await currentId(a.page);
    expect(await currentId(b.page)).toBe(m1);
    await a.page.locator(`.current[data-matchup-id="${m1}"] button.vote[data-side="left"]`).click({ timeout: WINDOW_MS });
    await expect.poll(() => a.page.locator(`.current[data-matchup-id="${m1}"] button.vote[data-side="left"]`).textContent({ timeout: 1000 }).catch(() => 'closed'), { timeout: 5000 }).toMatch(/Your vote|closed/);
    for (const p of [a, b]) await expect.poll(() => leftVotes(p.page, m1), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    await b.page.locator(`.current[data-matchup-id="${m1}"] button.vote[data-side="left"]`).click({ timeout: WINDOW_MS });
    for (const p of [a, b]) await expect.poll(() => leftVotes(p.page, m1), { timeout: 10_000 }).toBe(2);

    // Matchup 2 opens; B drops off the network for the whole of it.
    await expect.poll(() => currentId(a.page), { timeout: 15_000 }).not.toBe(m1);
    const m2 = await currentId(a.page);
    await b.context.setOffline(true);
    await b.page.locator('[data-link="offline"]').waitFor({ timeout: 5000 });
    await match(a.page, m2).and(a.page.locator('[data-status="closed"]')).waitFor({ timeout: 15_000 });
    await expect.poll(() => currentId(a.page), { timeout: 15_000 }).not.toBe(m2);
    // B still shows matchup 2 as it was when the network went.
    expect(await match(b.page, m2).getAttribute('data-status')).not.toBe('closed');
    await b.context.setOffline(false);

    // Back online: the missed result shows without a reload.
    await expect.poll(() => match(b.page, m2).getAttribute('data-status'), { timeout: 15_000 }).toBe('closed');
    expect(await match(b.page, m2).getAttribute('data-winner')).toBe(await match(a.page, m2).getAttribute('data-winner'));
    expect(await b.page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
    await b.page.locator('[data-link="online"]').waitFor({ state: 'attached', timeout: 10_000 });

    // Both end with the same champion and the same bracket.
    const champ = async (p: Page) => p.locator('.champion').getAttribute('data-champion-id', { timeout: 45_000 });
    const [ca, cb] = await Promise.all([champ(a.page), champ(b.page)]);
    expect(ca).not.toBeNull();
    expect(cb).toBe(ca);
    const winners = (p: Page) => p.$$eval('.bracket [data-matchup-id]', (els) => els.map((e) => `${e.getAttribute('data-matchup-id')}:${e.getAttribute('data-winner')}`));
    expect(await winners(b.page)).toEqual(await winners(a.page));
    // The seeded images are rows without files (seedImages), so their thumbnails 404; nothing else may fail.
    const real = (errors: string[]) => errors.filter((e) => !/status of 404/.test(e));
    expect(real(a.errors)).toEqual([]);
    expect(real(b.errors)).toEqual([]);
    expect([...a.offsite, ...b.offsite]).toEqual([]);
  }, 90_000);
});
