import type { EntityManager, Orm } from '../../platform/db/orm.js';
import type { Logger } from '../../platform/logger.js';
import { computeFit, computeFitInWorker, type FitInput, type FitOutput } from './tournaments.fit-compute.js';

export interface RatingFitOptions {
  /** How often some node refits; 0: never on a timer (tests and tools call run()). */
  intervalMs: number;
  /** Votes an image needs before it is ranked; fewer: preliminary. */
  minVotes: number;
  /** Bootstrap replicates for the 95% intervals. */
  replicates: number;
  /** Weak prior: virtual wins and losses per image against the reference. */
  priorWeight: number;
}

export interface RatingFitDeps {
  orm: Orm;
  logger: Logger;
  options: RatingFitOptions;
  /** After a fit's results are committed. */
  onFitted?: (summary: FitSummary) => void;
  /** Fit on a worker thread (default true); false, or a thread that fails to start: on this thread. */
  thread?: boolean;
}

export interface FitSummary {
  votes: number;
  images: number;
  pairRows: number;
  theta: number;
  thetaLow: number;
  thetaHigh: number;
  passes: number;
  converged: boolean;
  durationMs: number;
  /** Fitted on a worker thread (false: on the event loop, by choice or because the thread failed). */
  threaded: boolean;
}

export type FitOutcome = { ran: true; summary: FitSummary } | { ran: false; reason: 'locked' | 'recent' | 'no_votes' };

/** Display scale shared with Glicko-2: 1500 + 173.7178·β. */
const display = (beta: number) => 1500 + 173.7178 * beta;
// One key per database: every hub sharing the database contends for the same lock.
/**
 * Every pairwise preference, aggregated: quick-matchup votes and the crowd's votes in live events (each
 * event vote prefers the image on the side it chose over the other; matchups that lost an image to a
 * deleted account are left out).
 */
const FIT_ROWS_SQL = `
  select winner_id, loser_id, winner_side, count(*)::int as n from (
    select winner_id, loser_id, winner_side from votes
    union all
    select case when v.side = 'left' then m.left_id else m.right_id end,
           case when v.side = 'left' then m.right_id else m.left_id end,
           v.side
      from event_votes v join event_matchups m on m.id = v.matchup_id
     where m.left_id is not null and m.right_id is not null
  ) preferences
  group by winner_id, loser_id, winner_side`;

const LOCK_SQL = `select pg_try_advisory_xact_lock(hashtextextended('easel:tournaments:rating-fit', 0)) as got`;

const floats = (values: readonly number[]) => `{${values.join(',')}}`;

/**
 * The canonical tier: a Bradley-Terry fit (position term, weak prior, Poisson-bootstrap intervals, tied
 * ranks, preliminary label: bradley-terry*.ts) over every quick vote, written to image_ratings.bt_*.
 *
 * Every hub runs the timer; a transaction-scoped PostgreSQL advisory lock lets one node fit at a time and
 * the last run's time in `rating_fits` makes the others skip, so the fit runs about once per interval
 * across all nodes and restarts on another node if one dies. The lock is released with the transaction,
 * also when the node's connection drops.
 *
 * Cost: one GROUP BY over the votes (rows = distinct (winner, loser, side)), then O(rows × passes) for the
 * fit and O(rows × replicates × ~5) for the bootstrap, on a worker thread (tournaments.fit-compute.ts) so
 * the node's sockets keep moving; load-tests/bt-fit.ts measures it at 1M votes over 10k images. The
 * transaction (and its advisory lock) stays open while the thread works.
 */
