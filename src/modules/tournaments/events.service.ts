import { z } from 'zod';
import type { EntityManager } from '../../platform/db/orm.js';
import { cursorCodec } from '../../platform/cursor.js';
import { AppError, ConflictError, NotFoundError } from '../../platform/errors.js';
import type { UserActor } from '../identity/actor.js';
import { firstRound, playOrder } from './bracket.js';
import type { CreateEventBody, EventDto, EventSummary, ListEventsQuery } from './events.schemas.js';
import { EVENT_COLUMNS, loadEventDto, loadEventRow, toSummary, type EventRow, type UrlFor } from './events.sql.js';
import { replaySince, type StreamEntry } from './events.stream.js';

export interface EventsServiceDeps {
  urlFor: UrlFor;
  defaults: { windowMs: number; graceMs: number };
  /** Called after an event went live, so this node's clock claims it without waiting for its tick. */
  onStarted: (eventId: number) => void;
}

export interface JoinState {
  event: EventDto;
  my_vote: 'left' | 'right' | null;
  recovered: boolean;
  missed: StreamEntry[];
}

export type EventsService = ReturnType<typeof createEventsService>;

const codec = cursorCodec(z.strictObject({ v: z.literal(1), id: z.int().positive().max(2_147_483_647) }));
const missing = (id: number) => new NotFoundError(`event ${id} not found`, 'event_not_found');

/** Entrant picks, best seed first. Only active, opted-in images ever enter an event. */
const PICK_SQL = {
  top: `select i.id from images i left join image_ratings r on r.image_id = i.id
        where i.active and i.tournament_opt_in order by coalesce(r.rating, 1500) desc, i.id limit ?`,
  random: `select i.id from images i where i.active and i.tournament_opt_in order by random() limit ?`,
} as const;

