import { useEffect, useMemo, useState } from 'preact/hooks';
import type { EventView, LiveEventImage, LiveEventMatchup, LiveEventSummary } from '../../../src/client/index.js';
import { easel, message, useLoad } from '../state.js';
import { Countdown, Empty, ErrorBox, Loading } from '../ui.js';

export function EventsScreen() {
  const list = useLoad(() => easel.api.events.list({ limit: 50 }), []);
  return (
    <section aria-labelledby="events-title">
      <h1 id="events-title">Live events</h1>
      {list.loading && !list.data && <Loading what="Loading events" />}
      <ErrorBox error={list.error} retry={list.reload} />
      {list.data && list.data.items.length === 0 && <Empty>No events yet. An admin creates them.</Empty>}
      <ul class="list" aria-label="Events">
        {list.data?.items.map((e: LiveEventSummary) => (
          <li key={e.id} class="card row">
            <a href={`#/events/${e.id}`} class="event-link" data-event-id={e.id}>
              {e.name}
            </a>
            <span class={`badge status-${e.status}`}>{e.status}</span>
            <span class="muted">{e.entrants} images</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function EventScreen({ id, guest }: { id: number; guest: boolean }) {
  const [view, setView] = useState<EventView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [voteError, setVoteError] = useState<string | null>(null);
  const [watch, setWatch] = useState<ReturnType<typeof easel.joinEvent> | null>(null);
  const [, tick] = useState(0);

  useEffect(() => {
    setView(null);
    const w = easel.joinEvent(id, (v) => setView(v), (e) => setError(e.message));
    setWatch(w);
    return () => w.close();
  }, [id]);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 200);
    return () => clearInterval(t);
  }, []);

  const images = useMemo(() => new Map((view?.entries ?? []).map((e) => [e.image.id, e.image])), [view?.entries]);
  const current = view?.matchups.find((m) => m.id === view.current_matchup_id) ?? null;

  async function vote(choice: 'left' | 'right') {
    if (!watch || guest) return;
    setVoteError(null);
    try {
      await watch.vote(choice);
    } catch (err) {
      setVoteError(message(err));
    }
  }

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.target instanceof HTMLInputElement) return;
      if (e.key === 'ArrowLeft' || e.key === '1') void vote('left');
      else if (e.key === 'ArrowRight' || e.key === '2') void vote('right');
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  });

  if (error && !view) return <ErrorBox error={error} />;
  if (!view) return <Loading what="Joining the event" />;
  const champion = view.champion_id !== null ? images.get(view.champion_id) : undefined;
  return (
    <section aria-labelledby="event-title" class="event" data-seq={view.seq} data-status={view.status}>
      <h1 id="event-title">{view.name}</h1>
      <p class="muted">
        <span class={`badge status-${view.status}`}>{view.status}</span> · {view.entrants} images{view.sealed ? ' · sealed tallies' : ''}
      </p>
      {champion && (
        <div class="card champion" role="status" data-champion-id={champion.id}>
          <h2>Champion</h2>
          <img src={champion.thumb_url} alt="" />
          <p>{champion.prompt}</p>
        </div>
      )}
      {view.status === 'upcoming' && <p class="note">Starts soon. Stay here: it goes live on its own.</p>}
      {current && <CurrentMatchup m={current} images={images} view={view} guest={guest} onVote={vote} />}
      <ErrorBox error={voteError} />
      <Bracket view={view} images={images} />
    </section>
  );
}

function CurrentMatchup({ m, images, view, guest, onVote }: { m: LiveEventMatchup; images: Map<number, LiveEventImage>; view: EventView; guest: boolean; onVote: (c: 'left' | 'right') => void }) {
  const total = (m.left_votes ?? 0) + (m.right_votes ?? 0);
  return (
    <div class="card current" aria-label="Current matchup" data-matchup-id={m.id}>
      <h2>
        {m.round_name} <Countdown to={m.closes_at} offsetMs={view.clock_offset_ms} />
      </h2>
      <div class="pair">
        {(['left', 'right'] as const).map((side) => {
          const img = images.get((side === 'left' ? m.left_id : m.right_id) ?? -1);
          const votes = side === 'left' ? m.left_votes : m.right_votes;
          return (
            <div key={side} class={`side ${view.my_vote === side ? 'mine' : ''}`}>
              {img && <img src={img.thumb_url} alt={img.prompt} />}
              <p class="tally" data-side={side}>
                {votes === null ? 'sealed' : `${votes} vote${votes === 1 ? '' : 's'}`}
              </p>
              {votes !== null && <div class="bar" style={{ width: `${total ? Math.round((votes / total) * 100) : 0}%` }} />}
              <button type="button" class="primary vote" data-side={side} disabled={guest || view.my_vote !== null} onClick={() => onVote(side)}>
                {view.my_vote === side ? 'Your vote' : `Vote ${side}`}
              </button>
            </div>
          );
        })}
      </div>
      {guest && <p class="muted">Guests watch; sign up to vote.</p>}
    </div>
  );
}

function Bracket({ view, images }: { view: EventView; images: Map<number, LiveEventImage> }) {
  const rounds = new Map<number, LiveEventMatchup[]>();
  for (const m of view.matchups) rounds.set(m.round, [...(rounds.get(m.round) ?? []), m]);
  const name = (id: number | null) => (id === null ? 'TBD' : (images.get(id)?.prompt ?? `#${id}`));
  return (
    <div class="bracket" aria-label="Bracket">
      {[...rounds.entries()]
        .sort(([a], [b]) => a - b)
        .map(([round, ms]) => (
          <div key={round} class="round">
            <h3>{ms[0]?.round_name ?? `Round ${round + 1}`}</h3>
            <ol>
              {ms
                .sort((a, b) => a.slot - b.slot)
                .map((m) => (
                  <li key={m.id} class={`match ${m.status}`} data-matchup-id={m.id} data-status={m.status} data-winner={m.winner_id ?? ''}>
                    {(['left_id', 'right_id'] as const).map((k) => (
                      <span key={k} class={m.winner_id !== null && m.winner_id === m[k] ? 'won' : ''}>
                        {name(m[k])}
                        {m.left_votes !== null && m.status !== 'pending' ? ` · ${k === 'left_id' ? m.left_votes : m.right_votes}` : ''}
                      </span>
                    ))}
                  </li>
                ))}
            </ol>
          </div>
        ))}
    </div>
  );
}
