import type { Orm } from '../../platform/db/orm.js';
import { AppError, ConflictError, ForbiddenError, NotFoundError } from '../../platform/errors.js';
import type { EventVotePayload } from './events.schemas.js';

export interface VoteAck {
  matchupId: number;
  choice: 'left' | 'right';
  counted: boolean;
}

export interface VoteBatcherDeps {
  orm: Orm;
  /** How long a batch collects votes before one statement writes them all; 0: the current I/O turn only. */
  batchMs: number;
  maxBatch?: number;
}

/**
 * One statement writes a batch of votes for one matchup. The matchup row is share-locked, so many batches
 * run at once, while the clock's close (an UPDATE of that row) waits for every batch already inside
 * and every later batch sees the matchup closed: an acked vote is always in the close's count. Votes are
 * accepted from opens_at until closes_at + grace by the database's clock. The primary key
 * (matchup_id, user_id) keeps one vote per user under any concurrency; `prior` reads the user's earlier
 * vote from the statement's snapshot (it cannot see rows this statement inserts).
 */
const VOTE_SQL = `
  with m as (
    select mu.id, mu.left_id, mu.right_id, li.user_id as left_owner, ri.user_id as right_owner,
           now() >= mu.opens_at as started,
           now() <= mu.closes_at + e.grace_ms * interval '1 millisecond' as in_time
    from event_matchups mu
    join events e on e.id = mu.event_id
    join images li on li.id = mu.left_id
    join images ri on ri.id = mu.right_id
    where mu.id = ? and mu.event_id = ? and mu.status = 'open'
    for share of mu
  ),
  v as (
    select t.user_id,
           case when t.c in ('left', 'right') then t.c when t.c = m.left_id::text then 'left' when t.c = m.right_id::text then 'right' end as side,
           t.user_id in (m.left_owner, m.right_owner) as is_owner
    from m cross join unnest(?::int[], ?::text[]) as t(user_id, c)
    where m.started and m.in_time
  ),
  ins as (
    insert into event_votes (matchup_id, user_id, side)
    select (select id from m), v.user_id, v.side from v where v.side is not null and not v.is_owner
    on conflict do nothing
    returning user_id
  )
  select (select json_build_object('started', m.started, 'in_time', m.in_time) from m) as state,
         coalesce((select json_agg(json_build_object(
           'user_id', v.user_id, 'side', v.side, 'owner', v.is_owner,
           'counted', exists (select 1 from ins where ins.user_id = v.user_id),
           'prior', (select ev.side from event_votes ev where ev.matchup_id = ? and ev.user_id = v.user_id))) from v), '[]'::json) as votes`;

interface VoteRow {
  state: { started: boolean; in_time: boolean } | null;
  votes: { user_id: number; side: 'left' | 'right' | null; owner: boolean; counted: boolean; prior: 'left' | 'right' | null }[];
}

interface Pending {
  userId: number;
  choice: string;
  resolve: (ack: VoteAck) => void;
  reject: (err: unknown) => void;
}

interface Batch {
  eventId: number;
  matchupId: number;
  votes: Pending[];
}

export interface VoteBatcher {
  vote(userId: number, input: EventVotePayload): Promise<VoteAck>;
  /** Votes waiting for their batch; for tests and shutdown. */
  readonly pending: number;
  /** Writes what is waiting now. */
  flushAll(): Promise<void>;
}

const closedError = () => new ConflictError('voting for this matchup has closed', 'voting_closed');

export function createVoteBatcher(deps: VoteBatcherDeps): VoteBatcher {
  const maxBatch = deps.maxBatch ?? 1000;
  const open = new Map<string, Batch>();
  const running = new Set<Promise<void>>();
  let waiting = 0;

  async function whyRefused(matchupId: number, eventId: number, state: VoteRow['state']): Promise<AppError> {
    if (state && !state.started) return new ConflictError('this matchup is not open yet', 'matchup_not_open');
    if (state) return closedError();
    const [row] = await deps.orm.em.fork().execute<{ status: string }[]>('select status from event_matchups where id = ? and event_id = ?', [matchupId, eventId]);
    if (!row) return new NotFoundError(`matchup ${matchupId} is not part of event ${eventId}`, 'matchup_not_found');
    return row.status === 'pending' ? new ConflictError('this matchup is not open yet', 'matchup_not_open') : closedError();
  }

  async function write(batch: Batch): Promise<void> {
    // One entry per user goes to the database; repeats in the same batch share the first one's outcome.
    const first = new Map<number, Pending>();
    for (const p of batch.votes) if (!first.has(p.userId)) first.set(p.userId, p);
    const users = [...first.keys()];
    const choices = users.map((u) => first.get(u)!.choice);
    let row: VoteRow;
    try {
      [row] = (await deps.orm.em.fork().execute<VoteRow[]>(VOTE_SQL, [batch.matchupId, batch.eventId, `{${users.join(',')}}`, `{${choices.join(',')}}`, batch.matchupId])) as [VoteRow];
    } catch (err) {
      for (const p of batch.votes) p.reject(err);
      return;
    }
    if (!row.state || !row.state.started || !row.state.in_time) {
      const err = await whyRefused(batch.matchupId, batch.eventId, row.state).catch((e: unknown) => e);
      for (const p of batch.votes) p.reject(err);
      return;
    }
    const outcome = new Map(row.votes.map((v) => [v.user_id, v]));
    const seen = new Set<number>();
    for (const p of batch.votes) {
      const v = outcome.get(p.userId);
      if (!v) p.reject(closedError());
      else if (v.owner) p.reject(new ForbiddenError('you cannot vote in a matchup with your own image', 'own_image'));
      else if (v.side === null) p.reject(new AppError(422, 'not_in_matchup', `choice ${p.choice} is neither side of matchup ${batch.matchupId}`));
      else {
        const counted = v.counted && !seen.has(p.userId);
        seen.add(p.userId);
        p.resolve({ matchupId: batch.matchupId, choice: v.counted ? v.side : (v.prior ?? v.side), counted });
      }
    }
  }

  function flush(key: string): void {
    const batch = open.get(key);
    if (!batch) return;
    open.delete(key);
    waiting -= batch.votes.length;
    const job = write(batch).finally(() => running.delete(job));
    running.add(job);
  }

  return {
    vote(userId, input) {
      const choice = String(input.choice);
      const key = `${input.eventId}:${input.matchupId}`;
      return new Promise<VoteAck>((resolve, reject) => {
        let batch = open.get(key);
        if (!batch) {
          batch = { eventId: input.eventId, matchupId: input.matchupId, votes: [] };
          open.set(key, batch);
          if (deps.batchMs > 0) setTimeout(flush, deps.batchMs, key);
          else setImmediate(flush, key);
        }
        batch.votes.push({ userId, choice, resolve, reject });
        waiting++;
        if (batch.votes.length >= maxBatch) flush(key);
      });
    },
    get pending() {
      return waiting;
    },
    async flushAll() {
      for (const key of [...open.keys()]) flush(key);
      await Promise.allSettled([...running]);
    },
  };
}
