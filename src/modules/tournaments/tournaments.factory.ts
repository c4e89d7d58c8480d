import type { Config } from '../../platform/config.js';
import type { Orm } from '../../platform/db/orm.js';
import type { Logger } from '../../platform/logger.js';
import type { Notifier } from '../../transport/socket/notifier.js';
import { createLeaderboardFeed } from './tournaments.feed.js';
import { createRatingFit } from './tournaments.fit.js';
import type { UrlFor } from './tournaments.leaderboard.js';
import { createMatchupTokens } from './tournaments.matchup-token.js';
import { recordResult, type GameSource } from './tournaments.ratings.js';
import type { EntityManager } from '../../platform/db/orm.js';
import { LEADERBOARD_ROOM, TOURNAMENT_NAMESPACE } from './tournaments.namespace.js';
import { createTournamentService } from './tournaments.service.js';

export interface TournamentsDeps {
  config: Pick<Config, 'auth' | 'tournaments'>;
  orm: Orm;
  logger: Logger;
  notifier: Notifier;
  urlFor: UrlFor;
}

export type Tournaments = ReturnType<typeof createTournaments>;

/** The tournaments domain wired for one hub: matchup tokens, the service, the leaderboard throttle and the fit timer. */
export function createTournaments(deps: TournamentsDeps) {
  const t = deps.config.tournaments;
  const feed = createLeaderboardFeed({
    windowMs: t.leaderboardWindowMs,
    push: (update) => deps.notifier.toRoom(TOURNAMENT_NAMESPACE, LEADERBOARD_ROOM, 'leaderboard:update', update),
  });
  const tokens = createMatchupTokens({ secret: deps.config.auth.jwtSecret, issuer: deps.config.auth.issuer, ttlSeconds: t.matchupTtlSeconds });
  const service = createTournamentService({ tokens, urlFor: deps.urlFor, candidateCacheMs: t.candidateCacheMs, onRatingsChanged: (rows) => feed.changed(rows) });
  const fit = createRatingFit({ orm: deps.orm, logger: deps.logger, options: t.fit, onFitted: () => feed.fitted() });
  fit.start();
  return {
    service,
    tokens,
    feed,
    fit,
    /**
     * recordResult (tournaments.ratings.ts) for live events: the Glicko-2 update, a win and a loss, and
     * the new numbers to leaderboard watchers. Runs in the caller's transaction (as a savepoint).
     */
    async recordResult(tx: EntityManager, game: { winnerId: number; loserId: number; source: GameSource }) {
      const result = await recordResult(tx, game);
      feed.changed([result.winner, result.loser]);
      return result;
    },
    /** Stops the fit timer (waiting for a running fit) and sends pending leaderboard updates. */
    async close(): Promise<void> {
      await fit.stop();
      feed.close();
    },
  };
}