export function createEventsService(deps: EventsServiceDeps) {
  async function pick(tx: EntityManager, body: CreateEventBody): Promise<number[]> {
    if (body.selection === 'list') {
      const ids = body.image_ids!;
      const rows = await tx.execute<{ id: number }[]>(`select id from images where id = any(?::int[]) and active and tournament_opt_in`, [`{${ids.join(',')}}`]);
      const ok = new Set(rows.map((r) => r.id));
      const bad = ids.filter((id) => !ok.has(id));
      if (bad.length) {
        throw new AppError(422, 'images_not_eligible', `images ${bad.join(', ')} are missing, deleted or not opted in to tournaments`, {
          errors: bad.map((id) => ({ path: `body.image_ids.${ids.indexOf(id)}`, message: 'not an active, opted-in image' })),
        });
      }
      return ids;
    }
    const rows = await tx.execute<{ id: number }[]>(PICK_SQL[body.selection], [body.entrants]);
    if (rows.length < body.entrants) {
      throw new ConflictError(`an event of ${body.entrants} needs ${body.entrants} opted-in images; ${rows.length} are available`, 'not_enough_images');
    }
    return rows.map((r) => r.id);
  }

  return {
    /** Creates an upcoming event with its entrants and the whole bracket (later rounds empty until played). */
    async create(em: EntityManager, actor: UserActor, body: CreateEventBody): Promise<EventDto> {
      const id = await em.transactional(async (tx) => {
        const seeded = await pick(tx, body);
        const [ev] = await tx.execute<{ id: number }[]>(
          `insert into events (name, created_by, entrants, selection, window_ms, grace_ms, sealed) values (?, ?, ?, ?, ?, ?, ?) returning id`,
          [body.name, actor.userId, body.entrants, body.selection, body.window_ms ?? deps.defaults.windowMs, body.grace_ms ?? deps.defaults.graceMs, body.sealed],
        );
        const eventId = ev!.id;
        await tx.execute(`insert into event_entries (event_id, image_id, seed) select ?, image_id, seed from unnest(?::int[]) with ordinality as t(image_id, seed)`, [
          eventId,
          `{${seeded.join(',')}}`,
        ]);
        const pairs = firstRound(seeded);
        const slots = playOrder(body.entrants);
        const left = slots.map((s) => (s.round === 0 ? String(pairs[s.slot]![0]) : 'NULL'));
        const right = slots.map((s) => (s.round === 0 ? String(pairs[s.slot]![1]) : 'NULL'));
        await tx.execute(
          `insert into event_matchups (event_id, round, slot, left_id, right_id)
           select ?, round, slot, l, r from unnest(?::int[], ?::int[], ?::int[], ?::int[]) as t(round, slot, l, r)`,
          [eventId, `{${slots.map((s) => s.round).join(',')}}`, `{${slots.map((s) => s.slot).join(',')}}`, `{${left.join(',')}}`, `{${right.join(',')}}`],
        );
        return eventId;
      });
      return loadEventDto(em, (await loadEventRow(em, id))!, deps.urlFor);
    },

    /** Upcoming → live, once: of two concurrent starts exactly one succeeds, the other is a 409. */
    async start(em: EntityManager, id: number): Promise<EventSummary> {
      const row = await em.transactional(async (tx) => {
        const [ev] = await tx.execute<EventRow[]>(`select ${EVENT_COLUMNS} from events where id = ? for update`, [id]);
        if (!ev) throw missing(id);
        if (ev.status !== 'upcoming') throw new ConflictError(`event ${id} is already ${ev.status}`, 'event_already_started');
        // Entrants were eligible at creation; one deleted or opted out since cannot be played.
        const gone = await tx.execute<{ image_id: number }[]>(
          `select e.image_id from event_entries e join images i on i.id = e.image_id where e.event_id = ? and not (i.active and i.tournament_opt_in)`,
          [id],
        );
        if (gone.length) throw new ConflictError(`entrants ${gone.map((g) => g.image_id).join(', ')} were deleted or opted out since the event was created`, 'entrant_unavailable');
        const [live] = await tx.execute<EventRow[]>(`update events set status = 'live', started_at = now() where id = ? returning ${EVENT_COLUMNS}`, [id]);
        return live!;
      });
      deps.onStarted(id);
      return toSummary(row);
    },

    async get(em: EntityManager, id: number): Promise<EventDto> {
      const row = await loadEventRow(em, id);
      if (!row) throw missing(id);
      return loadEventDto(em, row, deps.urlFor);
    },

    /** Newest first, optionally one status, keyset-paginated on id. */
    async list(em: EntityManager, q: ListEventsQuery): Promise<{ items: EventSummary[]; next_cursor: string | null }> {
      const after = q.cursor ? codec.decode(q.cursor).id : null;
      const where: string[] = [];
      const params: unknown[] = [];
      if (q.status) {
        where.push('status = ?');
        params.push(q.status);
      }
      if (after !== null) {
        where.push('id < ?');
        params.push(after);
      }
      params.push(q.limit + 1);
      const rows = await em.execute<EventRow[]>(
        `select ${EVENT_COLUMNS} from events ${where.length ? `where ${where.join(' and ')}` : ''} order by id desc limit ?`,
        params,
      );
      const page = rows.slice(0, q.limit);
      const more = rows.length > q.limit;
      return { items: page.map(toSummary), next_cursor: more ? codec.encode({ v: 1, id: page[page.length - 1]!.id }) : null };
    },

    /**
     * What `event:join` acks: the full state now, the user's vote in the open matchup, and, given `since`,
     * every stream entry after it (recovered) or none with `recovered: false` when history cannot cover it.
     * The caller joins the room first, so anything after this snapshot arrives as a push.
     */
    async joinState(em: EntityManager, id: number, userId: number | null, since: number | undefined): Promise<JoinState> {
      const row = await loadEventRow(em, id);
      if (!row) throw missing(id);
      const event = await loadEventDto(em, row, deps.urlFor);
      let myVote: 'left' | 'right' | null = null;
      if (userId !== null && event.current_matchup_id !== null) {
        const [v] = await em.execute<{ side: 'left' | 'right' }[]>('select side from event_votes where matchup_id = ? and user_id = ?', [event.current_matchup_id, userId]);
        myVote = v?.side ?? null;
      }
      const missed = since === undefined ? null : await replaySince(em, id, since, event.seq);
      return { event, my_vote: myVote, recovered: missed !== null, missed: missed ?? [] };
    },
  };
}
