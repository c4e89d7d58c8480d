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
import { createPeerServer, listenPeer } from './socketio-peer.js';

const io = createPeerServer(process.env.JWT_SECRET ?? '', process.env.JWT_ISSUER ?? 'easel', process.env.JWT_AUDIENCE ?? 'easel');
await listenPeer(io, process.env.ENGINE ?? 'uws', Number(process.env.PORT ?? 8092));
process.on('SIGTERM', () => process.exit(0));
