/**
 * Memory baseline for load-tests/media-serving.ts: the same files as static-server.ts, read once at
 * start and answered from a Buffer, with the same headers. What the hub's in-memory cache path
 * should be compared with. PORT and FILES from the environment (see served-files.ts).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseFiles } from './served-files.js';

const port = Number(process.env.PORT ?? 8092);
const files = new Map([...parseFiles(process.env.FILES)].map(([path, entry]) => {
  const bytes = readFileSync(entry.file);
  return [path, { bytes, headers: { ...entry.headers, 'content-length': String(bytes.length) } }] as const;
}));

const server = createServer((req, res) => {
  if (req.url === '/') return void res.end('ok');
  const entry = files.get(req.url ?? '');
  if (!entry) return void res.writeHead(404).end();
  res.writeHead(200, entry.headers);
  res.end(req.method === 'HEAD' ? undefined : entry.bytes);
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
