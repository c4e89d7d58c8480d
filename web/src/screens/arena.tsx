import { useCallback, useEffect, useState } from 'preact/hooks';
import type { Leaderboard, QuickMatchup, VoteOutcome } from '../../../src/client/index.js';
import { easel, message } from '../state.js';
import { Empty, ErrorBox, Loading } from '../ui.js';

export function ArenaScreen({ guest }: { guest: boolean }) {
  return (
    <section aria-labelledby="arena-title">
      <h1 id="arena-title">Arena</h1>
      <QuickMatch guest={guest} />
      <LeaderboardView />
    </section>
  );
}

function QuickMatch({ guest }: { guest: boolean }) {
  const [matchup, setMatchup] = useState<QuickMatchup | null>(null);
  const [last, setLast] = useState<VoteOutcome | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const next = useCallback(async () => {
    setError(null);
    try {
      setMatchup((await easel.request('/tournament', 'match:next', {})).matchup);
    } catch (err) {
      setMatchup(null);
      setError(message(err));
    }
  }, []);

  const vote = useCallback(
    async (side: 'left' | 'right') => {
      if (!matchup || busy || guest) return;
      setBusy(true);
      try {
        setLast(await easel.request('/tournament', 'match:vote', { matchupToken: matchup.matchup_token, winnerId: matchup[side].id }));
        await next();
      } catch (err) {
        setError(message(err));
      } finally {
        setBusy(false);
      }
    },
    [matchup, busy, guest, next],
  );

  useEffect(() => void next(), [next]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) return;
      if (e.key === 'ArrowLeft' || e.key === '1') void vote('left');
      else if (e.key === 'ArrowRight' || e.key === '2') void vote('right');
      else if (e.key === 's' || e.key === 'S') void next();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [vote, next]);

  return (
    <div class="card matchup-card" aria-label="Quick matchup">
      <h2>Which is better?</h2>
      <p class="muted">
        Keys: <kbd>←</kbd>/<kbd>1</kbd> left, <kbd>→</kbd>/<kbd>2</kbd> right, <kbd>S</kbd> skip.{guest ? ' Sign up to vote.' : ''}
      </p>
      <ErrorBox error={error} retry={() => void next()} />
      {!matchup && !error && <Loading what="Finding a matchup" />}
      {matchup && (
        <div class="pair">
          {(['left', 'right'] as const).map((side) => (
            <button key={side} type="button" class="pick" disabled={busy || guest} onClick={() => void vote(side)} aria-label={`Vote ${side}: ${matchup[side].prompt}`}>
              <img src={matchup[side].urls.thumb} alt="" />
              <span>{matchup[side].prompt}</span>
            </button>
          ))}
        </div>
      )}
      {matchup && (
        <button type="button" onClick={() => void next()}>
          Skip
        </button>
      )}
      {last && (
        <p class="muted" role="status">
          Voted #{last.winner_id} over #{last.loser_id}
          {last.winner ? ` · now ${Math.round(last.winner.rating)} ± ${Math.round(last.winner.rd)}` : ''}
        </p>
      )}
    </div>
  );
}

function LeaderboardView() {
  const [page, setPage] = useState<Leaderboard | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(
    () =>
      easel.watchLeaderboard(
        { limit: 20, sort: 'canonical' },
        (p) => setPage(p),
        (u) => {
          const refetch = () => easel.api.tournaments.leaderboard({ limit: 20 }).then(setPage, (e: Error) => setError(e.message));
          if (u.reason === 'fit') return void refetch();
          const byId = new Map(u.items.map((r) => [r.image_id, r]));
          setPage((p) => {
            // An image the page does not list yet (its first game): the order changed, read the page again.
            if (p && p.items.length < 20 && u.items.some((r) => !p.items.some((it) => it.image.id === r.image_id))) void refetch();
            return (
            p && {
              ...p,
              items: p.items.map((it) => {
                const r = byId.get(it.image.id);
                return r ? { ...it, live: { rating: r.rating, rd: r.rd }, wins: r.wins, losses: r.losses, votes: r.votes } : it;
              }),
            }
            );
          });
        },
      ),
    [],
  );
  return (
    <div class="card" aria-labelledby="lb-title">
      <h2 id="lb-title">Leaderboard</h2>
      <ErrorBox error={error} />
      {!page && <Loading what="Loading the leaderboard" />}
      {page && page.items.length === 0 && <Empty>No rated images yet.</Empty>}
      {page && page.items.length > 0 && (
        <table class="board">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Image</th>
              <th scope="col">Rating (95%)</th>
              <th scope="col">Live</th>
              <th scope="col">W–L</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((it) => (
              <tr key={it.image.id} data-image-id={it.image.id}>
                <td>{it.rank ?? '–'}</td>
                <td class="lb-image">
                  <img src={it.image.urls.thumb} alt="" width={32} height={32} />
                  <span>{it.image.prompt}</span>
                  {it.preliminary && <span class="badge" title="Too few votes to rank yet">preliminary</span>}
                </td>
                <td>{it.rating === null ? '–' : `${Math.round(it.rating)}${it.interval ? ` (${Math.round(it.interval.low)}–${Math.round(it.interval.high)})` : ''}`}</td>
                <td class="live-rating">
                  {Math.round(it.live.rating)} ± {Math.round(it.live.rd)}
                </td>
                <td>
                  {it.wins}–{it.losses}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
