import { BadRequestError } from '../../platform/errors.js';

/**
 * Request framing that lets a proxy and this server disagree about where a body ends (request
 * smuggling), refused with 400 as nginx does: a repeated or malformed Content-Length, or one
 * together with Transfer-Encoding. node:http (llhttp) already rejects all three before our code
 * runs; uWS keeps every header line and frames by one of them, so its engine checks here.
 * The connection is closed after the 400: its framing cannot be trusted for a next request. uWS
 * would still parse requests pipelined in the same read before closing; its engine refuses those
 * too (400), so nothing smuggled behind bad framing runs. uWS itself already answers 400 to a
 * malformed or listed Content-Length and to Content-Length with Transfer-Encoding.
 */
export function framingError(contentLengths: string[], transferEncoding: string | undefined): BadRequestError | null {
  if (contentLengths.length === 0) return null;
  if (contentLengths.length > 1) return new BadRequestError('More than one Content-Length header', 'bad_framing');
  if (!/^\d{1,15}$/.test(contentLengths[0]!.trim())) return new BadRequestError('Malformed Content-Length header', 'bad_framing');
  if (transferEncoding !== undefined) return new BadRequestError('Content-Length together with Transfer-Encoding', 'bad_framing');
  return null;
}
