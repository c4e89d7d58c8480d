import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from '../../src/modules/media/test-fixtures.js';

export type Part = { name: string; value: string } | { name: string; filename: string; type?: string; data: Buffer };

/** A hand-built multipart/form-data body, so tests control every filename, declared type and byte. */
export function multipart(parts: Part[]): { body: Buffer; contentType: string } {
  const boundary = `----easel${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    if ('value' in part) {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}\r\n`));
    } else {
      const head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: ${part.type ?? 'application/octet-stream'}\r\n\r\n`;
      chunks.push(Buffer.from(head), part.data, Buffer.from('\r\n'));
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** POSTs a multipart body; JSON bodies are parsed. */
export async function upload(base: string, path: string, token: string | undefined, parts: Part[]): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const { body, contentType } = multipart(parts);
  const headers: Record<string, string> = { 'content-type': contentType };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, { method: 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, body: text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text };
}

/** Pads a PNG to exactly `total` bytes with a tEXt chunk before IEND (still a valid PNG). */
export function padPng(png: Buffer, total: number): Buffer {
  const iend = png.length - 12;
  const overhead = 12 + 'Comment'.length + 1;
  const fill = total - png.length - overhead;
  if (fill < 0) throw new Error(`PNG is already ${png.length} bytes`);
  const data = Buffer.concat([Buffer.from('Comment\0', 'latin1'), Buffer.alloc(fill, 0x61)]);
  const body = Buffer.concat([Buffer.from('tEXt', 'ascii'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([png.subarray(0, iend), len, body, crc, png.subarray(iend)]);
}

/** Every file under `dir`, relative paths; a missing dir is empty. */
export async function listFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(dir.length + 1));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Polls until `check` passes (cleanup after an abort is asynchronous). */
export async function eventually(check: () => Promise<void> | void, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
