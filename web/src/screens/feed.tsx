import { useEffect, useState } from 'preact/hooks';
import type { Image } from '../../../src/client/index.js';
import { easel, message, useLoad } from '../state.js';
import { Empty, ErrorBox, Loading, Progress } from '../ui.js';
import { DropZone } from './dropzone.js';

type Tab = 'latest' | 'top';

export function FeedScreen({ guest }: { guest: boolean }) {
  const [tab, setTab] = useState<Tab>('latest');
  const [more, setMore] = useState<{ items: Image[]; cursor: string | null; loading: boolean; error: string | null }>({ items: [], cursor: null, loading: false, error: null });
  const feed = useLoad<Image[]>(async () => {
    if (tab === 'top') {
      setMore({ items: [], cursor: null, loading: false, error: null });
      return (await easel.api.images.top('24h', 24)).items;
    }
    const page = await easel.api.images.list({ limit: 24 });
    setMore({ items: [], cursor: page.next_cursor, loading: false, error: null });
    return page.items;
  }, [tab]);
  async function loadMore() {
    if (!more.cursor) return;
    setMore((m) => ({ ...m, loading: true, error: null }));
    try {
      const page = await easel.api.images.list({ limit: 24, cursor: more.cursor });
      setMore((m) => ({ items: [...m.items, ...page.items], cursor: page.next_cursor, loading: false, error: null }));
    } catch (err) {
      setMore((m) => ({ ...m, loading: false, error: message(err) }));
    }
  }
  return (
    <section aria-labelledby="feed-title">
      <h1 id="feed-title">Feed</h1>
      {guest ? <p class="note">Guests can look around. <a href="#/signin">Sign up</a> to upload and like.</p> : <Upload onDone={feed.reload} />}
      <div class="tabs" role="tablist" aria-label="Feed view">
        <button type="button" role="tab" aria-selected={tab === 'latest'} onClick={() => setTab('latest')}>
          Latest
        </button>
        <button type="button" role="tab" aria-selected={tab === 'top'} onClick={() => setTab('top')}>
          Top 24h
        </button>
      </div>
      {feed.loading && !feed.data && <Loading what="Loading images" />}
      <ErrorBox error={feed.error} retry={feed.reload} />
      {feed.data && feed.data.length === 0 && <Empty>No images yet{guest ? '' : ': be the first to upload one'}.</Empty>}
      <ul class="grid" aria-label="Images">
        {feed.data?.map((img) => <Card key={img.id} image={img} canLike={!guest} />)}
        {more.items.map((img) => <Card key={img.id} image={img} canLike={!guest} />)}
      </ul>
      <ErrorBox error={more.error} retry={() => void loadMore()} />
      {tab === 'latest' && more.cursor && (
        <button type="button" onClick={() => void loadMore()} disabled={more.loading}>
          {more.loading ? 'Loading…' : 'Load more'}
        </button>
      )}
    </section>
  );
}

function Card({ image, canLike }: { image: Image; canLike: boolean }) {
  const [count, setCount] = useState(image.like_count);
  const [liked, setLiked] = useState(Boolean(image.liked_by_me));
  const [error, setError] = useState<string | null>(null);
  useEffect(() => easel.watchLikes(image.id, setCount), [image.id]);
  async function toggle() {
    setError(null);
    try {
      const r = liked ? await easel.api.images.unlike(image.id) : await easel.api.images.like(image.id);
      setLiked(r.liked);
      setCount(r.like_count);
    } catch (err) {
      setError(message(err));
    }
  }
  return (
    <li class="card image-card" data-image-id={image.id}>
      <img src={image.urls.thumb} alt={image.prompt} loading="lazy" width={image.media.width ?? undefined} height={image.media.height ?? undefined} />
      <p class="prompt">{image.prompt}</p>
      <div class="row">
        <span class="muted">by {image.owner.username}</span>
        <button type="button" class="like" aria-pressed={liked} disabled={!canLike} onClick={() => void toggle()} aria-label={`${liked ? 'Unlike' : 'Like'} (${count} likes)`}>
          ♥ <span class="like-count">{count}</span>
        </button>
      </div>
      <ErrorBox error={error} />
    </li>
  );
}

function Upload({ onDone }: { onDone: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [prompt, setPrompt] = useState('');
  const [optIn, setOptIn] = useState(true);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  async function submit(e: Event) {
    e.preventDefault();
    if (!file) return setError('Choose an image first.');
    setError(null);
    setProgress(0);
    try {
      await easel.api.images.upload({ file, prompt, tournament_opt_in: optIn }, { onProgress: (p) => setProgress(p.fraction) });
      setFile(null);
      setPrompt('');
      onDone();
    } catch (err) {
      setError(message(err));
    } finally {
      setProgress(null);
    }
  }
  return (
    <form class="card upload" onSubmit={submit} aria-label="Upload an image">
      <DropZone files={file ? [file] : []} onFiles={(f) => setFile(f[0] ?? null)} label="Drop an image here or choose one" id="feed-file" />
      <label>
        Prompt
        <input required maxLength={2000} value={prompt} onInput={(e) => setPrompt(e.currentTarget.value)} placeholder="What made this image?" />
      </label>
      <label class="check">
        <input type="checkbox" checked={optIn} onChange={(e) => setOptIn(e.currentTarget.checked)} /> Enter it in the arena
      </label>
      {progress !== null && <Progress value={progress} label="Upload progress" />}
      <ErrorBox error={error} />
      <button type="submit" class="primary" disabled={progress !== null}>
        Upload
      </button>
    </form>
  );
}
