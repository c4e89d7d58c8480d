/**
 * uWebSockets.js 3.0.6's binaries for Node 22+ (ABI >= 127) write a JS string that V8 stores one byte per
 * character (Latin-1 only: 'é' with nothing above U+00FF) as raw Latin-1 bytes, not UTF-8: an HTTP body then
 * reads as U+FFFD and a WebSocket text frame is invalid UTF-8, so the client drops the connection. On those
 * binaries every string goes to uWS as a UTF-8 Buffer (the frame type, text or binary, is passed unchanged):
 * response bodies (uws-exchange.ts) and engine.io's ws.send (uws-engine.ts). app.publish, socket.io's room
 * broadcast fast path, encodes strings correctly and is left alone.
 * test/integration/runtime.test.ts checks that the workaround is still needed where it is applied, and works.
 */
export const STRINGS_AS_UTF8 = Number(process.versions.modules) >= 127;

/** A string as UTF-8 bytes where the loaded uWS binary needs it; anything else unchanged. */
export function utf8<T>(data: T): T | Buffer {
  return STRINGS_AS_UTF8 && typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}
