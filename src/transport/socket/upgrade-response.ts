import type { Socket } from 'socket.io';

interface EngineConn {
  transport?: { name?: string; socket?: { getUserData?: () => { response?: unknown } | undefined } };
  request?: { res?: unknown };
}

/**
 * engine.io keeps the response object of the HTTP request that opened a WebSocket for the connection's whole
 * life: on `request.res` and, on uWebSockets.js, in the WebSocket's user data. With any engine middleware
 * registered (socket.io's `cors` option registers one) that is a `ResponseWrapper` with its own emitter,
 * header list and abort callback, about 500 bytes of heap per idle socket, used for nothing once the
 * upgrade is answered (engine.io's polling transport drops `req.res` the same way after each request).
 * The uWS user data copy exists only to emit 'close' on it for middlewares that wait for that, and the CORS
 * middleware does not.
 *
 * These are engine.io internals, so every step is guarded: on an engine.io that keeps things elsewhere this
 * does nothing. Polling connections are left alone (their transport manages `req.res` itself).
 */
export function releaseUpgradeResponse(socket: Socket): void {
  const conn = socket.conn as unknown as EngineConn;
  if (conn.transport?.name !== 'websocket') return;
  if (conn.request?.res) conn.request.res = null;
  const ws = conn.transport.socket;
  if (typeof ws?.getUserData !== 'function') return;
  const data = ws.getUserData();
  if (data?.response !== undefined) data.response = undefined;
}
