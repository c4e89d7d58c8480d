import { AppError } from '../platform/errors.js';

/**
 * Input bytes for a job, fetched from the hub the way jobs.events.ts says: `GET {hubUrl}/api/v1/media/{sha256}
 * ?variant=original` with the worker token. The worker holds no storage credentials; the hub is its only source.
 *
 * Failure classes (worker.errors.ts turns the status into `retryable`): a 404 means the original is gone
 * (422 `input_missing`, final); bytes over `maxBytes` are the input's fault (413, final). No hash check: the
 * hub serves originals with their metadata stripped, under the hash of the bytes as uploaded. A hub that is
 * down, slow, refusing the token or answering 5xx is 503 `input_unavailable` (retried: the next attempt may
 * reach a healthy node).
 */

export interface MediaFetcherOptions {
  hubUrl: string;
  token: string;
  maxBytes: number;
  timeoutMs?: number;
}

export type MediaFetcher = (sha256: string, signal?: AbortSignal) => Promise<Buffer>;

const SHA256 = /^[0-9a-f]{64}$/;

export function createMediaFetcher(opts: MediaFetcherOptions): MediaFetcher {
  const base = opts.hubUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return async (sha256, signal) => {
    if (!SHA256.test(sha256)) throw new AppError(422, 'invalid_input', `not a sha256: ${sha256.slice(0, 80)}`);
    const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
    const url = `${base}/api/v1/media/${sha256}?variant=original`;
    let res: Response;
    try {
      res = await fetch(url, { headers: { authorization: `Bearer ${opts.token}` }, signal: AbortSignal.any(signals) });
    } catch (err) {
      signal?.throwIfAborted();
      throw new AppError(503, 'input_unavailable', `Could not reach the hub for ${sha256}: ${(err as Error).message}`, { cause: err });
    }
    if (res.status === 404) {
      await res.body?.cancel();
      throw new AppError(422, 'input_missing', `The hub has no media ${sha256}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new AppError(503, 'input_unavailable', `The hub answered ${res.status} for media ${sha256}`);
    }
    const declared = Number(res.headers.get('content-length'));
    if (declared > opts.maxBytes) {
      await res.body?.cancel();
      throw new AppError(413, 'input_too_large', `Media ${sha256} is ${declared} bytes; at most ${opts.maxBytes} are processed`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body ?? []) {
        size += chunk.byteLength;
        if (size > opts.maxBytes) throw new AppError(413, 'input_too_large', `Media ${sha256} exceeds ${opts.maxBytes} bytes`);
        chunks.push(Buffer.from(chunk));
      }
    } catch (err) {
      if (err instanceof AppError) throw err;
      signal?.throwIfAborted();
      throw new AppError(503, 'input_unavailable', `Media ${sha256} download broke off: ${(err as Error).message}`, { cause: err });
    }
    return Buffer.concat(chunks, size);
  };
}
