/** A refusal from the hub: an HTTP problem detail or a socket ack error, with its stable `code`. */
export class EaselError extends Error {
  override readonly name = 'EaselError';
  constructor(
    readonly code: string,
    message: string,
    /** HTTP status; 0 for socket acks and network failures. */
    readonly status = 0,
    readonly errors?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

/** The request never got an answer (offline, timeout, aborted). */
export const NETWORK = 'network_error';
export const TIMEOUT = 'timeout';

/** Codes after which a token will not start working again: the session is over. */
export const SIGNED_OUT_CODES = new Set(['refresh_invalid', 'refresh_revoked', 'refresh_expired', 'token_revoked', 'user_not_found', 'identity_mismatch']);

export function isAuthError(err: unknown): boolean {
  return err instanceof EaselError && (err.status === 401 || err.code.startsWith('token_'));
}
