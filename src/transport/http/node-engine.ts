import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AbortTracker, DRAIN_LIMIT_BYTES } from './abort.js';
import { clientIp, type Engine, type EngineOptions } from './engine.js';
import type { IncomingRequest, Reply, ResponseSink } from './types.js';

export function createNodeEngine(options: EngineOptions): Engine {
  const server = createServer((req, res) => {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const request: IncomingRequest = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: q === -1 ? url : url.slice(0, q),
      rawQuery: q === -1 ? '' : url.slice(q + 1),
      headers,
      ip: clientIp(headers, req.socket.remoteAddress ?? '', options.trustedProxies),
      body: req,
    };
    const sink = new NodeSink(req, res);
    sink.onAborted(() => req.destroy(new Error('client aborted the request')));
    void options.dispatch(request, sink).catch((err: unknown) => options.logger.error({ err }, 'request dispatch failed'));
  });
  server.keepAliveTimeout = 65_000;

  return {
    kind: 'node',
    attachSockets(io) {
      io.attach(server);
    },
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      });
    },
    stopListening() {
      server.close();
      server.closeIdleConnections();
    },
    closeAll() {
      server.closeAllConnections();
    },
  };
}

class NodeSink extends AbortTracker implements ResponseSink {
  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    super();
    res.on('close', () => {
      if (!res.writableFinished) this.fire();
    });
  }

  async send(reply: Reply, headOnly: boolean): Promise<void> {
    const { res } = this;
    const headers: Record<string, string | number> = { ...reply.headers };
    const body = reply.body;
    if (reply.length !== undefined) headers['content-length'] = reply.length;
    else if (typeof body === 'string' || Buffer.isBuffer(body)) headers['content-length'] = Buffer.byteLength(body);
    // node:http would read (and drop) any unread body to keep the connection; past the drain limit
    // (judged by the declared length) closing is cheaper, as on uWS.
    if (!this.req.complete && unreadTooLarge(this.req)) headers.connection = 'close';
    res.writeHead(reply.status, headers);
    if (body instanceof Readable) {
      if (headOnly) {
        body.destroy();
        res.end();
        return;
      }
      // pipeline rejects when the client goes away; the response is already gone then.
      await pipeline(body, res).catch(() => undefined);
      return;
    }
    res.end(headOnly ? undefined : body);
  }
}

function unreadTooLarge(req: IncomingMessage): boolean {
  const declared = req.headers['content-length'];
  if (declared === undefined) return req.headers['transfer-encoding'] !== undefined;
  return Number(declared) > DRAIN_LIMIT_BYTES;
}
