import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/**
 * A self-contained page: `<name>.page.html` beside `moduleUrl`, with `<name>.page.css` and `<name>.page.js`
 * inlined at `{{STYLE}}` / `{{SCRIPT}}` and pinned by hash in the CSP, so it needs no CDN and runs no other
 * script even if some text reached the markup. `scriptSelf` also allows scripts served by the hub itself
 * (the admin page's socket.io client).
 */
export function inlinePage(moduleUrl: string, name: string, opts: { scriptSelf?: boolean } = {}): { html: string; csp: string } {
  const read = (file: string) => readFileSync(new URL(`./${name}.page.${file}`, moduleUrl), 'utf8');
  const style = read('css');
  const script = read('js');
  const html = read('html')
    .replace('{{STYLE}}', () => style)
    .replace('{{SCRIPT}}', () => script);
  const csp = [
    "default-src 'none'",
    `script-src ${opts.scriptSelf ? "'self' " : ''}${sha256(script)}`,
    `style-src ${sha256(style)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}
