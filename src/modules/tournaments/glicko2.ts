/**
 * Glicko-2, the live rating tier (Glickman, "Example of the Glicko-2 system", 2022 revision): every vote
 * moves both images at once so new entries settle in a few votes and the leaderboard moves while people
 * watch. Pure: no I/O, no clock (inactivity is passed in as a number of rating periods).
 *
 * Ratings are kept on the familiar Glicko scale (1500 / 350); the Glicko-2 internal scale (μ, φ) is
 * used only inside an update.
 */

/** A player's (here: an image's) state. `rd` and `volatility` are strictly positive. */
export interface Glicko2Rating {
  rating: number;
  rd: number;
  volatility: number;
}

/** One game inside a rating period. `score` is 1 for a win, 0 for a loss, 0.5 for a draw. */
export interface Glicko2Game {
  opponent: Pick<Glicko2Rating, 'rating' | 'rd'>;
  score: number;
}

export interface Glicko2Options {
  /** System constant: how much volatility may change per period. Glickman suggests 0.3–1.2. */
  tau: number;
  /** Convergence tolerance of the volatility iteration (the paper's ε). */
  epsilon: number;
  /** RD never grows past this (the RD of an unrated image): inactivity cannot make a rating less known than none. */
  maxRd: number;
}

/** The defaults of the paper: τ = 0.5, ε = 0.000001, unrated RD 350. */
export const GLICKO2_DEFAULTS: Readonly<Glicko2Options> = Object.freeze({ tau: 0.5, epsilon: 0.000001, maxRd: 350 });

/** An unrated image: 1500 / 350 / 0.06, as the paper recommends. */
export const GLICKO2_INITIAL: Readonly<Glicko2Rating> = Object.freeze({ rating: 1500, rd: 350, volatility: 0.06 });

/** Ratio between the Glicko and Glicko-2 scales (400 / ln 10). */
const SCALE = 173.7178;
const CENTER = 1500;
/** The Illinois iteration halves the bracket at least every other step; 100 is far beyond any real need. */
const MAX_ITERATIONS = 100;

function checkRating(r: Pick<Glicko2Rating, 'rating' | 'rd'> & { volatility?: number }, what: string): void {
  if (!Number.isFinite(r.rating)) throw new RangeError(`${what}: rating must be finite, got ${r.rating}`);
  if (!(r.rd > 0) || !Number.isFinite(r.rd)) throw new RangeError(`${what}: rd must be finite and > 0, got ${r.rd}`);
  if (r.volatility !== undefined && (!(r.volatility > 0) || !Number.isFinite(r.volatility))) {
    throw new RangeError(`${what}: volatility must be finite and > 0, got ${r.volatility}`);
  }
}

function checkOptions(o: Glicko2Options): void {
  if (!(o.tau > 0) || !Number.isFinite(o.tau)) throw new RangeError(`tau must be finite and > 0, got ${o.tau}`);
  if (!(o.epsilon > 0) || !Number.isFinite(o.epsilon)) throw new RangeError(`epsilon must be finite and > 0, got ${o.epsilon}`);
  if (!(o.maxRd > 0) || !Number.isFinite(o.maxRd)) throw new RangeError(`maxRd must be finite and > 0, got ${o.maxRd}`);
}

/** g(φ): how much an opponent's uncertainty discounts what a game against it says. */
function g(phi: number): number {
  return 1 / Math.sqrt(1 + (3 * phi * phi) / (Math.PI * Math.PI));
}

/**
 * New volatility by the Illinois variant of regula falsi (step 5 of the paper): root of
 * f(x) = eˣ(Δ² − φ² − v − eˣ) / (2(φ² + v + eˣ)²) − (x − a)/τ², with a = ln σ².
 */
function nextVolatility(sigma: number, phi: number, v: number, delta: number, tau: number, epsilon: number): number {
  const a = Math.log(sigma * sigma);
  const phi2 = phi * phi;
  const d2 = delta * delta;
  const f = (x: number): number => {
    const ex = Math.exp(x);
    return (ex * (d2 - phi2 - v - ex)) / (2 * (phi2 + v + ex) ** 2) - (x - a) / (tau * tau);
  };
  let A = a;
  let B: number;
  if (d2 > phi2 + v) {
    B = Math.log(d2 - phi2 - v);
  } else {
    let k = 1;
    while (f(a - k * tau) < 0) k++;
    B = a - k * tau;
  }
  let fA = f(A);
  let fB = f(B);
  for (let i = 0; i < MAX_ITERATIONS && Math.abs(B - A) > epsilon; i++) {
    const C = A + ((A - B) * fA) / (fB - fA);
    const fC = f(C);
    if (fC * fB <= 0) {
      A = B;
      fA = fB;
    } else {
      fA /= 2;
    }
    B = C;
    fB = fC;
  }
  return Math.exp(A / 2);
}

