/**
 * Peer for load-tests/fanout.ts: bare socket.io 4 (ENGINE=uws: uWebSockets.js with `io.attachApp`, the ceiling
 * of this stack; ENGINE=node: node:http, the default a user would pick), with the same JWT check per socket as
 * load-tests/baselines/socketio-server.ts (socketio-peer.ts) and nothing else, broadcasting with `io.to('bench').emit` as the
 * parent commands (fanout-driver.ts). Env: ENGINE, PORT, JWT_SECRET.
 */
import { serveFanoutCommands } from './fanout-driver.js';
import { createPeerServer, listenPeer } from './socketio-peer.js';

const io = createPeerServer(process.env.JWT_SECRET ?? '');
await listenPeer(io, process.env.ENGINE ?? 'uws', Number(process.env.PORT ?? 8093));

serveFanoutCommands({
  joinAll: () => io.socketsJoin('bench'),
  emit: (payload) => io.to('bench').emit('bench:tick', payload),
  localMembers: () => io.of('/').adapter.rooms.get('bench')?.size ?? 0,
});

// Exit normally on SIGTERM, so --cpu-prof (CPU_PROF_DIR in fanout.ts) writes its profile.
process.on('SIGTERM', () => process.exit(0));
