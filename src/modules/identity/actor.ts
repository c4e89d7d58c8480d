/** Who is calling: the result of authenticating a bearer token, for HTTP routes and sockets alike. */
export type Actor =
  | { kind: 'user'; userId: number; role: 'user' | 'admin'; tokenId: string; expiresAt: number }
  | { kind: 'guest'; guestId: string; tokenId: string; expiresAt: number }
  | { kind: 'worker'; workerId: string; tokenId: string; expiresAt: number };

export type UserActor = Extract<Actor, { kind: 'user' }>;

/** Stable room/limit key for an actor. */
export function actorKey(actor: Actor): string {
  switch (actor.kind) {
    case 'user':
      return `user:${actor.userId}`;
    case 'guest':
      return `guest:${actor.guestId}`;
    case 'worker':
      return `worker:${actor.workerId}`;
  }
}
