/**
 * Disk baseline for load-tests/media-serving.ts: a minimal node:http static server that stats and
 * streams the file from disk on every request, like any naive static handler. Same response headers
 * as the hub (type, length, ETag, immutable caching, Accept-Ranges, nosniff).
 * PORT and FILES from the environment: FILES is JSON `{ "/path": { "file": "...", "type": "image/webp", "etag": "\"...\"" } }`.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { parseFiles } from './served-files.js';

const port = Number(process.env.PORT ?? 8091);
const files = parseFiles(process.env.FILES);

const server = createServer((req, res) => {
  if (req.url === '/') return void res.end('ok');
  const entry = files.get(req.url ?? '');
  if (!entry) return void res.writeHead(404).end();
  stat(entry.file).then(
    (info) => {
      res.writeHead(200, { ...entry.headers, 'content-length': info.size });
      if (req.method === 'HEAD') return void res.end();
      createReadStream(entry.file).pipe(res);
    },
    () => res.writeHead(404).end(),
  );
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
