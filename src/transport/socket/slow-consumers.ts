import type { Server } from 'socket.io';
import type { Logger } from '../../platform/logger.js';

interface EnginePacket {
  data?: unknown;
}

interface EngineClient {
  id: string;
  writeBuffer: EnginePacket[];
  /** `socket` is the uWS WebSocket on the uWS engine's websocket transport. */
  transport?: { name?: string; socket?: { getBufferedAmount?: () => number } };
  close(discard?: boolean): void;
}

/** Bytes uWS holds for this connection (0 elsewhere, or once uWS has closed it). */
function nativeBuffered(client: EngineClient): number {
  const ws = client.transport?.socket;
  if (typeof ws?.getBufferedAmount !== 'function') return 0;
  try {
    return ws.getBufferedAmount();
  } catch {
    return 0; // uWS throws on a socket it already closed: nothing is held for it any more
  }
}

/** Bytes of one queued engine.io packet: its encoded payload (a string or a binary attachment). */
function packetBytes(p: EnginePacket): number {
  const d = p.data;
  if (typeof d === 'string') return d.length;
  if (d && typeof d === 'object' && 'byteLength' in d) return Number((d as { byteLength: number }).byteLength);
  return 16;
}

/**
 * The slow-consumer policy's second half (the first is uWS's `maxBackpressure` with
 * `closeOnBackpressureLimit`, set by the uWS engine): a connection whose client stops reading piles packets
 * into engine.io's per-connection write buffer (long-polling clients between polls, and every connection on
 * the node:http engine, whose WebSocket writes wait for the kernel). A connection holding more than
 * `maxBufferedBytes` there at two sweeps in a row (one second apart: a healthy client that got one large
 * burst has drained it by then) is closed, its buffer discarded. Disconnect, never silently drop: the
 * client sees the close, reconnects and resumes its streams with `since`, so nothing is lost unnoticed.
 * One interval per node walks the connections (no per-socket listener or timer).
 */
export function guardSlowConsumers(io: Server, options: { maxBufferedBytes: () => number; logger: Logger; everyMs?: number }): { stop(): void; readonly closed: number } {
  let closed = 0;
  /** Connections over the limit at the last sweep. */
  let over = new Set<string>();
  const sweep = () => {
    const limit = options.maxBufferedBytes();
    const stillOver = new Set<string>();
    const clients = (io.engine as unknown as { clients: Record<string, EngineClient> }).clients;
    for (const id in clients) {
      const client = clients[id]!;
      const buffer = client.writeBuffer;
      // uWS closes past its limit by itself (closeOnBackpressureLimit); this catches what slips past that.
      let bytes = nativeBuffered(client);
      if (buffer.length === 0 && bytes <= limit) continue;
      for (const p of buffer) {
        bytes += packetBytes(p);
        if (bytes > limit) break;
      }
      if (bytes <= limit) continue;
      if (!over.has(id)) {
        stillOver.add(id);
        continue;
      }
      closed++;
      options.logger.warn({ sid: id, transport: client.transport?.name, packets: buffer.length, bytes, limit }, 'slow consumer: closing a connection whose client stopped reading');
      client.close(true);
    }
    over = stillOver;
  };
  const timer = setInterval(sweep, options.everyMs ?? 1000);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    get closed() {
      return closed;
    },
  };
}
