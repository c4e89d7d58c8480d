import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '../../platform/logger.js';

/** Why a user's cached auth state is stale. `deleted` and `password` also end the user's live sockets. */
export type UserChange = 'deleted' | 'password' | 'role';

export interface UserChangeEvent {
  userId: number;
  change: UserChange;
}

export interface UserEvents {
  /** Applies the change on this node at once, then tells every other node (when there is Redis). */
  publish(event: UserChangeEvent): Promise<void>;
  close(): Promise<void>;
}

export interface UserEventsOptions {
  /** Commands client to publish with; null: single node, local only. */
  publisher: Redis | null;
  /** A connection of its own (subscribe mode blocks other commands); null: this process only publishes. */
  subscriber: Redis | null;
  channel: string;
  logger: Logger;
  onChange: (event: UserChangeEvent) => void;
}

const Message = z.strictObject({
  node: z.string(),
  userId: z.int().positive(),
  change: z.enum(['deleted', 'password', 'role']),
});

/**
 * Cross-node user invalidation over Redis pub/sub. Pub/sub is at-most-once: a node that misses a
 * message (Redis blip) converges when its cache entry expires, so the cache TTL is the worst case.
 */
export async function createUserEvents(opts: UserEventsOptions): Promise<UserEvents> {
  const node = randomUUID();
  const { subscriber, publisher, channel, logger } = opts;
  if (subscriber) {
    subscriber.on('error', (err: unknown) => logger.warn({ err, role: 'identity-sub' }, 'redis error'));
    subscriber.on('message', (from: string, text: string) => {
      if (from !== channel) return;
      let parsed: z.infer<typeof Message>;
      try {
        parsed = Message.parse(JSON.parse(text));
      } catch (err) {
        logger.warn({ err, channel }, 'ignored a malformed user invalidation');
        return;
      }
      if (parsed.node === node) return; // already applied when it was published
      opts.onChange({ userId: parsed.userId, change: parsed.change });
    });
    await subscriber.subscribe(channel);
  }
  return {
    async publish(event) {
      opts.onChange(event);
      if (!publisher) return;
      try {
        await publisher.publish(channel, JSON.stringify({ node, ...event }));
      } catch (err) {
        // The change is committed; other nodes fall back to the cache TTL.
        logger.error({ err, ...event }, 'user invalidation not published; other nodes converge within the cache TTL');
      }
    },
    async close() {
      if (subscriber) await subscriber.quit().catch((err: unknown) => logger.warn({ err }, 'user events subscriber close failed'));
    },
  };
}
