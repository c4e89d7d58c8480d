/**
 * Peer for load-tests/fanout.ts: bare socket.io 4 (ENGINE=uws: uWebSockets.js with `io.attachApp`, the ceiling
 * of this stack; ENGINE=node: node:http, the default a user would pick), with the same JWT check per socket as
 * load-tests/baselines/socketio-server.ts and nothing else, broadcasting with `io.to('bench').emit` as the
 * parent commands (fanout-driver.ts). Env: ENGINE, PORT, JWT_SECRET.
 */
import { createServer } from 'node:http';
import { jwtVerify } from 'jose';
import { Server } from 'socket.io';
import { serveFanoutCommands } from './fanout-driver.js';

const engine = process.env.ENGINE ?? 'uws';
const port = Number(process.env.PORT ?? 8093);
const key = new TextEncoder().encode(process.env.JWT_SECRET ?? '');
const verifyOptions = { algorithms: ['HS256'], issuer: 'easel', audience: 'easel' };

const io = new Server({ serveClient: false, maxHttpBufferSize: 1_000_000 });
io.use((socket, next) => {
  const token = (socket.handshake.auth as { token?: unknown }).token;
  if (typeof token !== 'string') return next(new Error('token required'));
  jwtVerify(token, key, verifyOptions).then(
    ({ payload }) => {
      socket.data.sub = payload.sub;
      next();
    },
    () => next(new Error('invalid token')),
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
    if (req.url === '/health') res.end('ok');
    else res.writeHead(404).end();
  });
  io.attach(server);
  server.listen(port, '127.0.0.1');
}

serveFanoutCommands({
  joinAll: () => io.socketsJoin('bench'),
  emit: (payload) => io.to('bench').emit('bench:tick', payload),
  localMembers: () => io.of('/').adapter.rooms.get('bench')?.size ?? 0,
});

// Exit normally on SIGTERM, so --cpu-prof (CPU_PROF_DIR in fanout.ts) writes its profile.
process.on('SIGTERM', () => process.exit(0));
