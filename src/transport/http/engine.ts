import type { Server as IoServer } from 'socket.io';
import type { Logger } from '../../platform/logger.js';
import type { TrustedProxies } from './client-ip.js';
import type { Dispatch } from './dispatch.js';

export { clientIp } from './client-ip.js';

/** An HTTP server implementation hosting the dispatcher and socket.io. */
export interface Engine {
  readonly kind: 'uws' | 'node';
  attachSockets(io: IoServer): void;
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting new connections; live ones are closed by `closeAll`. */
  stopListening(): void;
  closeAll(): void;
}

export interface EngineOptions {
  dispatch: Dispatch;
  logger: Logger;
  /** Peers whose X-Forwarded-For is believed (client-ip.ts). */
  trustedProxies: TrustedProxies;
  socketPath: string;
  /**
   * uWS only: bytes uWS may buffer for one WebSocket whose client is not reading; past it the connection is
   * closed (`closeOnBackpressureLimit`) rather than messages silently dropped. Absent: uWS's default (64 KiB, drop).
   */
  socketMaxBackpressure?: number;
}

/**
 * Picks the engine: uWebSockets.js when its native binary loads (or when forced), node:http otherwise.
 * `auto` falls back and says so; a forced `uws` that cannot load is a startup error.
 */
export async function createEngine(kind: 'auto' | 'uws' | 'node', options: EngineOptions): Promise<Engine> {
  if (kind !== 'node') {
    try {
      const { createUwsEngine } = await import('./uws-engine.js');
      return await createUwsEngine(options);
    } catch (err) {
      if (kind === 'uws') throw new Error('uWebSockets.js was forced (HTTP_ENGINE=uws) but could not load', { cause: err });
      options.logger.warn({ err }, 'uWebSockets.js could not load; falling back to node:http');
    }
  }
  const { createNodeEngine } = await import('./node-engine.js');
  return createNodeEngine(options);
}
