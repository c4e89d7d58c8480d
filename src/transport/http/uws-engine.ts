import type * as UwsModule from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { BadRequestError } from '../../platform/errors.js';
import { clientIp, type Engine, type EngineOptions } from './engine.js';
import { framingError } from './framing.js';
import type { IncomingRequest } from './types.js';
import { UwsExchange } from './uws-exchange.js';
import { STRINGS_AS_UTF8, utf8 } from './uws-strings.js';

type Uws = typeof UwsModule;

/**
 * The uWebSockets.js engine. Rule: no exception may leave a uWS callback, since uWS runs them from
 * native code and an escaping one ends the process. The route handler below catches everything;
 * UwsExchange guards every later callback and every access to `res` (see there).
 */
export async function createUwsEngine(options: EngineOptions): Promise<Engine> {
  // uWebSockets.js's Node 22+ binaries (ABI >= 127) refuse requests whose headers pass 4 KiB with 431; its Node 20
  // binary had no such limit. 16 KiB, node:http's default, unless the operator set it. Read when uWS loads.
  // eslint-disable-next-line no-restricted-syntax -- sets uWS's own variable for the native code; reads no config
  process.env.UWS_HTTP_MAX_HEADERS_SIZE ??= '16384';
  const loaded = (await import('uWebSockets.js')) as Uws & { default?: Uws };
  const uws = loaded.default ?? loaded;
  const app: TemplatedApp = uws.App();
  let listenSocket: us_listen_socket | null = null;
  const { logger } = options;
  // uWS keeps parsing requests pipelined in the same read after one it was told to close on, before
  // closing (the close waits for the uncork at the end of that read): a request smuggled behind bad
  // framing would still run. Peers that just sent bad framing are refused until the read is over.
  const badFramingPeers = new Set<string>();

  // Everything below the socket.io path is ours; engine.io registers its own, more specific, route.
  app.any('/*', (res, req) => {
    try {
      handle(res, req);
    } catch (err) {
      logger.error({ err }, 'uWS request handler failed');
      try {
        res.cork(() => res.writeStatus('500 Internal Server Error').end('', true));
      } catch (closeErr) {
        logger.error({ err: closeErr }, 'uWS could not answer a failed request');
      }
    }
  });

  function handle(res: HttpResponse, req: HttpRequest): void {
    const headers: Record<string, string> = {};
    const contentLengths: string[] = [];
    req.forEach((key, value) => {
      if (key === 'content-length') contentLengths.push(value);
      headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
    });
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const peer = Buffer.from(res.getRemoteAddressAsText()).toString();
    let rejected = framingError(contentLengths, headers['transfer-encoding']);
    if (rejected) {
      badFramingPeers.add(peer);
      setImmediate(() => badFramingPeers.delete(peer));
    } else if (badFramingPeers.has(peer)) {
      rejected = new BadRequestError('Request pipelined behind one with bad framing', 'bad_framing');
    }
    const declared = rejected || contentLengths.length === 0 ? null : Number(contentLengths[0]);
    const hasBody = rejected ? true : (declared !== null && declared > 0) || headers['transfer-encoding'] !== undefined;
    const exchange = new UwsExchange(res, declared, hasBody, logger, rejected !== null);
    const request: IncomingRequest = {
      method,
      path: req.getUrl(),
      rawQuery: req.getQuery() ?? '',
      headers,
      ip: clientIp(headers, peer, options.trustedProxies),
      body: exchange.body,
      ...(rejected ? { rejected } : {}),
    };
    void options.dispatch(request, exchange).catch((err: unknown) => logger.error({ err }, 'request dispatch failed'));
  }

  return {
    kind: 'uws',
    attachSockets(io) {
      const max = options.socketMaxBackpressure;
      if (max === undefined && !STRINGS_AS_UTF8) return void io.attachApp(app);
      // engine.io passes maxBackpressure to app.ws but not closeOnBackpressureLimit: without it uWS drops
      // messages past the limit and the client never knows. Closed instead, the client reconnects and
      // resumes with `since`. Every send through this route, `publish` (room broadcasts) included, obeys it.
      const ws = app.ws.bind(app);
      app.ws = ((pattern: string, behavior: UwsModule.WebSocketBehavior<unknown>) => {
        const limits = max === undefined ? {} : { maxBackpressure: max, closeOnBackpressureLimit: 1 };
        const open = behavior.open;
        // engine.io sends text frames with ws.send(string): see STRINGS_AS_UTF8.
        const utf8Open = STRINGS_AS_UTF8 && open ? { open: (socket: UwsModule.WebSocket<unknown>) => (sendStringsAsUtf8(socket), open(socket)) } : {};
        return ws(pattern, { ...behavior, ...limits, ...utf8Open });
      }) as typeof app.ws;
      try {
        io.attachApp(app);
      } finally {
        app.ws = ws;
      }
    },
    listen(host, port) {
      return new Promise((resolve, reject) => {
        app.listen(host, port, (socket) => {
          if (!socket) return reject(new Error(`uWS could not listen on ${host}:${port}`));
          listenSocket = socket;
          resolve(uws.us_socket_local_port(socket));
        });
      });
    },
    stopListening() {
      if (listenSocket) uws.us_listen_socket_close(listenSocket);
      listenSocket = null;
    },
    closeAll() {
      app.close();
    },
  };
}

function sendStringsAsUtf8(socket: UwsModule.WebSocket<unknown>): void {
  const send = socket.send.bind(socket);
  socket.send = ((message: UwsModule.RecognizedString, isBinary?: boolean, compress?: boolean) => send(utf8(message), isBinary, compress)) as typeof socket.send;
}
