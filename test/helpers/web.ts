import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureWebBuild } from '../../scripts/build-web.js';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: CI must install chromium for the web app browser tests`);

/** Builds the web app if its inputs changed, then starts headless Chromium (flags as the /docs test). */
export async function launchForWeb(): Promise<Browser> {
  await ensureWebBuild({ quiet: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface WebPage {
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors and requests that left the hub. */
  errors: string[];
  offsite: string[];
}

/** A fresh context (own storage) on a phone-sized viewport, watching for errors and off-site requests. */
export async function openApp(browser: Browser, hubUrl: string, path = '/'): Promise<WebPage> {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  const offsite: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    // A dropped socket while offline is expected noise, not an app error.
    if (msg.type() === 'error' && !/ERR_INTERNET_DISCONNECTED|WebSocket connection/.test(msg.text())) errors.push(msg.text());
  });
  page.on('request', (req) => {
    const url = req.url();
    if (!url.startsWith(hubUrl) && !url.startsWith('blob:') && !url.startsWith('data:')) offsite.push(url);
  });
  await page.goto(`${hubUrl}${path}`);
  return { context, page, errors, offsite };
}

/** Registers through the form and waits for the signed-in shell. */
export async function registerInUi(page: Page, username: string, password = 'correct-horse-battery'): Promise<void> {
  await page.getByRole('button', { name: /create an account/i }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 15_000 });
}
