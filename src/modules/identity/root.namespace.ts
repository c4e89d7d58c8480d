import { z } from 'zod';
import type { NamespaceSpec } from '../../transport/socket/namespace.js';

/** `/`: users and guests. Each socket joins its actor room (`user:<id>` or `guest:<id>`). */
export function rootNamespace(): NamespaceSpec {
  return {
    name: '/',
    access: 'actor',
    summary: 'Users and guests: job progress, auth refresh',
    events: [],
    pushes: [
      { event: 'auth:expired', summary: 'The token expired without auth:refresh; the socket is disconnected next', schema: z.object({ reason: z.string(), message: z.string() }) },
      { event: 'server:shutdown', summary: 'This node is shutting down; reconnect (to another node)', schema: z.object({ reconnect: z.boolean(), reason: z.string() }) },
    ],
  };
}
