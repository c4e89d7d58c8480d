/**
 * Baseline for load-tests/media-serving.ts: a minimal node:http static server for one file
 * (stat + stream per request, like any naive static handler). PORT and FILE from the environment.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8091);
const file = process.env.FILE!;

const server = createServer((req, res) => {
  stat(file).then(
    (info) => {
      res.writeHead(200, { 'content-type': 'image/webp', 'content-length': info.size, etag: `"${info.size}-${info.mtimeMs}"`, 'cache-control': 'public, max-age=31536000, immutable' });
      if (req.method === 'HEAD') return void res.end();
      createReadStream(file).pipe(res);
    },
    () => res.writeHead(404).end(),
  );
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
