import { Readable } from 'node:stream';
import type { HttpResponse } from 'uWebSockets.js';
import { statusTitle } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { AbortTracker, DRAIN_LIMIT_BYTES } from './abort.js';
import type { Reply, ResponseSink } from './types.js';
import { utf8 } from './uws-strings.js';

/**
 * One request/response pair on uWS, and the only holder of its `res`.
 *
 * uWS throws ("must not be accessed after ... onAborted ... or after a successful response") on any
 * call to a finished response, and an exception thrown inside one of its callbacks takes the whole
 * process down. Two rules follow, and this class is where they hold:
 * - `res` is reached only through `use`, which knows whether the response is finished (ended,
 *   closed or aborted) and refuses then; whatever uWS throws anyway is logged, never rethrown.
 * - every callback uWS calls (onData, onAborted, onWritable, cork bodies) runs through `guard`.
 *
 * A response may end before its request body was read (404, 401, 413 on a declared length...). uWS
 * keeps delivering the rest of that body to onData after `end`; from then on chunks are only counted,
 * never copied or pushed, and `res` is not touched. Remainders up to DRAIN_LIMIT_BYTES are drained
 * that way so the keep-alive connection survives; larger or unknown (chunked) ones end the response
 * with `Connection: close`, so the client stops uploading for nothing.
 */
export class UwsExchange extends AbortTracker implements ResponseSink {
  readonly body: Readable;
  /** Ended, closed or aborted: `res` is off limits. */
  private finished = false;
  private paused = false;
  private bodyDone: boolean;
  /** The response went out first: the rest of the body is counted and dropped. */
  private discarding = false;
  private received = 0;

  constructor(
    private readonly res: HttpResponse,
    /** Declared content-length; null for a chunked body. */
    private readonly declared: number | null,
    hasBody: boolean,
    private readonly log: Logger,
    /** Bad framing: whatever follows cannot be trusted, so the connection ends after the reply. */
    private readonly forceClose = false,
  ) {
    super();
    // Must be registered before the first await in the request's life.
    res.onAborted(() =>
      this.guard('onAborted', () => {
        this.finished = true;
        this.fire();
      }),
    );
    this.body = new Readable({ read: () => this.resumeReading() });
    this.onAborted(() => this.body.destroy(new Error('client aborted the request')));
    // Routes without a body never listen for errors; without this, a client that disconnects
    // mid-request would crash the process with an unhandled 'error'. Readers attach their own.
    this.body.on('error', (err) => void err);
    this.bodyDone = !hasBody;
    if (!hasBody) {
      this.body.push(null);
      return;
    }
    res.onData((chunk, isLast) => this.guard('onData', () => this.onChunk(chunk, isLast)));
  }

  /** Whether the response is over (sent or aborted); nothing may be written after it. */
  get done(): boolean {
    return this.finished;
  }

