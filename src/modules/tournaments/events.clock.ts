import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { EntityManager, Orm } from '../../platform/db/orm.js';
import type { Logger } from '../../platform/logger.js';
import { advance, decide } from './bracket.js';
import { EVENT_COLUMNS, MATCHUP_COLUMNS, loadImages, tally, toImage, toMatchup, type Decision, type EventRow, type MatchupRow, type UrlFor } from './events.sql.js';
import { appendStream, latestEntry, type StreamEntry } from './events.stream.js';
import type { LiveRatingDto } from './tournaments.schemas.js';
import { recordEventFinished, recordResult } from './tournaments.ratings.js';

export interface ClockSettings {
  /** How often a node claims and renews leases and steps the events it holds. */
  tickMs: number;
  /** How long a lease lasts unless renewed: the longest an event waits for another node after its clock dies. */
  leaseMs: number;
  /** Least time between two `event:tally` pushes of one event. */
  tallyMs: number;
  /** Pause between a result and the next matchup opening. */
  breakMs: number;
  /** Stream entries kept per event for `since` replay. */
  historySize: number;
}


export interface ClockDeps {
  orm: Orm;
  settings: ClockSettings;
  urlFor: UrlFor;
  /** Sends a push to the event's room on every node. */
  push: (eventId: number, type: string, payload: unknown) => void;
  /** Called after a step committed with the live ratings its results moved (the leaderboard feed). */
  onRatingsChanged?: (rows: LiveRatingDto[]) => void;
  logger: Logger;
  nodeId?: string;
}

export interface EventClock {
  readonly nodeId: string;
  start(): void;
  /** Claim and step now (after an event started) instead of at the next tick. */
  nudge(): void;
  /** Stops stepping and hands its leases back so another node takes over at once. */
  stop(): Promise<void>;
  /** Events whose clock this node runs now. */
  held(): number[];
}

interface Held {
  busy: Promise<void> | null;
  wake: NodeJS.Timeout | null;
  tally: { matchupId: number; key: string; at: number } | null;
}

/**
 * The server-side clock of live events, one per hub. Each tick it claims (or renews) a lease on every live
 * event that no live node holds, in one statement, and steps the events it holds: open the next matchup,
 * push throttled tallies, close at the deadline plus grace, advance the winner, finish. Every step is a
 * transaction that locks the event row and re-checks the lease with the database's clock, so a node that
 * lost its lease (paused, partitioned) cannot act on the event again, and two nodes never step it at once.
 */