export function createRatingFit(deps: RatingFitDeps) {
  const { options, logger } = deps;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<FitOutcome> | null = null;

  async function compute(input: FitInput): Promise<{ out: FitOutput; threaded: boolean }> {
    if (deps.thread === false) return { out: computeFit(input), threaded: false };
    try {
      return { out: await computeFitInWorker(input), threaded: true };
    } catch (err) {
      logger.warn({ err }, 'bradley-terry fit thread failed; fitting on the event loop');
      return { out: computeFit(input), threaded: false };
    }
  }

  async function fit(tx: EntityManager, force: boolean): Promise<FitOutcome> {
    const [lock] = await tx.execute<{ got: boolean }[]>(LOCK_SQL);
    if (!lock?.got) return { ran: false, reason: 'locked' };
    if (!force && options.intervalMs > 0) {
      const [last] = await tx.execute<{ age_ms: number | null }[]>('select (extract(epoch from now() - max(finished_at)) * 1000)::float8 as age_ms from rating_fits');
      // A little under the interval, so timers that drift a few ms early still fit every interval.
      if (last?.age_ms != null && last.age_ms < options.intervalMs * 0.9) return { ran: false, reason: 'recent' };
    }
    const started = Date.now();
    const rows = await tx.execute<{ winner_id: number; loser_id: number; winner_side: 'left' | 'right'; n: number }[]>(
      FIT_ROWS_SQL,
    );
    if (rows.length === 0) return { ran: false, reason: 'no_votes' };
    const ids: number[] = [];
    const index = new Map<number, number>();
    const item = (id: number) => {
      let i = index.get(id);
      if (i === undefined) {
        i = ids.length;
        index.set(id, i);
        ids.push(id);
      }
      return i;
    };
    let votes = 0;
    const input: FitInput = {
      items: 0,
      winner: new Int32Array(rows.length),
      loser: new Int32Array(rows.length),
      winnerLeft: new Uint8Array(rows.length),
      count: new Float64Array(rows.length),
      minVotes: options.minVotes,
      replicates: options.replicates,
      priorWeight: options.priorWeight,
      // A fixed seed: the same votes give the same intervals, so ranks do not flicker between runs.
      seed: 1,
    };
    rows.forEach((r, k) => {
      votes += r.n;
      input.winner[k] = item(r.winner_id);
      input.loser[k] = item(r.loser_id);
      input.winnerLeft[k] = r.winner_side === 'left' ? 1 : 0;
      input.count[k] = r.n;
    });
    input.items = ids.length;
    const { out, threaded } = await compute(input);
    const order = ids.map((_, i) => i).sort((a, b) => ids[a]! - ids[b]!);
    // In image id order, the order votes lock rows in, so the fit's write and a vote queue rather than deadlock.
    await tx.execute(
      `insert into image_ratings (image_id, bt_rating, bt_low, bt_high, bt_rank, preliminary)
       select * from unnest(?::int[], ?::float8[], ?::float8[], ?::float8[], ?::int[], ?::bool[]) order by 1
       on conflict (image_id) do update set bt_rating = excluded.bt_rating, bt_low = excluded.bt_low, bt_high = excluded.bt_high,
         bt_rank = excluded.bt_rank, preliminary = excluded.preliminary, updated_at = clock_timestamp()`,
      [
        floats(order.map((i) => ids[i]!)),
        floats(order.map((i) => display(out.beta[i]!))),
        floats(order.map((i) => display(out.lower[i]!))),
        floats(order.map((i) => display(out.upper[i]!))),
        `{${order.map((i) => (out.preliminary[i] ? 'NULL' : out.rank[i])).join(',')}}`,
        `{${order.map((i) => (out.preliminary[i] ? 't' : 'f')).join(',')}}`,
      ],
    );
    // Images whose votes are all gone (their voters deleted their accounts) no longer have a fitted rating.
    await tx.execute(
      `update image_ratings set bt_rating = null, bt_low = null, bt_high = null, bt_rank = null, preliminary = true, updated_at = clock_timestamp()
       where bt_rating is not null and not (image_id = any(?::int[]))`,
      [floats(ids)],
    );
    const summary: FitSummary = {
      votes,
      images: ids.length,
      pairRows: rows.length,
      theta: out.theta,
      thetaLow: out.thetaLower,
      thetaHigh: out.thetaUpper,
      passes: out.passes,
      converged: out.converged,
      durationMs: Date.now() - started,
      threaded,
    };
    await tx.execute(
      `insert into rating_fits (started_at, finished_at, votes, images, pair_rows, theta, theta_low, theta_high, passes, converged, duration_ms)
       values (?, clock_timestamp(), ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [new Date(started), votes, summary.images, summary.pairRows, summary.theta, summary.thetaLow, summary.thetaHigh, summary.passes, summary.converged, summary.durationMs],
    );
    return { ran: true, summary };
  }

  async function fitOnce(force: boolean): Promise<FitOutcome> {
    const outcome = await deps.orm.em.fork().transactional((tx) => fit(tx, force));
    if (outcome.ran) {
      logger.info({ fit: outcome.summary }, 'bradley-terry fit written');
      deps.onFitted?.(outcome.summary);
    }
    return outcome;
  }

  /**
   * Fits now unless another node holds the lock; `force` false also skips when some node fitted less
   * than an interval ago. Concurrent calls on this node share one run.
   */
  function run(force = true): Promise<FitOutcome> {
    running ??= fitOnce(force).finally(() => {
      running = null;
    });
    return running;
  }

  return {
    run,
    start(): void {
      if (timer || options.intervalMs <= 0) return;
      timer = setInterval(() => {
        if (running) return;
        run(false).catch((err: unknown) => logger.error({ err }, 'bradley-terry fit failed'));
      }, options.intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      await running?.catch(() => undefined);
    },
  };
}

export type RatingFit = ReturnType<typeof createRatingFit>;
