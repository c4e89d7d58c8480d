import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, route } from '../../src/transport/http/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) {
  throw new Error(`${CHROMIUM} is missing: CI must install chromium (apt-get install -y chromium) for the /docs browser test`);
}
if (!haveChromium) console.warn(`[docs-page.test] skipped: ${CHROMIUM} not found (apt-get install -y chromium to run it)`);

const HOSTILE = '<img src=x onerror="window.__pwned=1">';

describe.skipIf(!haveChromium)('/docs page in headless Chromium', () => {
  let db: TestDatabase;
  let hub: TestHub;
  let browser: Browser;
  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url });
    // A summary with markup in it must show up as text, not run.
    hub.app.router.add(route({ method: 'GET', path: '/api/v1/_xss', summary: HOSTILE, tags: ['zz-escape'], auth: 'none', handler: async () => json({}) }));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
    await db?.drop();
  });

  it('renders HTTP routes by tag and socket namespaces with events, escaping all text', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    const errors: string[] = [];
    const offsite: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    page.on('request', (req) => {
      if (!req.url().startsWith(hub.url)) offsite.push(req.url());
    });
    const res = await page.goto(`${hub.url}/docs`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'sha256-/);
    await page.waitForSelector('body[data-ready]');
    expect(await page.getAttribute('body', 'data-ready')).toBe('true');
    expect(errors).toEqual([]);
    expect(offsite).toEqual([]); // no CDN: everything comes from the hub

    expect(await page.textContent('#status')).toMatch(/OpenAPI 3\.1\.0 · AsyncAPI 3\.0\.0/);
    const tags = await page.$$eval('#http-groups .group > h3', (els) => els.map((e) => e.textContent));
    expect(tags).toEqual(expect.arrayContaining(['auth', 'ops', 'zz-escape']));
    const authGroup = page.locator('#http-groups .group[data-group="auth"]');
    const register = authGroup.locator('details', { hasText: '/api/v1/auth/register' });
    await expect.poll(() => register.count()).toBe(1);
    expect(await register.locator('.method').textContent()).toBe('POST');
    expect(await register.locator('.desc').textContent()).toBe('Create an account');
    expect(await register.locator('.auth').textContent()).toBe('public');
    const me = authGroup.locator('details', { hasText: 'GET/api/v1/auth/me' });
    expect(await me.locator('.auth').textContent()).toBe('user');
    // Every route in the router is on the page.
    const shown = await page.$$eval('#http-groups details', (els) => els.length);
    expect(shown).toBe(hub.app.router.routes.length);

    // Opening a route shows its request body schema.
    await register.locator('summary').click();
    expect(await register.locator('.body').textContent()).toMatch(/"username"[\s\S]*"minLength": 3/);

    // The hostile summary is inert text.
    const hostile = page.locator('#http-groups .group[data-group="zz-escape"] .desc');
    expect(await hostile.textContent()).toBe(HOSTILE);
    expect(await page.locator('#http-groups img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();

    // Socket namespaces with the built-in events.
    const root = page.locator('#socket-groups .group[data-group="/"]');
    expect(await root.locator('h3').textContent()).toMatch(/^\/\s+\(actor token\)/);
    const socketEntries = await root.locator('summary').allTextContents();
    expect(socketEntries).toEqual(expect.arrayContaining([expect.stringMatching(/^EMITauth:refresh/), expect.stringMatching(/^PUSHauth:expired/)]));
    for (const ns of hub.app.namespaces) expect(await page.locator(`#socket-groups .group[data-group="${ns.name}"]`).count(), ns.name).toBe(1);

    // The filter narrows both lists.
    await page.fill('#filter', 'refresh');
    const visible = await page.$$eval('details:not([hidden]) .path', (els) => els.map((e) => e.textContent));
    expect(visible).toEqual(expect.arrayContaining(['/api/v1/auth/refresh', 'auth:refresh']));
    expect(visible).not.toContain('/health');
    await page.fill('#filter', '');

    await register.locator('summary').click(); // closed again, so the screenshot shows both lists
    await page.screenshot({ path: '/tmp/easel-docs.png', fullPage: true });
    await page.close();
  });
});
