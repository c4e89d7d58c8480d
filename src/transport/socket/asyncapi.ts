import { z } from 'zod';
import { SchemaCollector } from '../http/openapi.js';
import { AuthRefreshSchema, type NamespaceAccess, type NamespaceSpec, type PushSpec, type SocketEventSpec } from './namespace.js';

type Json = Record<string, unknown>;

/** How a refused handshake reads on the client (namespace.ts `handshakeError`, admission.ts). */
const HANDSHAKE_REFUSALS =
  'A refused handshake is a `connect_error` whose `data.code` says why: `token_missing`, a token verification code ' +
  '(`token_expired`, `token_malformed`, ...), `forbidden` (wrong kind of token for this namespace), `too_many_sockets` ' +
  '(this identity already holds `data.limit` sockets on this node, all namespaces together: close one first) or ' +
  '`rate_limited` (too many handshakes from this address: retry after `data.retryAfter` seconds).';

export interface AsyncApiInfo {
  title: string;
  version: string;
  description?: string;
}

const ACCESS_TEXT: Record<NamespaceAccess, string> = {
  actor: 'user or guest token',
  admin: 'admin user token',
  worker: 'worker token',
};

/**
 * Built into every namespace by `mountNamespace` (namespace.ts), so they are documented for each one
 * even though no NamespaceSpec lists them.
 */
const BUILTIN_EVENTS: SocketEventSpec[] = [
  {
    event: 'auth:refresh',
    summary: 'Replace the token without reconnecting (same identity only)',
    schema: AuthRefreshSchema,
    reply: z.object({ expiresAt: z.int().describe('new expiry, seconds since the epoch') }),
    handler: async () => null,
  },
];

const BUILTIN_PUSHES: PushSpec[] = [
  {
    event: 'auth:expired',
    summary: 'The token expired without auth:refresh; the socket is disconnected next',
    schema: z.object({ reason: z.string(), message: z.string() }),
  },
  {
    event: 'server:shutdown',
    summary: 'This node is shutting down; reconnect (to another node)',
    schema: z.object({ reconnect: z.boolean(), reason: z.string() }),
  },
];

const AckError = z.object({
  code: z.string().describe('Stable error code, e.g. validation_failed, rate_limited, unknown_event, forbidden'),
  message: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

/** AsyncAPI component keys allow only `[A-Za-z0-9._-]`; event names use `:`. */
function key(...parts: string[]): string {
  return parts.join('.').replace(/[^A-Za-z0-9._-]/g, '_');
}

function channelId(name: string): string {
  return name === '/' ? 'root' : key(name.replace(/^\//, ''));
}

/**
 * AsyncAPI 3.0 document for the mounted socket.io namespaces: one channel per namespace, a `receive`
 * operation per client event (with its ack as the reply) and a `send` operation per server push.
 */
export function buildAsyncApi(namespaces: readonly NamespaceSpec[], info: AsyncApiInfo): Json {
  const collector = new SchemaCollector();
  const channels: Json = {};
  const operations: Json = {};
  const messages: Json = {};
  collector.schemas.AckError = collector.convert(AckError, 'output');

  for (const ns of namespaces) {
    const ch = channelId(ns.name);
    const chMessages: Json = {};
    const events = [...ns.events, ...BUILTIN_EVENTS.filter((b) => !ns.events.some((e) => e.event === b.event))];
    const pushes = [...ns.pushes, ...BUILTIN_PUSHES.filter((b) => !ns.pushes.some((p) => p.event === b.event))];

    for (const ev of events) {
      const msgKey = key(ch, ev.event);
      const ackKey = key(ch, ev.event, 'ack');
      messages[msgKey] = { name: ev.event, title: ev.event, summary: ev.summary, payload: collector.convert(ev.schema, 'input') };
      const data = ev.reply ? collector.convert(ev.reply, 'output') : {};
      messages[ackKey] = {
        name: `${ev.event} ack`,
        summary: `Acknowledgement of ${ev.event}`,
        payload: {
          oneOf: [
            { type: 'object', properties: { ok: { const: true }, data }, required: ['ok', 'data'] },
            { type: 'object', properties: { ok: { const: false }, error: { $ref: '#/components/schemas/AckError' } }, required: ['ok', 'error'] },
          ],
        },
      };
      chMessages[key(ev.event)] = { $ref: `#/components/messages/${msgKey}` };
      chMessages[key(ev.event, 'ack')] = { $ref: `#/components/messages/${ackKey}` };
      operations[key(ch, 'emit', ev.event)] = {
        action: 'receive',
        title: `emit ${ev.event}`,
        summary: ev.summary,
        channel: { $ref: `#/channels/${ch}` },
        messages: [{ $ref: `#/channels/${ch}/messages/${key(ev.event)}` }],
        reply: { channel: { $ref: `#/channels/${ch}` }, messages: [{ $ref: `#/channels/${ch}/messages/${key(ev.event, 'ack')}` }] },
        security: [{ $ref: '#/components/securitySchemes/token' }],
        'x-direction': 'client-to-server',
      };
    }
    for (const push of pushes) {
      const msgKey = key(ch, push.event);
      messages[msgKey] = { name: push.event, title: push.event, summary: push.summary, payload: collector.convert(push.schema, 'output') };
      chMessages[key(push.event)] = { $ref: `#/components/messages/${msgKey}` };
      operations[key(ch, 'push', push.event)] = {
        action: 'send',
        title: `push ${push.event}`,
        summary: push.summary,
        channel: { $ref: `#/channels/${ch}` },
        messages: [{ $ref: `#/channels/${ch}/messages/${key(push.event)}` }],
        security: [{ $ref: '#/components/securitySchemes/token' }],
        'x-direction': 'server-to-client',
      };
    }
    channels[ch] = {
      address: ns.name,
      title: ns.name,
      summary: ns.summary,
      description: `socket.io namespace ${ns.name}; handshake \`auth: { token }\` with a ${ACCESS_TEXT[ns.access]}. Unknown events are answered with an \`unknown_event\` ack. ${HANDSHAKE_REFUSALS}`,
      messages: chMessages,
      'x-access': ns.access,
    };
  }

  return {
    asyncapi: '3.0.0',
    info: { title: info.title, version: info.version, ...(info.description ? { description: info.description } : {}) },
    defaultContentType: 'application/json',
    channels,
    operations,
    components: {
      messages,
      schemas: collector.schemas,
      securitySchemes: {
        token: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'Sent in the socket.io handshake as `auth: { token }` (not an HTTP header)',
        },
      },
    },
  };
}