/**
 * One rating period for one player (steps 2–8 of the paper). All `games` are scored against the
 * opponents' ratings as they stood at the start of the period. With no games the RD grows as for one
 * idle period and rating and volatility stay.
 *
 * @example
 * // The paper's worked example: → { rating ≈ 1464.06, rd ≈ 151.52, volatility ≈ 0.05999 }
 * ratePeriod({ rating: 1500, rd: 200, volatility: 0.06 }, [
 *   { opponent: { rating: 1400, rd: 30 }, score: 1 },
 *   { opponent: { rating: 1550, rd: 100 }, score: 0 },
 *   { opponent: { rating: 1700, rd: 300 }, score: 0 },
 * ]);
 */
export function ratePeriod(player: Glicko2Rating, games: readonly Glicko2Game[], options: Partial<Glicko2Options> = {}): Glicko2Rating {
  const o = { ...GLICKO2_DEFAULTS, ...options };
  checkOptions(o);
  checkRating(player, 'player');
  if (games.length === 0) return inflateRd(player, 1, o);
  const mu = (player.rating - CENTER) / SCALE;
  const phi = player.rd / SCALE;
  let vInv = 0;
  let deltaSum = 0;
  for (const [i, game] of games.entries()) {
    checkRating(game.opponent, `games[${i}].opponent`);
    if (!(game.score >= 0 && game.score <= 1)) throw new RangeError(`games[${i}].score must be in [0, 1], got ${game.score}`);
    const muJ = (game.opponent.rating - CENTER) / SCALE;
    const gJ = g(game.opponent.rd / SCALE);
    const e = 1 / (1 + Math.exp(-gJ * (mu - muJ)));
    vInv += gJ * gJ * e * (1 - e);
    deltaSum += gJ * (game.score - e);
  }
  const v = 1 / vInv;
  const sigma = nextVolatility(player.volatility, phi, v, v * deltaSum, o.tau, o.epsilon);
  const phiStar = Math.sqrt(phi * phi + sigma * sigma);
  const phiNew = 1 / Math.sqrt(1 / (phiStar * phiStar) + 1 / v);
  const muNew = mu + phiNew * phiNew * deltaSum;
  return { rating: muNew * SCALE + CENTER, rd: Math.min(phiNew * SCALE, o.maxRd), volatility: sigma };
}

/**
 * One vote as its own rating period for both images: the winner scored 1 against the loser's rating
 * before the vote and vice versa, so the order of the two updates does not matter.
 *
 * @example
 * const { winner, loser } = rateVote(GLICKO2_INITIAL, GLICKO2_INITIAL);
 * // winner.rating ≈ 1662, loser.rating ≈ 1338, both RDs ≈ 290
 */
export function rateVote(winner: Glicko2Rating, loser: Glicko2Rating, options: Partial<Glicko2Options> = {}): { winner: Glicko2Rating; loser: Glicko2Rating } {
  return {
    winner: ratePeriod(winner, [{ opponent: loser, score: 1 }], options),
    loser: ratePeriod(loser, [{ opponent: winner, score: 0 }], options),
  };
}

/**
 * RD after `periods` rating periods without games (step 6 of the paper, repeated): φ' = √(φ² + t·σ²),
 * capped at `maxRd`. `periods` may be fractional (idle time divided by the period length) and 0.
 */
export function inflateRd(player: Glicko2Rating, periods: number, options: Partial<Glicko2Options> = {}): Glicko2Rating {
  const o = { ...GLICKO2_DEFAULTS, ...options };
  checkOptions(o);
  checkRating(player, 'player');
  if (!(periods >= 0) || !Number.isFinite(periods)) throw new RangeError(`periods must be finite and ≥ 0, got ${periods}`);
  const phi = player.rd / SCALE;
  const rd = Math.sqrt(phi * phi + periods * player.volatility * player.volatility) * SCALE;
  return { rating: player.rating, rd: Math.min(rd, Math.max(o.maxRd, player.rd)), volatility: player.volatility };
}
