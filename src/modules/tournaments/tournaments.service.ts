import type { EntityManager } from '../../platform/db/orm.js';
import { AppError, BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../../platform/errors.js';
import { actorKey, type Actor } from '../identity/actor.js';
import { pickPair, type PairingCandidate } from './pairing.js';
import type { Random } from './random.js';
import { leaderboardPage, SUMMARY_COLUMNS, SUMMARY_FROM, toSummary, tournamentStats, type SummaryRow, type UrlFor } from './tournaments.leaderboard.js';
import type { MatchupTokens } from './tournaments.matchup-token.js';
import { applyGame, intArray, withDeadlockRetry, type LockedRating } from './tournaments.ratings.js';
import type { LeaderboardQuery, LiveRatingDto, MatchupDto, VoteInput, VoteResultDto } from './tournaments.schemas.js';

export interface TournamentServiceDeps {
  tokens: MatchupTokens;
  urlFor: UrlFor;
  /** How long a node reuses its list of eligible images; 0 reads it for every matchup. */
  candidateCacheMs: number;
  /** After a counted vote commits; the app throttles these into `leaderboard:update`. */
  onRatingsChanged: (rows: LiveRatingDto[]) => void;
  random?: Random;
  now?: () => number;
}

export type TournamentService = ReturnType<typeof createTournamentService>;

/** Users and guests see matchups; only users vote. */
export type Viewer = Extract<Actor, { kind: 'user' | 'guest' }>;

type CandidateRow = SummaryRow & { rating: number; rd: number };
interface Candidates {
  at: number;
  pool: PairingCandidate[];
  rows: Map<string, CandidateRow>;
}

/** A user is not shown a pair they voted on among their last this many votes (while other pairs remain). */
const RECENT_PAIRS = 200;

/**
 * The vote in one statement: checks both images are active and not the voter's, inserts the vote unless
 * this user already voted on this matchup (the unique key decides, also under concurrency), and only when
 * it inserted, creates and locks both rating rows (tournaments.ratings.ts LOCK_RATINGS, inlined).
 * `?`s: pair, user, matchup id, user, winner, loser, side, elapsed ms, sorted pair, user.
 */
const VOTE_SQL = `
  with img as (select id, user_id, active from images where id = any(?::int[])),
  ok as (select 1 where (select count(*) from img where active) = 2 and not exists (select 1 from img where user_id = ?)),
  v as (
    insert into votes (matchup_id, user_id, winner_id, loser_id, winner_side, elapsed_ms)
    select ?::uuid, ?::int, ?::int, ?::int, ?, ?::int from ok
    on conflict (user_id, matchup_id) do nothing
    returning id),
  r as (
    insert into image_ratings (image_id) select x from unnest(?::int[]) x where exists (select 1 from v) order by x
    on conflict (image_id) do update set updated_at = image_ratings.updated_at
    returning image_id, rating, rd, vol, greatest(0, extract(epoch from clock_timestamp() - updated_at))::float8 as idle_s)
  select (select count(*)::int from img where active) as active,
         exists (select 1 from img where user_id = ?) as own,
         exists (select 1 from v) as inserted,
         coalesce((select json_agg(r) from r), '[]'::json) as ratings`;

interface VoteRow {
  active: number;
  own: boolean;
  inserted: boolean;
  ratings: LockedRating[];
}

export function createTournamentService(deps: TournamentServiceDeps) {
  const random = deps.random ?? Math.random;
  const now = deps.now ?? Date.now;
  let cache: Candidates | null = null;
  let loading: Promise<Candidates> | null = null;

  async function loadCandidates(em: EntityManager): Promise<Candidates> {
    const rows = await em.execute<CandidateRow[]>(
      `select ${SUMMARY_COLUMNS}, coalesce(r.rating, 1500) as rating, coalesce(r.rd, 350) as rd
       from ${SUMMARY_FROM} left join image_ratings r on r.image_id = i.id
       where i.active and i.tournament_opt_in`,
    );
    const byId = new Map(rows.map((row) => [String(row.id), row]));
    const pool = rows.map((row): PairingCandidate => ({ id: String(row.id), ownerId: String(row.user_id), rating: row.rating, rd: row.rd }));
    return { at: now(), pool, rows: byId };
  }

  /** Per node, refreshed at most once per `candidateCacheMs`; concurrent callers share one query. */
  async function candidates(em: EntityManager): Promise<Candidates> {
    if (cache && now() - cache.at < deps.candidateCacheMs) return cache;
    loading ??= loadCandidates(em).finally(() => {
      loading = null;
    });
    cache = await loading;
    return cache;
  }

  async function recentPairs(em: EntityManager, userId: number): Promise<Set<string>> {
    const rows = await em.execute<{ winner_id: number; loser_id: number }[]>('select winner_id, loser_id from votes where user_id = ? order by id desc limit ?', [userId, RECENT_PAIRS]);
    return new Set(rows.map((r) => pairKey(String(r.winner_id), String(r.loser_id))));
  }

  async function castVote(em: EntityManager, userId: number, vote: { matchupId: string; pair: [number, number]; winnerId: number; loserId: number; side: 'left' | 'right'; elapsedMs: number }) {
    const sorted = [...vote.pair].sort((a, b) => a - b);
    return withDeadlockRetry(em, async (tx) => {
      const [row] = await tx.execute<VoteRow[]>(VOTE_SQL, [intArray(vote.pair), userId, vote.matchupId, userId, vote.winnerId, vote.loserId, vote.side, vote.elapsedMs, intArray(sorted), userId]);
      if (!row || row.active < 2) throw new AppError(410, 'matchup_image_gone', 'an image in this matchup was deleted; fetch a new matchup');
      if (row.own) throw new ForbiddenError('you cannot vote on a matchup that shows your own image', 'own_image');
      if (!row.inserted) return null;
      return applyGame(tx, row.ratings, vote.winnerId, vote.loserId, 'quick');
    });
  }

  return {
    /** Two active opted-in images of different owners, neither the viewer's, drawn towards uncertain and close ratings. */
    async nextMatchup(em: EntityManager, viewer: Viewer): Promise<MatchupDto> {
      const userId = viewer.kind === 'user' ? viewer.userId : null;
      const { pool, rows } = await candidates(em);
      const recent = userId !== null ? await recentPairs(em, userId) : null;
      const owner = userId !== null ? String(userId) : null;
      let pick = recent?.size ? pickPair(pool, owner, { random, exclude: (a, b) => recent.has(pairKey(a, b)) }) : null;
      // Seen every pair lately (a small pool): repeating one beats showing nothing.
      pick ??= pickPair(pool, owner, { random });
      if (!pick) throw new NotFoundError('not enough opted-in images from different owners for a matchup', 'no_matchup');
      const left = rows.get(pick.left.id)!;
      const right = rows.get(pick.right.id)!;
      const { token, claims } = await deps.tokens.issue({ leftId: left.id, rightId: right.id, viewer: actorKey(viewer) });
      return {
        matchup_id: claims.matchupId,
        matchup_token: token,
        expires_at: new Date(claims.expiresAt * 1000).toISOString(),
        left: toSummary(left, deps.urlFor),
        right: toSummary(right, deps.urlFor),
      };
    },

    /**
     * One vote per user per matchup. A retry of the same vote answers `counted: false`; a different
     * winner on an already voted matchup is 409. Authorization is here, not in the transports.
     */
    async vote(em: EntityManager, viewer: Viewer, input: VoteInput): Promise<VoteResultDto> {
      if (viewer.kind !== 'user') throw new ForbiddenError('voting needs an account: register or sign in', 'account_required');
      const claims = await deps.tokens.verify(input.token);
      if (claims.viewer !== actorKey(viewer)) throw new ForbiddenError('this matchup was issued to someone else', 'matchup_not_yours');
      if (input.winnerId !== claims.leftId && input.winnerId !== claims.rightId) {
        throw new BadRequestError(`winner ${input.winnerId} is not one of this matchup's images (${claims.leftId}, ${claims.rightId})`, 'winner_not_in_matchup');
      }
      const side: 'left' | 'right' = input.winnerId === claims.leftId ? 'left' : 'right';
      const loserId = side === 'left' ? claims.rightId : claims.leftId;
      const elapsedMs = Math.min(2_147_483_647, Math.max(0, Math.round(now() - claims.issuedAtMs)));
      const vote = { matchupId: claims.matchupId, pair: [claims.leftId, claims.rightId] as [number, number], winnerId: input.winnerId, loserId, side, elapsedMs } as const;
      const base = { matchup_id: claims.matchupId, winner_id: input.winnerId, loser_id: loserId, winner_side: side };
      // Twice at most: an existing vote that is not there after all belonged to a transaction that rolled back.
      for (let attempt = 0; attempt < 2; attempt++) {
        const game = await castVote(em, viewer.userId, vote);
        if (game) {
          deps.onRatingsChanged([game.winner, game.loser]);
          return { counted: true, ...base, elapsed_ms: elapsedMs, ...game };
        }
        const [prior] = await em.execute<{ winner_id: number; elapsed_ms: number }[]>('select winner_id, elapsed_ms from votes where user_id = ? and matchup_id = ?', [viewer.userId, claims.matchupId]);
        if (!prior) continue;
        if (prior.winner_id !== input.winnerId) throw new ConflictError('you already voted on this matchup for the other image', 'already_voted');
        return { counted: false, ...base, elapsed_ms: prior.elapsed_ms, winner: null, loser: null };
      }
      throw new ConflictError('the vote could not be settled; retry', 'vote_conflict');
    },

    leaderboard: (em: EntityManager, q: LeaderboardQuery) => leaderboardPage(em, deps.urlFor, q),
    imageStats: (em: EntityManager, imageId: number) => tournamentStats(em, imageId),
    /** Drops the node's candidate list (tests, and after bulk changes). */
    forgetCandidates(): void {
      cache = null;
    },
  };
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}
