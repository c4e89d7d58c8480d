/**
 * Full-pipeline baseline for load-tests/upload-throughput.ts: node:http + busboy + sharp doing the
 * hub's work for an upload, and answering only once the variants exist: stream to a temp file while
 * hashing (SHA-256) → header probe → full decode (truncation check) → content-addressed store
 * (rename) → thumb (320, WebP q80) and WebP (≤4096, q82) variants, EXIF-oriented, written next to it.
 * Not done: authentication, the database row, metadata stripping (the benchmark's PNGs carry none),
 * a decode memory budget (sharp's own thread pool only). PORT and DATA_DIR from the environment.
 */
import busboy from 'busboy';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import sharp from 'sharp';

const port = Number(process.env.PORT ?? 8093);
const dir = process.env.DATA_DIR ?? '/tmp/easel-pipeline-baseline';
const MAX_PIXELS = 40_000_000;
await mkdir(join(dir, 'tmp'), { recursive: true });
await mkdir(join(dir, 'originals'), { recursive: true });
await mkdir(join(dir, 'variants'), { recursive: true });
sharp.cache(false); // as the hub: one-shot uploads gain nothing from libvips' operation cache

async function ingest(file: NodeJS.ReadableStream): Promise<{ sha256: string; size: number; width: number; height: number }> {
  const tmp = join(dir, 'tmp', `${randomUUID()}.part`);
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  await pipeline(file, meter, createWriteStream(tmp));
  try {
    const meta = await sharp(tmp, { limitInputPixels: false }).metadata();
    if (!meta.width || !meta.height || meta.width * meta.height > MAX_PIXELS) throw new Error('bad image');
    await sharp(tmp, { limitInputPixels: MAX_PIXELS, failOn: 'error' }).stats();
    const sha256 = hash.digest('hex');
    const original = join(dir, 'originals', sha256);
    await rename(tmp, original);
    const oriented = () => sharp(original, { limitInputPixels: MAX_PIXELS, failOn: 'error' }).rotate();
    const thumb = await oriented().resize(320, 320, { fit: 'inside', withoutEnlargement: true }).webp({ quality: 80 }).toBuffer();
    const webp = await oriented().resize(4096, 4096, { fit: 'inside', withoutEnlargement: true }).webp({ quality: 82 }).toBuffer();
    await Promise.all([writeFile(join(dir, 'variants', `${sha256}.thumb.webp`), thumb), writeFile(join(dir, 'variants', `${sha256}.webp`), webp)]);
    return { sha256, size, width: meta.width, height: meta.height };
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

const server = createServer((req, res) => {
  if (req.method === 'GET') return void res.end('ok');
  const bb = busboy({ headers: req.headers, limits: { fileSize: 10 * 1024 * 1024 + 1, files: 1 } });
  const results: Promise<unknown>[] = [];
  bb.on('file', (_name, file) => results.push(ingest(file)));
  bb.on('close', () => {
    Promise.all(results).then(
      (r) => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(r[0] ?? null)),
      (err: Error) => res.writeHead(422).end(err.message),
    );
  });
  req.pipe(bb);
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
