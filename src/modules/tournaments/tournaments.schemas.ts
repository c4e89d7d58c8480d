import { z } from 'zod';

/**
 * Quick matchups, votes and the leaderboard. Resource bodies are snake_case like the rest of the HTTP API;
 * socket event arguments are camelCase as DESIGN.md names them (`match:vote {matchupToken, winnerId}`).
 */

const Id = z.int().positive().max(2_147_483_647);
const Token = z.string().min(1).max(2048);

export const ImageSummary = z.object({
  id: z.int(),
  owner: z.object({ id: z.int(), username: z.string() }),
  prompt: z.string(),
  model_name: z.string().nullable(),
  media: z.object({ sha256: z.string(), width: z.int().nullable(), height: z.int().nullable() }),
  urls: z.object({ original: z.string(), thumb: z.string(), webp: z.string() }),
});
export type ImageSummaryDto = z.output<typeof ImageSummary>;

export const Matchup = z.object({
  matchup_id: z.uuid(),
  matchup_token: z.string().describe('send back unchanged with the vote; binds this pair, this viewer and the expiry'),
  expires_at: z.string().describe('ISO time after which a vote on this matchup is refused (matchup_expired)'),
  left: ImageSummary,
  right: ImageSummary,
});
export const MatchupResponse = z.object({ matchup: Matchup });
export type MatchupDto = z.output<typeof Matchup>;

/** `POST /tournaments/vote`. */
export const VoteBody = z.strictObject({ matchup_token: Token, winner_id: Id });
/** `match:vote` on `/tournament`. */
export const VotePayload = z.strictObject({ matchupToken: Token, winnerId: Id });
export type VoteInput = { token: string; winnerId: number };

/** Live (Glicko-2) numbers of one image after a game; pushed in `leaderboard:update`. */
export const LiveRating = z.object({
  image_id: z.int(),
  rating: z.number(),
  rd: z.number(),
  wins: z.int(),
  losses: z.int(),
  votes: z.int(),
  championships: z.int(),
  events_played: z.int(),
  games: z.int().describe('wins + losses: only grows; of two updates for one image keep the one with more games'),
});
export type LiveRatingDto = z.output<typeof LiveRating>;

export const VoteResult = z.object({
  counted: z.boolean().describe('false when this user had already cast the same vote on this matchup (a retry): nothing changed'),
  matchup_id: z.uuid(),
  winner_id: z.int(),
  loser_id: z.int(),
  winner_side: z.enum(['left', 'right']),
  elapsed_ms: z.int().describe('time from the matchup being issued to this vote'),
  winner: LiveRating.nullable(),
  loser: LiveRating.nullable(),
});
export type VoteResultDto = z.output<typeof VoteResult>;

export const LEADERBOARD_SORTS = ['canonical', 'live'] as const;
export type LeaderboardSort = (typeof LEADERBOARD_SORTS)[number];

const LeaderboardOptions = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional(),
  sort: z
    .enum(LEADERBOARD_SORTS)
    .default('canonical')
    .describe('canonical: ranked images by Bradley-Terry rating first, preliminary ones after; live: by Glicko-2 rating'),
};
export const LeaderboardQuery = z.strictObject(LeaderboardOptions);
export type LeaderboardQuery = z.output<typeof LeaderboardQuery>;

export const LeaderboardItem = z.object({
  rank: z.int().nullable().describe('tied rank from the last Bradley-Terry fit (images whose 95% intervals overlap share one); null while preliminary'),
  rating: z.number().nullable().describe('Bradley-Terry rating on the Glicko display scale (1500 + 173.7·β); null before the first fit that saw the image'),
  interval: z.object({ low: z.number(), high: z.number() }).nullable().describe('bootstrap 95% interval of rating'),
  live: z.object({ rating: z.number(), rd: z.number() }).describe('Glicko-2 rating and deviation, updated on every vote'),
  wins: z.int(),
  losses: z.int(),
  win_rate: z.number().nullable(),
  votes: z.int().describe('quick-matchup votes this image appeared in'),
  championships: z.int(),
  events_played: z.int(),
  championship_rate: z.number().nullable(),
  preliminary: z.boolean().describe('fewer votes than the fit needs to rank it'),
  image: ImageSummary,
});
export type LeaderboardItemDto = z.output<typeof LeaderboardItem>;
export const LeaderboardPage = z.object({ sort: z.enum(LEADERBOARD_SORTS), items: z.array(LeaderboardItem), next_cursor: z.string().nullable() });
export type LeaderboardPageDto = z.output<typeof LeaderboardPage>;

export const LeaderboardWatchPayload = z.strictObject({
  limit: z.int().min(1).max(100).default(20),
  sort: z.enum(LEADERBOARD_SORTS).default('canonical'),
});
export const LeaderboardUpdate = z.object({
  reason: z.enum(['vote', 'fit']).describe('vote: live numbers of the images in items moved; fit: a new Bradley-Terry fit ran, refetch the page'),
  items: z.array(LiveRating),
});
export type LeaderboardUpdateDto = z.output<typeof LeaderboardUpdate>;

/** The `tournament` part of `GET /images/{id}/stats`. */
export const TournamentStats = z.object({
  rated: z.boolean().describe('false: the image has played no game yet (the numbers are the unrated defaults)'),
  rating: z.number(),
  rd: z.number(),
  wins: z.int(),
  losses: z.int(),
  win_rate: z.number().nullable(),
  votes: z.int(),
  championships: z.int(),
  events_played: z.int(),
  championship_rate: z.number().nullable(),
  canonical: z.object({ rating: z.number(), low: z.number(), high: z.number(), rank: z.int().nullable() }).nullable(),
  preliminary: z.boolean(),
});
export type TournamentStatsDto = z.output<typeof TournamentStats>;
