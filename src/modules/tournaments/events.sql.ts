import type { EntityManager } from '../../platform/db/orm.js';
import { roundName } from './bracket.js';
import type { EventDto, EventStatus, EventSummary, MatchupDto } from './events.schemas.js';

/** Reads shared by the service (HTTP, join) and the clock (pushes), so every view of an event agrees. */

export type UrlFor = (sha256: string, variant?: 'original' | 'thumb' | 'webp') => string;

export interface EventRow {
  id: number;
  name: string;
  status: EventStatus;
  entrants: number;
  selection: 'top' | 'random' | 'list';
  window_ms: number;
  grace_ms: number;
  sealed: boolean;
  seq: string | number;
  champion_id: number | null;
  created_at: Date | string;
  started_at: Date | string | null;
  finished_at: Date | string | null;
}

/** How a matchup was decided: bracket.ts's rule, or a walkover when one side's image is gone. */
export type Decision = 'votes' | 'rating' | 'seed' | 'walkover';

export interface MatchupRow {
  id: number;
  round: number;
  slot: number;
  status: 'pending' | 'open' | 'closed';
  left_id: number | null;
  right_id: number | null;
  opens_at: Date | string | null;
  closes_at: Date | string | null;
  left_votes: number;
  right_votes: number;
  winner_id: number | null;
  decided_by: Decision | null;
}

export interface ImageRow {
  id: number;
  user_id: number;
  prompt: string;
  media_sha256: string;
}

export const EVENT_COLUMNS = `id, name, status, entrants, selection, window_ms, grace_ms, sealed, seq, champion_id, created_at, started_at, finished_at`;
export const MATCHUP_COLUMNS = `id, round, slot, status, left_id, right_id, opens_at, closes_at, left_votes, right_votes, winner_id, decided_by`;

export function iso(value: Date | string): string;
export function iso(value: Date | string | null): string | null;
export function iso(value: Date | string | null): string | null {
  if (value === null) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

export function toSummary(row: EventRow): EventSummary {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    entrants: row.entrants,
    selection: row.selection,
    window_ms: row.window_ms,
    grace_ms: row.grace_ms,
    sealed: row.sealed,
    seq: Number(row.seq),
    champion_id: row.champion_id,
    created_at: iso(row.created_at),
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
  };
}

/** `hideOpen`: a sealed event shows no counts for a matchup still open. */
export function toMatchup(row: MatchupRow, entrants: number, hideOpen: boolean): MatchupDto {
  const hidden = hideOpen && row.status !== 'closed';
  return {
    id: row.id,
    round: row.round,
    slot: row.slot,
    round_name: roundName(entrants, row.round),
    status: row.status,
    left_id: row.left_id,
    right_id: row.right_id,
    opens_at: iso(row.opens_at),
    closes_at: iso(row.closes_at),
    left_votes: hidden ? null : row.left_votes,
    right_votes: hidden ? null : row.right_votes,
    winner_id: row.winner_id,
    decided_by: row.decided_by,
  };
}

export function toImage(row: ImageRow, urlFor: UrlFor) {
  return { id: row.id, owner_id: row.user_id, prompt: row.prompt, media_sha256: row.media_sha256, thumb_url: urlFor(row.media_sha256, 'thumb'), url: urlFor(row.media_sha256, 'webp') };
}

/** Live counts of a matchup from its votes (the row's counters are written when it closes). */
export const TALLY_SQL = `select count(*) filter (where side = 'left')::int as left_votes, count(*) filter (where side = 'right')::int as right_votes
  from event_votes where matchup_id = ?`;

export async function tally(em: EntityManager, matchupId: number): Promise<{ left_votes: number; right_votes: number }> {
  const [row] = await em.execute<{ left_votes: number; right_votes: number }[]>(TALLY_SQL, [matchupId]);
  return row ?? { left_votes: 0, right_votes: 0 };
}

export async function loadEventRow(em: EntityManager, id: number): Promise<EventRow | null> {
  const [row] = await em.execute<EventRow[]>(`select ${EVENT_COLUMNS} from events where id = ?`, [id]);
  return row ?? null;
}

/** The whole bracket as anyone sees it now: an open matchup's counts are live unless the event is sealed. */
export async function loadEventDto(em: EntityManager, event: EventRow, urlFor: UrlFor): Promise<EventDto> {
  const [matchups, entries, [clock]] = await Promise.all([
    em.execute<MatchupRow[]>(`select ${MATCHUP_COLUMNS} from event_matchups where event_id = ? order by round, slot`, [event.id]),
    em.execute<(ImageRow & { seed: number })[]>(
      `select e.seed, i.id, i.user_id, i.prompt, i.media_sha256 from event_entries e join images i on i.id = e.image_id where e.event_id = ? order by e.seed`,
      [event.id],
    ),
    em.execute<{ now: Date | string }[]>('select now() as now'),
  ]);
  const open = matchups.find((m) => m.status === 'open') ?? null;
  if (open && !event.sealed) Object.assign(open, await tally(em, open.id));
  return {
    ...toSummary(event),
    entries: entries.map((e) => ({ seed: e.seed, image: toImage(e, urlFor) })),
    matchups: matchups.map((m) => toMatchup(m, event.entrants, event.sealed)),
    current_matchup_id: open?.id ?? null,
    server_now: iso(clock!.now),
  };
}

export async function loadImages(em: EntityManager, ids: number[]): Promise<Map<number, ImageRow>> {
  const rows = await em.execute<ImageRow[]>(`select id, user_id, prompt, media_sha256 from images where id = any(?::int[])`, [`{${ids.join(',')}}`]);
  return new Map(rows.map((r) => [r.id, r]));
}
