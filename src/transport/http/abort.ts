import { BadRequestError } from '../../platform/errors.js';

/**
 * Unread request body a connection may still drain after its response went out. A response that
 * answers before reading (404, 401, 413 on a declared length) leaves the rest of the body on the
 * wire: draining a small remainder keeps the keep-alive connection (cheaper than a new handshake);
 * a larger or unknown (chunked) one is not worth receiving, so the response says `Connection: close`
 * and the connection ends after it.
 */
export const DRAIN_LIMIT_BYTES = 1024 * 1024;

/** The aborted flag and callbacks both response sinks keep; `fire` runs once, when the client goes away. */
export class AbortTracker {
  aborted = false;
  private readonly handlers: (() => void)[] = [];

  onAborted(cb: () => void): void {
    this.handlers.push(cb);
  }

  fire(): void {
    if (this.aborted) return;
    this.aborted = true;
    for (const cb of this.handlers) cb();
  }
}

/** What a reader of the request body throws when the client went away mid-body (never a 500). */
export function requestAborted(cause?: unknown): BadRequestError {
  return new BadRequestError('The request was interrupted', 'request_aborted', { cause });
}
