/**
 * What the bare socket.io peers (socketio-server.ts, socketio-fanout-server.ts) share, so they do the same work
 * per socket as each other: the server with its one `io.use` JWT check, how it listens on either engine, and
 * the token a benchmark client presents to it.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { jwtVerify, SignJWT } from 'jose';
import { Server } from 'socket.io';

/**
 * socket.io 4 with one middleware: reads `handshake.auth.token`, verifies it with jose `jwtVerify` (HS256 pinned,
 * issuer and audience checked, the claims the hub checks), stores `sub` in `socket.data.sub`; a bad token gets a
 * connect_error with the hub's codes.
 */
export function createPeerServer(secret: string, issuer = 'easel', audience = 'easel'): Server {
  const key = new TextEncoder().encode(secret);
  const verifyOptions = { algorithms: ['HS256'], issuer, audience };
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
  return io;
}

/** ENGINE=uws: a uWebSockets.js app with `io.attachApp` (the hub's default); else node:http. `GET /health` is 200. */
export async function listenPeer(io: Server, engine: string, port: number): Promise<void> {
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
}

/** The claims of an Easel access token for `user:1`, signed with the secret the peer verifies with. */
export function peerAccessToken(secret: string): Promise<string> {
  return new SignJWT({ typ: 'access', role: 'user' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('user:1')
    .setIssuer('easel')
    .setAudience('easel')
    .setIssuedAt()
    .setExpirationTime('1h')
    .setJti(randomUUID())
    .sign(new TextEncoder().encode(secret));
}
