import type { Server as IoServer } from 'socket.io';
import type { Logger } from '../../platform/logger.js';
import type { Dispatch } from './dispatch.js';

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
  trustProxy: boolean;
  socketPath: string;
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

/** Client address, honouring the first X-Forwarded-For hop only behind a trusted proxy. */
export function clientIp(headers: Record<string, string>, socketIp: string, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = headers['x-forwarded-for']?.split(',')[0]?.trim();
    if (forwarded) return forwarded;
  }
  return socketIp.replace(/^::ffff:/, '');
}
