import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AnyRoute } from '../../transport/http/types.js';
import { WEB_CSP, webAppRoutes } from './webapp.routes.js';

const dir = mkdtempSync(join(tmpdir(), 'easel-webapp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const call = (r: AnyRoute, params: Record<string, string> = {}) => r.handler({ params } as any);

describe('webAppRoutes', () => {
  it('answers a how-to page (no-store) before the app is built, then serves it once built', async () => {
    const [index, asset] = webAppRoutes(`${dir}/`);
    const before = await call(index!);
    expect(before.status).toBe(200);
    expect(before.headers).toMatchObject({ 'cache-control': 'no-store' });
    expect(String(before.body)).toContain('npm run build:web');
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/a-1.js"></script>');
    writeFileSync(join(dir, 'assets', 'a-1.js'), 'console.log(1)');
    writeFileSync(join(dir, '.inputs-sha256'), 'x');
    const after = await call(index!);
    expect(after.status).toBe(200);
    expect(after.headers).toMatchObject({ 'content-security-policy': WEB_CSP, 'cache-control': 'no-cache' });
    const js = await call(asset!, { file: 'a-1.js' });
    expect(js.status).toBe(200);
    expect(js.headers).toMatchObject({ 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=31536000, immutable' });
  });

  it('refuses names outside assets/, dot files and unknown types', async () => {
    const [, asset] = webAppRoutes(`${dir}/`);
    for (const file of ['../index.html', '..', '.inputs-sha256', 'a-1.exe', 'a b.js', 'missing.js', 'x'.repeat(300) + '.js']) {
      expect((await call(asset!, { file })).status, file).toBe(404);
    }
  });
});
