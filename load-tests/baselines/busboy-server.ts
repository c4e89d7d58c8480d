/**
 * Transport baseline for load-tests/upload-throughput.ts (compared with the hub re-uploading stored
 * content, which also only streams and hashes): the least a node:http + busboy server can do with an
 * upload (stream to a temp file while hashing, answer with the hash). No validation, no storage.
 * The full-pipeline peer is pipeline-server.ts.
 * PORT and TMP_DIR from the environment.
 */
import busboy from 'busboy';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const port = Number(process.env.PORT ?? 8090);
const dir = process.env.TMP_DIR ?? '/tmp/easel-busboy-baseline';
await mkdir(dir, { recursive: true });

const server = createServer((req, res) => {
  if (req.method === 'GET') return void res.end('ok');
  const bb = busboy({ headers: req.headers, limits: { fileSize: 10 * 1024 * 1024 + 1, files: 1 } });
  const results: Promise<{ sha256: string; size: number }>[] = [];
  bb.on('file', (_name, file) => {
    const path = join(dir, `${randomUUID()}.part`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    results.push(
      pipeline(file, meter, createWriteStream(path)).then(async () => {
        await unlink(path);
        return { sha256: hash.digest('hex'), size };
      }),
    );
  });
  bb.on('close', () => {
    Promise.all(results).then(
      (r) => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(r[0] ?? null)),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  req.pipe(bb);
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
