import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { EntityManager } from '../../platform/db/orm.js';
import type { Logger } from '../../platform/logger.js';
import type { Actor } from '../../modules/identity/actor.js';
import type { AppError } from '../../platform/errors.js';

/** An HTTP request as both engines (uWS and node:http) present it to the dispatcher. */
export interface IncomingRequest {
  method: string;
  path: string;
  rawQuery: string;
  /** Lower-cased names. */
  headers: Record<string, string>;
  ip: string;
  /** Streamed request body; destroyed with an error if the client aborts. */
  body: Readable;
  /** Set by an engine that refuses the request before routing (bad framing): the dispatcher answers with it. */
  rejected?: AppError;
}

export type ReplyBody = string | Buffer | Readable;

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: ReplyBody;
  /** Byte length of a streamed body when known: sent as content-length instead of chunked. */
  length?: number;
}

/** Engine-specific writer of one response. */
export interface ResponseSink {
  readonly aborted: boolean;
  onAborted(cb: () => void): void;
  send(reply: Reply, headOnly: boolean): Promise<void>;
}

export type AuthMode = 'none' | 'optional' | 'actor' | 'user' | 'admin' | 'worker';
export type BodyKind = 'none' | 'json' | 'form-or-json' | 'stream';

type Infer<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteContext<B, Q, P, A> {
  body: B;
  query: Q;
  params: P;
  actor: A;
  em: EntityManager;
  request: IncomingRequest;
  requestId: string;
  log: Logger;
}

type ActorFor<M extends AuthMode> = M extends 'none'
  ? null
  : M extends 'optional'
    ? Actor | null
    : M extends 'actor'
      ? Extract<Actor, { kind: 'user' | 'guest' }>
      : M extends 'worker'
        ? Extract<Actor, { kind: 'worker' }>
        : Extract<Actor, { kind: 'user' }>;

export interface RouteSpec<
  BS extends z.ZodType | undefined = undefined,
  QS extends z.ZodType | undefined = undefined,
  PS extends z.ZodType | undefined = undefined,
  M extends AuthMode = 'none',
> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  summary: string;
  tags: string[];
  auth: M;
  bodyKind?: BodyKind;
  body?: BS;
  query?: QS;
  params?: PS;
  /** Documented response body schema per status code (OpenAPI only). */
  responses?: Record<number, z.ZodType | null>;
  /** Per-IP limit, counted in the shared rate limiter. */
  rateLimit?: { name: string; limit: () => { limit: number; windowSeconds: number } };
  /** Body size cap for this route; defaults to the JSON limit. */
  maxBodyBytes?: number;
  handler: (ctx: RouteContext<Infer<BS>, Infer<QS>, Infer<PS>, ActorFor<M>>) => Promise<Reply>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteSpec<any, any, any, any>;

/** Typed route definition; the generics flow from the schemas into the handler. */
export function route<
  BS extends z.ZodType | undefined = undefined,
  QS extends z.ZodType | undefined = undefined,
  PS extends z.ZodType | undefined = undefined,
  M extends AuthMode = 'none',
>(spec: RouteSpec<BS, QS, PS, M>): AnyRoute {
  return spec as AnyRoute;
}

export function json(data: unknown, status = 200, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(data) };
}

export function noContent(): Reply {
  return { status: 204 };
}
