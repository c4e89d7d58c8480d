import { json, route, type AnyRoute } from '../../transport/http/types.js';
import { LeaderboardPage, LeaderboardQuery, MatchupResponse, VoteBody, VoteResult } from './tournaments.schemas.js';
import type { TournamentService } from './tournaments.service.js';

const tags = ['tournaments'];

export function tournamentRoutes(service: TournamentService): AnyRoute[] {
  return [
    route({
      method: 'GET',
      path: '/api/v1/tournaments/match',
      summary: 'Next quick matchup: two active opted-in images of different owners, never your own, signed for you (users and guests)',
      tags,
      auth: 'actor',
      responses: { 200: MatchupResponse },
      handler: async ({ actor, em }) => json({ matchup: await service.nextMatchup(em, actor) }, 200, { 'cache-control': 'no-store' }),
    }),
    route({
      method: 'POST',
      path: '/api/v1/tournaments/vote',
      summary: 'Vote on a matchup: one vote per user per matchup (a retry answers counted false); guests get 403 account_required',
      tags,
      auth: 'actor',
      body: VoteBody,
      responses: { 200: VoteResult },
      handler: async ({ actor, em, body }) => json(await service.vote(em, actor, { token: body.matchup_token, winnerId: body.winner_id })),
    }),
    route({
      method: 'GET',
      path: '/api/v1/leaderboard',
      summary: 'Rated images with rank, rating, 95% interval, live rating, wins, losses, win rate, championships, votes and the preliminary flag (cursor pagination)',
      tags,
      auth: 'optional',
      query: LeaderboardQuery,
      responses: { 200: LeaderboardPage },
      handler: async ({ em, query }) => json(await service.leaderboard(em, query)),
    }),
  ];
}
