import { STATUS_CODES } from 'node:http';

/**
 * Domain errors. Every error a client can see is an AppError with a stable code; one mapper turns
 * it into RFC 9457 problem details (HTTP) or a `{ ok: false, error }` ack (socket).
 */
export interface FieldError {
  path: string;
  message: string;
}

export interface AppErrorOptions {
  cause?: unknown;
  errors?: FieldError[];
  headers?: Record<string, string>;
}

export class AppError extends Error {
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.errors = options.errors;
    this.headers = options.headers;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, errors: FieldError[] = [], options: AppErrorOptions = {}) {
    super(422, 'validation_failed', message, { ...options, errors });
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, code = 'bad_request', options: AppErrorOptions = {}) {
    super(400, code, message, options);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'Authentication required', code = 'unauthorized', options: AppErrorOptions = {}) {
    super(401, code, message, { ...options, headers: { 'www-authenticate': 'Bearer', ...options.headers } });
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'Not allowed', code = 'forbidden') {
    super(403, code, message);
  }
}

export class NotFoundError extends AppError {
  constructor(message = 'Not found', code = 'not_found') {
    super(404, code, message);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, code = 'conflict') {
    super(409, code, message);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(message: string, code = 'payload_too_large') {
    super(413, code, message);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string, code = 'unsupported_media_type') {
    super(415, code, message);
  }
}

export class RateLimitedError extends AppError {
  constructor(retryAfterSeconds: number) {
    super(429, 'rate_limited', `Too many requests; retry in ${retryAfterSeconds}s`, {
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(message: string, code = 'unavailable') {
    super(503, code, message);
  }
}

/** RFC 9457 problem details body. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  request_id?: string;
  errors?: FieldError[];
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * Reason phrase for a status line and problem title: RFC 9110's names where they differ from node's
 * older table, node's `STATUS_CODES` for the rest (uWS writes the status line verbatim, so `200 OK`
 * needs a phrase too), and the class name for codes neither knows.
 */
export function statusTitle(status: number): string {
  return TITLES[status] ?? STATUS_CODES[status] ?? (status >= 500 ? 'Server Error' : status >= 400 ? 'Client Error' : 'Unknown');
}

/** Maps any thrown value to a problem body; unknown errors become an opaque 500. */
export function toProblem(err: unknown, requestId?: string, instance?: string): Problem {
  const app = err instanceof AppError ? err : new AppError(500, 'internal', 'Internal server error');
  return {
    type: `https://easel.dev/problems/${app.code}`,
    title: statusTitle(app.status),
    status: app.status,
    detail: app.message,
    code: app.code,
    ...(instance ? { instance } : {}),
    ...(requestId ? { request_id: requestId } : {}),
    ...(app.errors ? { errors: app.errors } : {}),
  };
}

/** Socket ack error shape. */
export function toAckError(err: unknown): { code: string; message: string; errors?: FieldError[] } {
  if (err instanceof AppError) {
    return { code: err.code, message: err.message, ...(err.errors ? { errors: err.errors } : {}) };
  }
  return { code: 'internal', message: 'Internal server error' };
}