  /** Runs `fn` unless `where` is a callback from uWS that must not throw back into native code. */
  guard(where: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err, where }, 'uWS callback failed');
    }
  }

  /** Calls into `res` unless the response is finished; false when it did not (or uWS threw). */
  use(fn: (res: HttpResponse) => void): boolean {
    if (this.finished) return false;
    try {
      fn(this.res);
      return true;
    } catch (err) {
      // uWS only throws here once the response is unusable: treat it as finished from now on.
      this.finished = true;
      this.log.error({ err }, 'uWS response call failed');
      return false;
    }
  }

  /** `use` inside a cork, which every write outside the request handler's own tick needs. */
  corked(fn: (res: HttpResponse) => void): boolean {
    let ok = false;
    this.use((res) => res.cork(() => (ok = this.use(fn))));
    return ok;
  }

  private onChunk(chunk: ArrayBuffer, isLast: boolean): void {
    this.received += chunk.byteLength;
    if (isLast) this.bodyDone = true;
    if (this.discarding) return; // the response is out: drop the rest, touch nothing
    // uWS reuses the ArrayBuffer after this callback returns: copy it.
    const more = chunk.byteLength === 0 || this.body.push(Buffer.from(chunk.slice(0)));
    if (isLast) {
      this.body.push(null);
      // uWS can hand over the last chunk after pause() (it had it buffered). A socket left paused stays
      // paused for the next request on this keep-alive connection, which is then never read: it stalls
      // until uWS's idle timeout resets the connection (seen reliably on Node 24's uWS binary).
      if (this.paused) this.resumeReading();
    } else if (!more && !this.paused) {
      this.paused = true;
      this.use((res) => res.pause());
    }
  }

  private resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    this.use((res) => res.resume());
  }

  /**
   * Called right before the response's final write: stops feeding the body stream and decides
   * whether the unread remainder is drained (keep-alive) or the connection closed after the reply.
   */
  private settleBody(): boolean {
    if (this.bodyDone) return this.forceClose;
    this.discarding = true;
    if (!this.body.readableEnded) this.body.push(null);
    const remainder = this.declared === null ? Infinity : this.declared - this.received;
    const close = this.forceClose || remainder > DRAIN_LIMIT_BYTES;
    // A paused socket would never deliver (or drain) the rest; uWS closes it itself when asked to.
    if (this.paused) this.resumeReading();
    return close;
  }

  async send(reply: Reply, headOnly: boolean): Promise<void> {
    const body = reply.body;
    if (body instanceof Readable) {
      if (headOnly) body.destroy();
      else return this.stream(reply, body);
    }
    const close = this.settleBody();
    this.corked((res) => {
      this.writeHead(res, reply);
      if (headOnly || reply.status === 204 || reply.status === 304) {
        // endWithoutBody(n) leaves uWS expecting n more bytes, which kills the next request on a
        // keep-alive connection, and endWithoutBody(undefined) reports a length of 2^63: so the HEAD
        // length goes in as a plain header and 204/304 get none.
        const length = headOnly && reply.status !== 204 && reply.status !== 304 ? (reply.length ?? byteLength(body)) : undefined;
        if (length !== undefined) res.writeHeader('content-length', String(length));
        // For the same reason closeConnection cannot be passed here (it needs a length argument):
        // the client is told to close instead, and uWS drains until it does.
        if (close) res.writeHeader('connection', 'close');
        res.endWithoutBody();
      } else {
        // A string body as UTF-8 bytes: uWS's Node 22+ binaries send one-byte strings as Latin-1 (uws-strings.ts).
        res.end(utf8((body as string | Buffer | undefined) ?? ''), close);
      }
    });
    this.finished = true;
  }

  private writeHead(res: HttpResponse, reply: Reply): void {
    res.writeStatus(`${reply.status} ${statusTitle(reply.status)}`);
    for (const [name, value] of Object.entries(reply.headers ?? {})) res.writeHeader(name, value);
  }

  /** Streams with backpressure: `tryEnd` when the length is known (content-length), `write` otherwise. */
  private stream(reply: Reply, body: Readable): Promise<void> {
    return new Promise((resolve) => {
      let headWritten = false;
      let close = false;
      const finish = () => {
        body.destroy();
        resolve();
      };
      const head = (res: HttpResponse) => {
        if (headWritten) return;
        close = this.settleBody();
        this.writeHead(res, reply);
        // tryEnd takes no closeConnection: with a known length the client is asked to close instead.
        if (close && reply.length !== undefined) res.writeHeader('connection', 'close');
        headWritten = true;
      };
      this.onAborted(finish);
      body.on('error', (err) => {
        this.log.warn({ err }, 'response stream failed; closing the connection');
        this.corked((res) => res.close());
        this.finished = true;
        finish();
      });
      body.on('end', () => {
        if (this.finished) return finish();
        this.corked((res) => {
          const wasWritten = headWritten;
          head(res);
          // A known length is ended by tryEnd on its last byte; this covers an empty stream.
          if (reply.length === undefined || !wasWritten) res.end(undefined, close);
        });
        this.finished = true;
        finish();
      });
      body.on('data', (chunk: Buffer) => {
        this.corked((res) => {
          head(res);
          if (reply.length === undefined) {
            if (!res.write(chunk)) {
              body.pause();
              res.onWritable(() => {
                this.guard('onWritable', () => body.resume());
                return true;
              });
            }
            return;
          }
          const startOffset = res.getWriteOffset();
          const [ok, done] = res.tryEnd(chunk, reply.length);
          if (done) {
            this.finished = true;
            return finish();
          }
          if (!ok) {
            body.pause();
            res.onWritable((offset) => {
              let retryOk = false;
              this.guard('onWritable', () => {
                const [again, retryDone] = res.tryEnd(chunk.subarray(offset - startOffset), reply.length!);
                retryOk = again;
                if (retryDone) {
                  this.finished = true;
                  finish();
                } else if (again) body.resume();
              });
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
