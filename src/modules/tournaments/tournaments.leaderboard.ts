import { z } from 'zod';
import type { EntityManager } from '../../platform/db/orm.js';
import { cursorCodec } from '../../platform/cursor.js';
import { BadRequestError } from '../../platform/errors.js';
import type { ImageSummaryDto, LeaderboardItemDto, LeaderboardPageDto, LeaderboardQuery, LeaderboardSort, TournamentStatsDto } from './tournaments.schemas.js';

export type UrlFor = (sha256: string, variant?: 'original' | 'thumb' | 'webp') => string;

/** The image part of matchups and leaderboard rows: enough to show it, nothing viewer-specific. */
export const SUMMARY_COLUMNS = `i.id, i.user_id, u.username, i.prompt, i.model_name, i.media_sha256, m.width, m.height`;
export const SUMMARY_FROM = `images i join users u on u.id = i.user_id left join media m on m.sha256 = i.media_sha256`;

export interface SummaryRow {
  id: number;
  user_id: number;
  username: string;
  prompt: string;
  model_name: string | null;
  media_sha256: string;
  width: number | null;
  height: number | null;
}

export function toSummary(row: SummaryRow, urlFor: UrlFor): ImageSummaryDto {
  return {
    id: row.id,
    owner: { id: row.user_id, username: row.username },
    prompt: row.prompt,
    model_name: row.model_name,
    media: { sha256: row.media_sha256, width: row.width, height: row.height },
    urls: { original: urlFor(row.media_sha256, 'original'), thumb: urlFor(row.media_sha256, 'thumb'), webp: urlFor(row.media_sha256, 'webp') },
  };
}

interface RatingRow {
  rating: number;
  rd: number;
  wins: number;
  losses: number;
  votes: number;
  championships: number;
  events_played: number;
  bt_rating: number | null;
  bt_low: number | null;
  bt_high: number | null;
  bt_rank: number | null;
  preliminary: boolean;
}
type BoardRow = SummaryRow & RatingRow & { sort_key: number };

const RATING_COLUMNS = `r.rating, r.rd, r.wins, r.losses, r.votes, r.championships, r.events_played, r.bt_rating, r.bt_low, r.bt_high, r.bt_rank, r.preliminary`;

/**
 * Keyset orders. canonical: ranked (non-preliminary) images first, then by the fitted rating (the live
 * one until a fit has seen the image), then id. live: by Glicko-2 rating, then id. Each is one ascending
 * row comparison, so the cursor is (preliminary, -key, id).
 */
const SORT_KEY: Record<LeaderboardSort, string> = {
  canonical: 'coalesce(r.bt_rating, r.rating)',
  live: 'r.rating',
};

const Cursor = z.strictObject({ v: z.literal(1), s: z.enum(['canonical', 'live']), p: z.boolean(), k: z.number(), id: z.int().positive().max(2_147_483_647) });
const codec = cursorCodec(Cursor);

const rate = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);

function toItem(row: BoardRow, urlFor: UrlFor): LeaderboardItemDto {
  const games = row.wins + row.losses;
  return {
    rank: row.preliminary ? null : row.bt_rank,
    rating: row.bt_rating,
    interval: row.bt_low !== null && row.bt_high !== null ? { low: row.bt_low, high: row.bt_high } : null,
    live: { rating: row.rating, rd: row.rd },
    wins: row.wins,
    losses: row.losses,
    win_rate: rate(row.wins, games),
    votes: row.votes,
    championships: row.championships,
    events_played: row.events_played,
    championship_rate: rate(row.championships, row.events_played),
    preliminary: row.preliminary,
    image: toSummary(row, urlFor),
  };
}

/** Active, opted-in, rated images; an image that opts out or is deleted leaves the board (its history stays). */
export async function leaderboardPage(em: EntityManager, urlFor: UrlFor, q: LeaderboardQuery): Promise<LeaderboardPageDto> {
  const key = SORT_KEY[q.sort];
  const prelim = q.sort === 'canonical' ? 'r.preliminary' : 'false';
  const where = ['i.active', 'i.tournament_opt_in'];
  const params: unknown[] = [];
  if (q.cursor) {
    const after = codec.decode(q.cursor);
    // A cursor from the other order would skip or repeat rows: treat it as forged.
    if (after.s !== q.sort) throw new BadRequestError(`cursor belongs to sort=${after.s}`, 'invalid_cursor');
    where.push(`(${prelim}, -(${key}), r.image_id) > (?::boolean, ?::float8, ?::int)`);
    params.push(after.p, -after.k, after.id);
  }
  params.push(q.limit + 1);
  const rows = await em.execute<BoardRow[]>(
    `select ${SUMMARY_COLUMNS}, ${RATING_COLUMNS}, ${key} as sort_key
     from image_ratings r join ${SUMMARY_FROM} on i.id = r.image_id
     where ${where.join(' and ')}
     order by ${q.sort === 'canonical' ? 'r.preliminary, ' : ''}${key} desc, r.image_id
     limit ?`,
    params,
  );
  const more = rows.length > q.limit;
  const page = more ? rows.slice(0, q.limit) : rows;
  const last = page[page.length - 1];
  return {
    sort: q.sort,
    items: page.map((r) => toItem(r, urlFor)),
    next_cursor: more && last ? codec.encode({ v: 1, s: q.sort, p: q.sort === 'canonical' && last.preliminary, k: last.sort_key, id: last.id }) : null,
  };
}

/** The `tournament` part of an image's stats; an image with no row yet reads as unrated. */
export async function tournamentStats(em: EntityManager, imageId: number): Promise<TournamentStatsDto> {
  const [row] = await em.execute<RatingRow[]>(`select ${RATING_COLUMNS} from image_ratings r where r.image_id = ?`, [imageId]);
  const r: RatingRow = row ?? { rating: 1500, rd: 350, wins: 0, losses: 0, votes: 0, championships: 0, events_played: 0, bt_rating: null, bt_low: null, bt_high: null, bt_rank: null, preliminary: true };
  return {
    rated: row !== undefined,
    rating: r.rating,
    rd: r.rd,
    wins: r.wins,
    losses: r.losses,
    win_rate: rate(r.wins, r.wins + r.losses),
    votes: r.votes,
    championships: r.championships,
    events_played: r.events_played,
    championship_rate: rate(r.championships, r.events_played),
    canonical: r.bt_rating !== null && r.bt_low !== null && r.bt_high !== null ? { rating: r.bt_rating, low: r.bt_low, high: r.bt_high, rank: r.preliminary ? null : r.bt_rank } : null,
    preliminary: r.preliminary,
  };
}