export function createEventClock(deps: ClockDeps): EventClock {
  const { orm, settings, logger } = deps;
  const nodeId = deps.nodeId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const held = new Map<number, Held>();
  let timer: NodeJS.Timeout | null = null;
  let ticking: Promise<void> | null = null;
  let stopped = true;

  const CLAIM_SQL = `
    with claim as (
      select id, lease_owner from events
      where status = 'live' and (lease_owner = ? or lease_owner is null or lease_until < now())
      for update skip locked
    )
    update events e set lease_owner = ?, lease_until = now() + ? * interval '1 millisecond'
    from claim where e.id = claim.id
    returning e.id, claim.lease_owner as previous`;

  async function tick(): Promise<void> {
    const rows = await orm.em.fork().execute<{ id: number; previous: string | null }[]>(CLAIM_SQL, [nodeId, nodeId, settings.leaseMs]);
    const claimed = new Set(rows.map((r) => r.id));
    for (const [id, h] of held) {
      if (!claimed.has(id) && !h.busy) drop(id);
    }
    for (const { id, previous } of rows) {
      if (!held.has(id)) {
        held.set(id, { busy: null, wake: null, tally: null });
        if (previous !== null && previous !== nodeId) {
          logger.info({ eventId: id, previous, node: nodeId }, 'took over event clock');
          // Its last push may never have left the dead node; viewers drop what they already have by seq.
          const last = await latestEntry(orm.em.fork(), id);
          if (last) deps.push(id, last.type, last.payload);
        }
      }
      step(id);
    }
  }

  function drop(id: number): void {
    const h = held.get(id);
    if (h?.wake) clearTimeout(h.wake);
    held.delete(id);
  }

  function loop(): void {
    if (stopped) return;
    ticking = tick()
      .catch((err: unknown) => logger.error({ err }, 'event clock tick failed'))
      .finally(() => {
        ticking = null;
        if (!stopped) timer = setTimeout(loop, settings.tickMs);
      });
  }

  function wakeIn(id: number, ms: number): void {
    const h = held.get(id);
    if (!h || stopped) return;
    if (h.wake) clearTimeout(h.wake);
    h.wake = setTimeout(() => {
      h.wake = null;
      step(id);
    }, Math.max(0, Math.ceil(ms)));
  }

  function step(id: number): void {
    const h = held.get(id);
    if (!h || h.busy || stopped) return;
    h.busy = run(id, h)
      .then((next) => {
        if (next === 'lost') drop(id);
        else if (next !== null) wakeIn(id, next);
      })
      .catch((err: unknown) => logger.error({ err, eventId: id }, 'event clock step failed'))
      .finally(() => {
        h.busy = null;
      });
  }

  /** One step; returns ms until the next one is due, null to wait for the tick, or 'lost'. */
  async function run(id: number, h: Held): Promise<number | null | 'lost'> {
    const out: StreamEntry[] = [];
    const ratings: LiveRatingDto[] = [];
    const result = await orm.em.fork().transactional(async (tx) => {
      const [ev] = await tx.execute<(EventRow & { now: Date; mine: boolean })[]>(
        `select ${EVENT_COLUMNS}, now() as now, (lease_owner = ? and lease_until > now()) as mine from events where id = ? for update`,
        [nodeId, id],
      );
      if (!ev || !ev.mine || ev.status !== 'live') return 'lost' as const;
      const now = new Date(ev.now).getTime();
      const [open] = await tx.execute<MatchupRow[]>(`select ${MATCHUP_COLUMNS} from event_matchups where event_id = ? and status = 'open'`, [id]);
      if (open) {
        const deadline = new Date(open.closes_at!).getTime() + ev.grace_ms;
        if (now < deadline) return { open, wait: deadline - now, ev };
        await close(tx, ev, open, out, ratings);
        return { open: null, wait: ev.status === 'live' ? settings.breakMs : null, ev };
      }
      const [last] = await tx.execute<{ closed_at: Date | null }[]>('select max(closed_at) as closed_at from event_matchups where event_id = ?', [id]);
      const resumeAt = last?.closed_at ? new Date(last.closed_at).getTime() + settings.breakMs : 0;
      if (now < resumeAt) return { open: null, wait: resumeAt - now, ev };
      const opened = await openNext(tx, ev, out);
      if (opened === 'walkover') return { open: null, wait: ev.status === 'live' ? 0 : null, ev };
      return { open: opened, wait: opened ? ev.window_ms + ev.grace_ms : null, ev };
    });
    for (const e of out) deps.push(id, e.type, e.payload);
    if (ratings.length) deps.onRatingsChanged?.(ratings);
    if (result === 'lost') return 'lost';
    if (out.some((e) => e.type === 'event:finished')) return 'lost';
    if (!result.open || result.ev.sealed) return result.wait;
    // Tallies outside the transaction: counting needs no lock, and the event row stays free for the close.
    const due = await pushTally(id, h, result.open);
    return Math.min(result.wait ?? Infinity, due);
  }

  /** Pushes the counts when they changed and `tallyMs` has passed; returns ms until the next look. */
  async function pushTally(id: number, h: Held, open: MatchupRow): Promise<number> {
    const since = h.tally?.matchupId === open.id ? Date.now() - h.tally.at : Infinity;
    if (since < settings.tallyMs) return settings.tallyMs - since;
    const [ev] = await orm.em.fork().execute<{ seq: string }[]>('select seq from events where id = ?', [id]);
    const counts = await tally(orm.em.fork(), open.id);
    const key = `${counts.left_votes}:${counts.right_votes}`;
    if (h.tally?.matchupId !== open.id || h.tally.key !== key) {
      deps.push(id, 'event:tally', { eventId: id, seq: Number(ev?.seq ?? 0), matchupId: open.id, ...counts });
    }
    h.tally = { matchupId: open.id, key, at: Date.now() };
    return settings.tallyMs;
  }

  /**
   * Opens the first pending matchup whose feeders are decided. One whose side is empty (the image went with
   * its owner's account) is settled at once as a walkover instead, and the caller steps again.
   */
  async function openNext(tx: EntityManager, ev: EventRow, out: StreamEntry[]): Promise<MatchupRow | 'walkover' | null> {
    const [next] = await tx.execute<MatchupRow[]>(
      `select ${MATCHUP_COLUMNS} from event_matchups m where event_id = ? and status = 'pending'
         and (round = 0 or (select count(*) from event_matchups f where f.event_id = m.event_id and f.round = m.round - 1 and f.slot / 2 = m.slot and f.status = 'closed') = 2)
       order by round, slot limit 1`,
      [ev.id],
    );
    if (!next) return null;
    if (next.left_id === null || next.right_id === null) {
      await settle(tx, ev, next, { left_votes: 0, right_votes: 0 }, next.left_id ?? next.right_id, 'walkover', out);
      return 'walkover';
    }
    const [m] = await tx.execute<MatchupRow[]>(
      `update event_matchups set status = 'open', opens_at = now(), closes_at = now() + ? * interval '1 millisecond' where id = ? returning ${MATCHUP_COLUMNS}`,
      [ev.window_ms, next.id],
    );
    await tx.execute('update events set current_round = ?, current_slot = ? where id = ?', [m!.round, m!.slot, ev.id]);
    const images = await loadImages(tx, [m!.left_id!, m!.right_id!]);
    const [clock] = await tx.execute<{ now: Date }[]>('select now() as now');
    out.push(
      await appendStream(tx, ev.id, 'event:matchup', () => ({
        eventId: ev.id,
        matchup: toMatchup(m!, ev.entrants, ev.sealed),
        left: toImage(images.get(m!.left_id!)!, deps.urlFor),
        right: toImage(images.get(m!.right_id!)!, deps.urlFor),
        grace_ms: ev.grace_ms,
        server_now: new Date(clock!.now).toISOString(),
      }), settings.historySize),
    );
    return m!;
  }

  async function close(tx: EntityManager, ev: EventRow, open: MatchupRow, out: StreamEntry[], ratings: LiveRatingDto[]): Promise<void> {
    // This update waits for vote batches holding the matchup's share lock; the count after it sees them all.
    await tx.execute(`update event_matchups set status = 'closed', closed_at = now() where id = ?`, [open.id]);
    const counts = await tally(tx, open.id);
    const facts = await tx.execute<{ id: number; rating: number; seed: number }[]>(
      `select en.image_id as id, coalesce(r.rating, 1500)::float8 as rating, en.seed
       from event_entries en left join image_ratings r on r.image_id = en.image_id
       where en.event_id = ? and en.image_id in (?, ?)`,
      [ev.id, open.left_id, open.right_id],
    );
    const of = (imageId: number | null) => facts.find((f) => f.id === imageId) ?? { rating: 1500, seed: Number.MAX_SAFE_INTEGER };
    const verdict = decide({
      leftId: open.left_id!,
      rightId: open.right_id!,
      leftVotes: counts.left_votes,
      rightVotes: counts.right_votes,
      leftRating: of(open.left_id).rating,
      rightRating: of(open.right_id).rating,
      leftSeed: of(open.left_id).seed,
      rightSeed: of(open.right_id).seed,
    });
    const rated = await recordResult(tx, { winnerId: verdict.winnerId, loserId: verdict.loserId, source: 'event' });
    ratings.push(rated.winner, rated.loser);
    await settle(tx, ev, open, counts, verdict.winnerId, verdict.by, out);
  }

  /** Writes a decided matchup, moves the winner on (or finishes the event) and records the pushes. */
  async function settle(tx: EntityManager, ev: EventRow, m: MatchupRow, counts: { left_votes: number; right_votes: number }, winnerId: number | null, by: Decision, out: StreamEntry[]): Promise<void> {
    const [closed] = await tx.execute<MatchupRow[]>(
      `update event_matchups set status = 'closed', closed_at = coalesce(closed_at, now()), left_votes = ?, right_votes = ?, winner_id = ?, decided_by = ?
       where id = ? returning ${MATCHUP_COLUMNS}`,
      [counts.left_votes, counts.right_votes, winnerId, by, m.id],
    );
    const next = advance(ev.entrants, m);
    let nextId: number | null = null;
    if (next) {
      const [row] = await tx.execute<{ id: number }[]>(
        `update event_matchups set ${next.side === 'left' ? 'left_id' : 'right_id'} = ? where event_id = ? and round = ? and slot = ? returning id`,
        [winnerId, ev.id, next.round, next.slot],
      );
      nextId = row?.id ?? null;
    }
    out.push(
      await appendStream(tx, ev.id, 'event:result', () => ({ eventId: ev.id, matchup: toMatchup(closed!, ev.entrants, false), next_matchup_id: nextId }), settings.historySize),
    );
    if (next) return;
    await tx.execute(
      `update events set status = 'finished', champion_id = ?, finished_at = now(), current_round = null, current_slot = null, lease_owner = null, lease_until = null where id = ?`,
      [winnerId, ev.id],
    );
    const entrants = await tx.execute<{ image_id: number }[]>('select image_id from event_entries where event_id = ?', [ev.id]);
    if (winnerId !== null) await recordEventFinished(tx, { championId: winnerId, entrantIds: entrants.map((e) => e.image_id) });
    ev.status = 'finished';
    const all = await tx.execute<MatchupRow[]>(`select ${MATCHUP_COLUMNS} from event_matchups where event_id = ? order by round, slot`, [ev.id]);
    out.push(
      await appendStream(tx, ev.id, 'event:finished', () => ({ eventId: ev.id, champion_id: winnerId, matchups: all.map((x) => toMatchup(x, ev.entrants, false)) }), settings.historySize),
    );
  }

  return {
    nodeId,
    start() {
      if (!stopped) return;
      stopped = false;
      loop();
    },
    nudge() {
      if (stopped || ticking) return;
      if (timer) clearTimeout(timer);
      loop();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await ticking;
      const steps = [...held.values()].map((h) => h.busy);
      for (const id of [...held.keys()]) drop(id);
      await Promise.allSettled(steps);
      await orm.em
        .fork()
        .execute(`update events set lease_owner = null, lease_until = null where lease_owner = ?`, [nodeId])
        .catch((err: unknown) => logger.warn({ err }, 'could not hand back event leases'));
    },
    held: () => [...held.keys()],
  };
}
