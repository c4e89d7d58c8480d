import { useEffect, useRef, useState } from 'preact/hooks';
import type { AdStyle, AspectRatio, GenerationType, StudioView } from '../../../src/client/index.js';
import { easel, message, useLoad } from '../state.js';
import { Empty, ErrorBox, Loading, Progress } from '../ui.js';

const SESSION_KEY = 'easel.studio.session';
const STYLES: [AdStyle, string][] = [
  ['ultra_realistic', 'Ultra realistic'],
  ['semi_realistic', 'Semi realistic'],
  ['anime', 'Anime'],
];
const RATIOS: AspectRatio[] = ['1:1', '16:9', '9:16', '4:3'];

type Session = ReturnType<typeof easel.openStudio>;

export function StudioScreen() {
  // `open` is the session to open (null: a new one); changing it re-opens.
  const [open, setOpen] = useState<{ id: string | null; n: number }>(() => ({ id: localStorage.getItem(SESSION_KEY), n: 0 }));
  const [view, setView] = useState<StudioView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const session = useRef<Session | null>(null);
  const sessions = useLoad(() => easel.api.studio.sessions({ limit: 20 }), [view?.sessionId]);
  useEffect(() => {
    setView(null);
    setError(null);
    const w = easel.openStudio(
      open.id,
      (v) => {
        localStorage.setItem(SESSION_KEY, v.sessionId);
        setView(v);
      },
      (e) => {
        // A chat kept from someone else who used this browser: start a fresh one instead.
        if (e.code === 'session_forbidden' && open.id) {
          localStorage.removeItem(SESSION_KEY);
          setOpen((o) => ({ id: null, n: o.n + 1 }));
        } else setError(e.message);
      },
    );
    session.current = w;
    return () => w.close();
  }, [open]);
  const done = view?.messages.filter((m) => m.role === 'assistant').length ?? 0;
  return (
    <section aria-labelledby="studio-title" class="studio">
      <h1 id="studio-title">Ad studio</h1>
      <div class="row">
        <label class="inline">
          Chat{' '}
          <select value={view?.sessionId ?? ''} onChange={(e) => setOpen((o) => ({ id: e.currentTarget.value, n: o.n + 1 }))} aria-label="Open a previous chat">
            {view && !sessions.data?.items.some((x) => x.id === view.sessionId) && <option value={view.sessionId}>This chat</option>}
            {sessions.data?.items.map((x) => (
              <option key={x.id} value={x.id}>
                {x.title ?? new Date(x.created_at).toLocaleString()}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="small" onClick={() => setOpen((o) => ({ id: null, n: o.n + 1 }))}>
          New chat
        </button>
      </div>
      <ErrorBox error={error} />
      {!view && !error && <Loading what="Opening your studio session" />}
      {view && <Chat view={view} session={session.current!} />}
      {view && <History sessionId={view.sessionId} key={`${view.sessionId}:${done}`} />}
    </section>
  );
}

function Chat({ view, session }: { view: StudioView; session: Session }) {
  const [text, setText] = useState('');
  const [type, setType] = useState<GenerationType>('text');
  const [style, setStyle] = useState<AdStyle>('ultra_realistic');
  const [ratio, setRatio] = useState<AspectRatio>('1:1');
  const [file, setFile] = useState<File | null>(null);
  const [upload, setUpload] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const list = useRef<HTMLOListElement>(null);
  useEffect(() => {
    list.current?.scrollTo({ top: list.current.scrollHeight });
  }, [view]);

  async function submit(e: Event) {
    e.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const msg = { text, generationType: type, style, aspectRatio: ratio };
      if (file) {
        setUpload(0);
        await session.generate(msg, file, { onProgress: (p) => setUpload(p.fraction) });
      } else await session.send(msg);
      setText('');
      setFile(null);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
      setUpload(null);
    }
  }
  const streaming = Object.entries(view.streaming);
  return (
    <div class="card chat" data-session-id={view.sessionId}>
      <ol class="messages" aria-live="polite" aria-label="Conversation" ref={list}>
        {view.messages.length === 0 && streaming.length === 0 && <Empty>Describe a product and pick ad copy or an ad image.</Empty>}
        {view.messages.map((m) => (
          <li key={m.id} class={`msg ${m.role} ${m.status}`} data-role={m.role} data-job-id={m.job_id ?? ''}>
            {m.content && <p>{m.content}</p>}
            {m.image && (
              <a href={m.image.url} target="_blank" rel="noreferrer">
                <img class="ad-image" src={m.image.webp_url} alt="generated ad image" />
              </a>
            )}
            {m.error && <p class="error-text">Failed: {m.error.message}</p>}
          </li>
        ))}
        {streaming.map(([job, t]) => {
          const p = view.progress[job];
          return (
            <li key={job} class="msg assistant streaming" data-job-id={job} aria-busy="true">
              {t ? <p>{t}</p> : <p class="muted">{p?.stage ?? 'queued'}…</p>}
              {p && p.progress < 1 && <Progress value={p.progress} label="Generation progress" />}
            </li>
          );
        })}
      </ol>
      <form onSubmit={submit} aria-label="Message the studio">
        <label>
          Message
          <textarea
            required
            maxLength={4000}
            rows={3}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void submit(e);
            }}
            placeholder="A cold brew coffee for busy mornings…"
          />
        </label>
        <div class="options">
          <label>
            Output
            <select value={type} onChange={(e) => setType(e.currentTarget.value as GenerationType)}>
              <option value="text">Ad copy</option>
              <option value="image">Ad image</option>
            </select>
          </label>
          <label>
            Style
            <select value={style} onChange={(e) => setStyle(e.currentTarget.value as AdStyle)}>
              {STYLES.map(([v, l]) => (
                <option key={v} value={v}>
                  {l}
                </option>
              ))}
            </select>
          </label>
          <label>
            Aspect ratio
            <select value={ratio} onChange={(e) => setRatio(e.currentTarget.value as AspectRatio)}>
              {RATIOS.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <label>
            Attach a photo
            <input type="file" accept="image/*" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
          </label>
        </div>
        {upload !== null && <Progress value={upload} label="Photo upload" />}
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Sending…' : 'Send'}
        </button>
        <span class="muted"> Ctrl+Enter sends</span>
      </form>
    </div>
  );
}

function History({ sessionId }: { sessionId: string }) {
  const gens = useLoad(() => easel.api.studio.generations({ session_id: sessionId, limit: 20 }), [sessionId]);
  const total = gens.data?.items.reduce((sum, g) => sum + g.estimated_cost, 0) ?? 0;
  return (
    <details class="card history" open>
      <summary>Generation history and cost</summary>
      <ErrorBox error={gens.error} retry={gens.reload} />
      {gens.data && gens.data.items.length === 0 && <Empty>Nothing generated yet.</Empty>}
      {gens.data && gens.data.items.length > 0 && (
        <table class="board" aria-label="Generations">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Type</th>
              <th scope="col">Model</th>
              <th scope="col">Tokens</th>
              <th scope="col">Cost</th>
            </tr>
          </thead>
          <tbody>
            {gens.data.items.map((g) => (
              <tr key={g.job_id} data-job-id={g.job_id}>
                <td>{new Date(g.created_at).toLocaleTimeString()}</td>
                <td>
                  {g.content_type} <span class="muted">{g.status}</span>
                </td>
                <td>{g.model ?? g.provider}</td>
                <td>{g.prompt_tokens + g.completion_tokens}</td>
                <td class="cost">${g.estimated_cost.toFixed(5)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {gens.data && <p class="muted total-cost">Session total: ${total.toFixed(5)}</p>}
    </details>
  );
}
