import { DeadlockException } from '@mikro-orm/core';
import type { EntityManager } from '../../platform/db/orm.js';
import { inflateRd, rateVote, type Glicko2Rating } from './glicko2.js';
import type { LiveRatingDto } from './tournaments.schemas.js';

/**
 * The live tier in the database: one Glicko-2 update per game (glicko2.ts rateVote) applied to
 * `image_ratings` under both rows' locks, so concurrent games on one image never lose an update.
 * Shared by quick votes (tournaments.service.ts) and live events (recordResult).
 */

/** A locked image_ratings row, as the upsert in {@link LOCK_RATINGS} returns it. */
export interface LockedRating {
  image_id: number;
  rating: number;
  rd: number;
  vol: number;
  /** Seconds since the row last changed: RD grows with it (Glicko-2's inactivity step). */
  idle_s: number;
}

/**
 * One Glicko-2 rating period of inactivity. Each game is rated as its own period (so new images settle
 * fast), and an image nobody voted on for a day gets one period's worth of RD back: its rating is less
 * certain, so the next games move it more and the pair sampler shows it more often.
 */
export const IDLE_PERIOD_SECONDS = 86_400;

export type GameSource = 'quick' | 'event';

/**
 * Creates missing rows and locks both, in one statement. `on conflict do update` takes the row lock and
 * returns the latest committed values (a plain select in this snapshot might not). Rows are locked in
 * id order, so two games on the same pair in opposite orders queue instead of deadlocking.
 * `?` 1 is the two image ids as an int[] literal.
 */
export const LOCK_RATINGS = `
  insert into image_ratings (image_id) select x from unnest(?::int[]) x order by x
  on conflict (image_id) do update set updated_at = image_ratings.updated_at
  returning image_id, rating, rd, vol, greatest(0, extract(epoch from clock_timestamp() - updated_at))::float8 as idle_s`;

const LIVE_COLUMNS = `image_id, rating, rd, wins, losses, votes, championships, events_played, (wins + losses) as games`;

/** The update after a game; `?`s: per image (id, rating, rd, vol, won 0/1, lost 0/1) twice, then the vote increment. */
const WRITE_RATINGS = `
  update image_ratings r set rating = v.rating, rd = v.rd, vol = v.vol,
    wins = r.wins + v.won, losses = r.losses + v.lost, votes = r.votes + ?::int, updated_at = clock_timestamp()
  from (values (?::int, ?::float8, ?::float8, ?::float8, ?::int, ?::int), (?::int, ?::float8, ?::float8, ?::float8, ?::int, ?::int))
    as v(id, rating, rd, vol, won, lost)
  where r.image_id = v.id
  returning r.image_id, r.rating, r.rd, r.wins, r.losses, r.votes, r.championships, r.events_played, (r.wins + r.losses) as games`;

export const intArray = (ids: readonly number[]): string => `{${ids.map((id) => Math.trunc(id)).join(',')}}`;

const glicko = (row: LockedRating): Glicko2Rating => {
  const current = { rating: row.rating, rd: row.rd, volatility: row.vol };
  return row.idle_s > 0 ? inflateRd(current, row.idle_s / IDLE_PERIOD_SECONDS) : current;
};

/**
 * Applies one game to two locked rows; call inside the transaction that locked them. Returns the
 * winner's and the loser's new live numbers.
 */
export async function applyGame(tx: EntityManager, locked: readonly LockedRating[], winnerId: number, loserId: number, source: GameSource): Promise<{ winner: LiveRatingDto; loser: LiveRatingDto }> {
  const w = locked.find((r) => r.image_id === winnerId);
  const l = locked.find((r) => r.image_id === loserId);
  if (!w || !l) throw new Error(`ratings of images ${winnerId} and ${loserId} were not locked`);
  const next = rateVote(glicko(w), glicko(l));
  const rows = await tx.execute<LiveRatingDto[]>(WRITE_RATINGS, [
    source === 'quick' ? 1 : 0,
    winnerId, next.winner.rating, next.winner.rd, next.winner.volatility, 1, 0,
    loserId, next.loser.rating, next.loser.rd, next.loser.volatility, 0, 1,
  ]);
  const byId = (id: number) => {
    const row = rows.find((r) => r.image_id === id);
    if (!row) throw new Error(`image_ratings row ${id} vanished under its lock`);
    return row;
  };
  return { winner: byId(winnerId), loser: byId(loserId) };
}

/** Runs `fn` in a transaction, again when PostgreSQL picked it as a deadlock victim (the other one went through). */
export async function withDeadlockRetry<T>(em: EntityManager, fn: (tx: EntityManager) => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await em.transactional(fn);
    } catch (err) {
      if (!(err instanceof DeadlockException) || attempt >= attempts) throw err;
    }
  }
}

/**
 * One decided game outside quick votes (a live event's matchup result): a Glicko-2 update for both
 * images and a win and a loss, in its own transaction (a savepoint inside the caller's). `votes`
 * counts quick votes only, so an event game leaves it alone.
 *
 * @example
 * await recordResult(em, { winnerId: 12, loserId: 40, source: 'event' });
 */
export async function recordResult(conn: EntityManager, game: { winnerId: number; loserId: number; source: GameSource }): Promise<{ winner: LiveRatingDto; loser: LiveRatingDto }> {
  if (game.winnerId === game.loserId) throw new RangeError(`an image cannot beat itself (${game.winnerId})`);
  return withDeadlockRetry(conn, async (tx) => {
    const locked = await tx.execute<LockedRating[]>(LOCK_RATINGS, [intArray([game.winnerId, game.loserId])]);
    return applyGame(tx, locked, game.winnerId, game.loserId, game.source);
  });
}

/**
 * A finished event: every entrant played one more event, the champion won one more championship.
 *
 * @example
 * await recordEventFinished(em, { championId: 12, entrantIds: bracket.entrants });
 */
export async function recordEventFinished(conn: EntityManager, event: { championId: number; entrantIds: readonly number[] }): Promise<void> {
  const ids = [...new Set([...event.entrantIds, event.championId])].sort((a, b) => a - b);
  await conn.execute(
    `insert into image_ratings (image_id, events_played, championships)
     select x, 1, (x = ?)::int from unnest(?::int[]) x order by x
     on conflict (image_id) do update set events_played = image_ratings.events_played + 1,
       championships = image_ratings.championships + excluded.championships, updated_at = clock_timestamp()`,
    [event.championId, intArray(ids)],
  );
}

/** Live numbers of some images (for pushes after a fit or an event). */
export async function liveRatings(conn: EntityManager, ids: readonly number[]): Promise<LiveRatingDto[]> {
  return conn.execute<LiveRatingDto[]>(`select ${LIVE_COLUMNS} from image_ratings where image_id = any(?::int[])`, [intArray(ids)]);
}
