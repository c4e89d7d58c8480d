import { socketEvent, type NamespaceSpec } from '../../transport/socket/namespace.js';
import type { TournamentService, Viewer } from './tournaments.service.js';
import { LeaderboardPage, LeaderboardUpdate, LeaderboardWatchPayload, MatchupResponse, VotePayload, VoteResult } from './tournaments.schemas.js';
import { z } from 'zod';

/** Room on `/tournament` whose members get `leaderboard:update`; with the Redis adapter it spans nodes. */
export const LEADERBOARD_ROOM = 'leaderboard';
export const TOURNAMENT_NAMESPACE = '/tournament';

export interface TournamentNamespaceDeps {
  service: TournamentService;
}

/**
 * `/tournament` (users and guests): quick matchups, votes and the live leaderboard. Live events add their
 * events and pushes to the returned spec (events.namespace.ts) before the app mounts it.
 *
 * @example
 * const spec = tournamentNamespace({ service });
 * spec.events.push(...eventSocketEvents(deps).events);
 */
export function tournamentNamespace(deps: TournamentNamespaceDeps): NamespaceSpec {
  const { service } = deps;
  return {
    name: TOURNAMENT_NAMESPACE,
    access: 'actor',
    summary: 'Quick matchups and votes, the live leaderboard, live bracket events',
    events: [
      socketEvent({
        event: 'match:next',
        summary: 'The next quick matchup for this viewer: two opted-in images, signed; guests may fetch, only users vote',
        schema: z.strictObject({}),
        reply: MatchupResponse,
        handler: async (_payload, { actor, em }) => ({ matchup: await service.nextMatchup(em, actor as Viewer) }),
      }),
      socketEvent({
        event: 'match:vote',
        summary: 'Vote on a matchup from match:next (one vote per user per matchup; guests get account_required)',
        schema: VotePayload,
        reply: VoteResult,
        handler: async ({ matchupToken, winnerId }, { actor, em }) => service.vote(em, actor as Viewer, { token: matchupToken, winnerId }),
      }),
      socketEvent({
        event: 'leaderboard:watch',
        summary: 'Acks the first leaderboard page, then pushes leaderboard:update (at most about one per window per node) as ratings move',
        schema: LeaderboardWatchPayload,
        reply: LeaderboardPage,
        handler: async ({ limit, sort }, { socket, em }) => {
          // Join before reading: a change committed in between is pushed rather than lost.
          await socket.join(LEADERBOARD_ROOM);
          return service.leaderboard(em, { limit, sort });
        },
      }),
      socketEvent({
        event: 'leaderboard:unwatch',
        summary: 'Stop leaderboard:update pushes (not an error when not watching)',
        schema: z.strictObject({}),
        handler: async (_payload, { socket }) => {
          await socket.leave(LEADERBOARD_ROOM);
          return { watching: false };
        },
      }),
    ],
    pushes: [{ event: 'leaderboard:update', summary: 'Live ratings moved (reason vote: the changed images) or a Bradley-Terry fit ran (reason fit: refetch)', schema: LeaderboardUpdate }],
  };
}
