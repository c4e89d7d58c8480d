/**
 * Peer for load-tests/socket-memory.ts: bare socket.io 4 with the least an authenticated app does, so the
 * hub's numbers can be read against it. ENGINE=uws: a uWebSockets.js app with `io.attachApp(app)` (the hub's
 * default engine); ENGINE=node: node:http with socket.io's default engine (ws).
 *
 * Exactly what it does per socket: one `io.use` middleware reads `handshake.auth.token`, verifies it with
 * jose `jwtVerify` (HS256 pinned, issuer and audience checked, the same secret and claims the hub checks),
 * stores the `sub` claim in `socket.data.sub`, and calls next(); a bad token gets a connect_error. No
 * database lookup, no rooms beyond socket.io's own, no event handlers, no timers, no logging, no limits.
 * `GET /health` answers 200 for readiness. Env: ENGINE, PORT, JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE.
 */
import { createServer } from 'node:http';
import { jwtVerify } from 'jose';
import { Server } from 'socket.io';

const engine = process.env.ENGINE ?? 'uws';
const port = Number(process.env.PORT ?? 8092);
const key = new TextEncoder().encode(process.env.JWT_SECRET ?? '');
const verifyOptions = { algorithms: ['HS256'], issuer: process.env.JWT_ISSUER ?? 'easel', audience: process.env.JWT_AUDIENCE ?? 'easel' };

const io = new Server({ serveClient: false, maxHttpBufferSize: 1_000_000 });
io.use((socket, next) => {
  const token = (socket.handshake.auth as { token?: unknown }).token;
  if (typeof token !== 'string') return next(Object.assign(new Error('token required'), { data: { code: 'token_missing' } }));
  jwtVerify(token, key, verifyOptions).then(
    ({ payload }) => {
      socket.data.sub = payload.sub;
      next();
    },
    () => next(Object.assign(new Error('invalid token'), { data: { code: 'token_invalid' } })),
  );
});

if (engine === 'uws') {
  const uws = (await import('uWebSockets.js')).default;
  const app = uws.App();
  app.get('/health', (res) => void res.end('ok'));
  io.attachApp(app);
  app.listen('127.0.0.1', port, (listening) => {
    if (!listening) {
      console.error(`peer: cannot listen on ${port}`);
      process.exit(1);
    }
  });
} else {
  const server = createServer((req, res) => {
    // socket.io takes /socket.io/ requests before this handler sees them.
    if (req.url === '/health') res.end('ok');
    else res.writeHead(404).end();
  });
  io.attach(server);
  server.listen(port, '127.0.0.1');
}
process.on('SIGTERM', () => process.exit(0));
