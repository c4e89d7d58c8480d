import type { EntityManager } from '../../platform/db/orm.js';

/**
 * The per-event stream behind `seq` (DESIGN.md "Delivery guarantees"): every state change the clock pushes
 * (a matchup opening, a result, the finish) takes the next seq in the same transaction as the change and is
 * kept in `event_stream`, trimmed to the last `keep` entries. Tallies are not entries: they are refreshes of
 * the current matchup's counts and carry the seq of the change they follow, so a rejoin gets the latest
 * counts from the snapshot rather than a replay of every tally.
 */

export type StreamType = 'event:matchup' | 'event:result' | 'event:finished';

export interface StreamEntry {
  type: StreamType;
  payload: Record<string, unknown> & { seq: number };
}

/** Takes the next seq (the caller holds the event row lock), stores the entry and trims the tail. */
export async function appendStream(tx: EntityManager, eventId: number, type: StreamType, build: (seq: number) => Record<string, unknown>, keep: number): Promise<StreamEntry> {
  const [row] = await tx.execute<{ seq: string }[]>('update events set seq = seq + 1 where id = ? returning seq', [eventId]);
  const seq = Number(row!.seq);
  const payload = { ...build(seq), seq };
  await tx.execute('insert into event_stream (event_id, seq, type, payload) values (?, ?, ?, ?::jsonb)', [eventId, seq, type, JSON.stringify(payload)]);
  if (seq > keep) await tx.execute('delete from event_stream where event_id = ? and seq <= ?', [eventId, seq - keep]);
  return { type, payload };
}

/**
 * Everything after `since` up to `upTo` (the seq of the snapshot being sent with it), or null when the
 * history no longer reaches back that far or `since` is not a seq this event has had.
 */
export async function replaySince(em: EntityManager, eventId: number, since: number, upTo: number): Promise<StreamEntry[] | null> {
  if (since > upTo) return null;
  if (since === upTo) return [];
  const rows = await em.execute<{ seq: string; type: StreamType; payload: Record<string, unknown> & { seq: number } }[]>(
    'select seq, type, payload from event_stream where event_id = ? and seq > ? and seq <= ? order by seq',
    [eventId, since, upTo],
  );
  if (rows.length !== upTo - since || Number(rows[0]!.seq) !== since + 1) return null;
  return rows.map((r) => ({ type: r.type, payload: r.payload }));
}

/** The newest entry: what a node taking over an event pushes again, in case its predecessor died before pushing it. */
export async function latestEntry(em: EntityManager, eventId: number): Promise<StreamEntry | null> {
  const [row] = await em.execute<{ type: StreamType; payload: Record<string, unknown> & { seq: number } }[]>(
    'select type, payload from event_stream where event_id = ? order by seq desc limit 1',
    [eventId],
  );
  return row ? { type: row.type, payload: row.payload } : null;
}
