import { Readable } from 'node:stream';
import type * as UwsModule from 'uWebSockets.js';
import type { HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { statusTitle } from '../../platform/errors.js';
import { AbortTracker } from './abort.js';
import { clientIp, type Engine, type EngineOptions } from './engine.js';
import type { IncomingRequest, Reply, ResponseSink } from './types.js';

type Uws = typeof UwsModule;

export async function createUwsEngine(options: EngineOptions): Promise<Engine> {
  const loaded = (await import('uWebSockets.js')) as Uws & { default?: Uws };
  const uws = loaded.default ?? loaded;
  const app: TemplatedApp = uws.App();
  let listenSocket: us_listen_socket | null = null;

  // Everything below the socket.io path is ours; engine.io registers its own, more specific, route.
  app.any('/*', (res, req) => {
    const headers: Record<string, string> = {};
    req.forEach((key, value) => {
      headers[key] = value;
    });
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const request: IncomingRequest = {
      method,
      path: req.getUrl(),
      rawQuery: req.getQuery() ?? '',
      headers,
      ip: clientIp(headers, Buffer.from(res.getRemoteAddressAsText()).toString(), options.trustProxy),
      body: null as unknown as Readable,
    };
    const sink = new UwsSink(res);
    request.body = bodyStream(res, sink, headers);
    void options.dispatch(request, sink);
  });

  return {
    kind: 'uws',
    attachSockets(io) {
      io.attachApp(app);
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

/** The request body as a Readable; uWS is paused while the consumer is behind (backpressure). */
function bodyStream(res: HttpResponse, sink: UwsSink, headers: Record<string, string>): Readable {
  let paused = false;
  const body = new Readable({
    read() {
      if (paused && !sink.aborted) {
        paused = false;
        res.resume();
      }
    },
  });
  sink.onAborted(() => body.destroy(new Error('client aborted the request')));
  // Routes without a body never listen for errors; without this, any client that disconnects
  // mid-request (load balancers, autocannon) would crash the process with an unhandled 'error'.
  // Consumers that read the body attach their own listener and still see the abort.
  body.on('error', (err) => void err);
  const hasBody = (headers['content-length'] !== undefined && headers['content-length'] !== '0') || headers['transfer-encoding'] !== undefined;
  if (!hasBody) {
    body.push(null);
    return body;
  }
  res.onData((chunk, isLast) => {
    // uWS reuses the ArrayBuffer after this callback returns: copy it.
    if (chunk.byteLength > 0 && !body.push(Buffer.from(chunk.slice(0))) && !isLast) {
      paused = true;
      res.pause();
    }
    if (isLast) body.push(null);
  });
  return body;
}

class UwsSink extends AbortTracker implements ResponseSink {
  constructor(private readonly res: HttpResponse) {
    super();
    // Must be registered before the first await in the request's life.
    res.onAborted(() => this.fire());
  }

  async send(reply: Reply, headOnly: boolean): Promise<void> {
    const { res } = this;
    const body = reply.body;
    if (body instanceof Readable) {
      if (headOnly) body.destroy();
      else return this.stream(reply, body);
    }
    res.cork(() => {
      this.writeHead(reply);
      if (headOnly || reply.status === 204 || reply.status === 304) {
        // endWithoutBody(n) leaves uWS expecting n more bytes, which kills the next request on a
        // keep-alive connection, and endWithoutBody(undefined) reports a length of 2^63: so the HEAD
        // length goes in as a plain header and 204/304 get none.
        const length = headOnly && reply.status !== 204 && reply.status !== 304 ? (reply.length ?? byteLength(body)) : undefined;
        if (length !== undefined) res.writeHeader('content-length', String(length));
        res.endWithoutBody();
      } else {
        res.end(body as string | Buffer | undefined ?? '');
      }
    });
  }

  private writeHead(reply: Reply): void {
    this.res.writeStatus(`${reply.status} ${statusTitle(reply.status)}`);
    for (const [name, value] of Object.entries(reply.headers ?? {})) this.res.writeHeader(name, value);
  }

  /** Streams with backpressure: `tryEnd` when the length is known (content-length), `write` otherwise. */
  private stream(reply: Reply, body: Readable): Promise<void> {
    const { res } = this;
    return new Promise((resolve) => {
      let headWritten = false;
      const finish = () => {
        body.destroy();
        resolve();
      };
      this.onAborted(finish);
      body.on('error', () => {
        if (!this.aborted) res.cork(() => res.close());
        finish();
      });
      body.on('end', () => {
        if (this.aborted) return finish();
        res.cork(() => {
          if (!headWritten) this.writeHead(reply);
          if (reply.length === undefined) res.end();
          else if (!headWritten) res.end();
        });
        finish();
      });
      body.on('data', (chunk: Buffer) => {
        if (this.aborted) return;
        res.cork(() => {
          if (!headWritten) {
            this.writeHead(reply);
            headWritten = true;
          }
          if (reply.length === undefined) {
            if (!res.write(chunk)) {
              body.pause();
              res.onWritable(() => {
                body.resume();
                return true;
              });
            }
            return;
          }
          const startOffset = res.getWriteOffset();
          const [ok, done] = res.tryEnd(chunk, reply.length);
          if (done) return finish();
          if (!ok) {
            body.pause();
            res.onWritable((offset) => {
              const [retryOk, retryDone] = res.tryEnd(chunk.subarray(offset - startOffset), reply.length!);
              if (retryDone) finish();
              else if (retryOk) body.resume();
              return retryOk;
            });
          }
        });
      });
    });
  }
}

/** Byte length of an in-memory body; undefined for a stream of unknown length. */
function byteLength(body: unknown): number | undefined {
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (Buffer.isBuffer(body)) return body.length;
  return body === undefined ? 0 : undefined;
}
