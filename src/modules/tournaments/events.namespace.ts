import { AppError, ForbiddenError } from '../../platform/errors.js';
import { socketEvent, type PushSpec, type SocketEventSpec } from '../../transport/socket/namespace.js';
import { EventJoinAck, EventJoinPayload, EventLeavePayload, EventVoteAck, EventVotePayload, FinishedPush, MatchupPush, ResultPush, TallyPush } from './events.schemas.js';
import type { EventsService } from './events.service.js';
import type { VoteBatcher } from './events.votes.js';

/** Room on `/tournament` whose members get one event's pushes; with the Redis adapter it spans nodes. */
export function eventRoom(eventId: number): string {
  return `event:${eventId}`;
}

/** Events one socket may follow at once (each room is an adapter subscription). */
export const MAX_JOINED_EVENTS = 10;

export interface EventSocketDeps {
  events: EventsService;
  votes: VoteBatcher;
}

/** Live-event events the app adds to the `/tournament` namespace next to quick matchups. */
export function eventSocketEvents(deps: EventSocketDeps): { events: SocketEventSpec[]; pushes: PushSpec[] } {
  return {
    events: [
      socketEvent({
        event: 'event:join',
        summary: 'Follow a live event: acks the full state (bracket, current matchup, server time, tallies unless sealed, your vote) and, with `since`, every push after it or `recovered: false`',
        schema: EventJoinPayload,
        reply: EventJoinAck,
        handler: async ({ eventId, since }, { socket, actor, em }) => {
          const room = eventRoom(eventId);
          const joined = socket.rooms.has(room);
          if (!joined && [...socket.rooms].filter((r) => r.startsWith('event:')).length >= MAX_JOINED_EVENTS) {
            throw new AppError(429, 'too_many_events', `a socket may follow at most ${MAX_JOINED_EVENTS} events`);
          }
          // Join before reading: a push made in between then arrives too, and its seq tells which is newer.
          await socket.join(room);
          try {
            return await deps.events.joinState(em, eventId, actor.kind === 'user' ? actor.userId : null, since);
          } catch (err) {
            if (!joined) await socket.leave(room);
            throw err;
          }
        },
      }),
      socketEvent({
        event: 'event:leave',
        summary: 'Stop following an event (not an error if not followed)',
        schema: EventLeavePayload,
        handler: async ({ eventId }, { socket }) => {
          await socket.leave(eventRoom(eventId));
          return { eventId };
        },
      }),
      socketEvent({
        event: 'event:vote',
        summary: "Vote in the open matchup: choice 'left' | 'right' or one of its two image ids; one vote per user per matchup (a repeat acks counted: false and the first vote stands)",
        schema: EventVotePayload,
        reply: EventVoteAck,
        handler: async (input, { actor }) => {
          if (actor.kind !== 'user') throw new ForbiddenError('voting needs an account; guests can watch', 'account_required');
          return deps.votes.vote(actor.userId, input);
        },
      }),
    ],
    pushes: [
      { event: 'event:matchup', summary: 'A matchup opened: both images, closes_at (server time) and grace', schema: MatchupPush },
      { event: 'event:tally', summary: 'Live counts of the open matchup, at most a few per second per event; never for sealed events', schema: TallyPush },
      { event: 'event:result', summary: 'A matchup closed: counts, winner, how it was decided, where the winner plays next', schema: ResultPush },
      { event: 'event:finished', summary: 'The event ended: champion and the full bracket', schema: FinishedPush },
    ],
  };
}
