import { useEffect, useState } from 'preact/hooks';
import type { JobView, Photo } from '../../../src/client/index.js';
import { easel, message, useLoad } from '../state.js';
import { Empty, ErrorBox, Loading, Progress } from '../ui.js';
import { DropZone } from './dropzone.js';

export function PhotosScreen({ guest }: { guest: boolean }) {
  const list = useLoad(() => (guest ? Promise.resolve({ items: [] as Photo[], next_cursor: null }) : easel.api.photos.list({ limit: 30 })), [guest]);
  if (guest) {
    return (
      <section>
        <h1>My photos</h1>
        <p class="note">
          Upscaling and best-cut need an account. <a href="#/signin">Sign up</a>.
        </p>
      </section>
    );
  }
  return (
    <section aria-labelledby="photos-title">
      <h1 id="photos-title">My photos</h1>
      <Submit onDone={list.reload} />
      {list.loading && !list.data && <Loading what="Loading your photos" />}
      <ErrorBox error={list.error} retry={list.reload} />
      {list.data && list.data.items.length === 0 && <Empty>No photos yet: upscale one or pick the best of a burst.</Empty>}
      <ul class="list" aria-label="Photos">
        {list.data?.items.map((p) => <PhotoCard key={p.id} photo={p} onRemoved={list.reload} />)}
      </ul>
    </section>
  );
}

function Submit({ onDone }: { onDone: () => void }) {
  const [kind, setKind] = useState<'upscale' | 'bestcut'>('upscale');
  const [files, setFiles] = useState<File[]>([]);
  const [scale, setScale] = useState<2 | 4>(2);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    if (kind === 'upscale' && files.length !== 1) return setError('Choose one photo to upscale.');
    if (kind === 'bestcut' && (files.length < 2 || files.length > 10)) return setError('Choose 2 to 10 photos of the same moment.');
    setProgress(0);
    try {
      const onProgress = (p: { fraction: number }) => setProgress(p.fraction);
      if (kind === 'upscale') await easel.api.photos.upscale({ file: files[0]!, scale }, { onProgress });
      else await easel.api.photos.bestcut(files, { onProgress });
      setFiles([]);
      onDone();
    } catch (err) {
      setError(message(err));
    } finally {
      setProgress(null);
    }
  }
  return (
    <form class="card" onSubmit={submit} aria-label="New photo job">
      <div class="tabs" role="radiogroup" aria-label="What to do">
        <label class="check">
          <input type="radio" name="kind" checked={kind === 'upscale'} onChange={() => setKind('upscale')} /> Upscale
        </label>
        <label class="check">
          <input type="radio" name="kind" checked={kind === 'bestcut'} onChange={() => setKind('bestcut')} /> Best cut
        </label>
        {kind === 'upscale' && (
          <label>
            Scale{' '}
            <select value={scale} onChange={(e) => setScale(e.currentTarget.value === '4' ? 4 : 2)}>
              <option value="2">2×</option>
              <option value="4">4×</option>
            </select>
          </label>
        )}
      </div>
      <DropZone id="photo-files" files={files} onFiles={setFiles} multiple={kind === 'bestcut'} label={kind === 'upscale' ? 'Drop a photo or choose one' : 'Drop 2–10 photos or choose them'} />
      {progress !== null && <Progress value={progress} label="Upload progress" id="photo-upload-progress" />}
      <ErrorBox error={error} />
      <button type="submit" class="primary" disabled={progress !== null}>
        {kind === 'upscale' ? 'Upscale' : 'Pick the best'}
      </button>
    </form>
  );
}

function useBlobUrl(photo: Photo, type: 'original' | 'processed', enabled: boolean): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!enabled) return;
    let made: string | null = null;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The photo row follows its job a moment after the job's final push: retry a few times before giving up.
    const load = (attempt: number) =>
      easel.api.photos.file(photo.id, type).then(
        (blob) => {
          if (!live) return;
          made = URL.createObjectURL(blob);
          setUrl(made);
        },
        () => {
          if (live && attempt < 8) timer = setTimeout(() => void load(attempt + 1), 250 * (attempt + 1));
        },
      );
    void load(0);
    return () => {
      live = false;
      clearTimeout(timer);
      if (made) URL.revokeObjectURL(made);
    };
  }, [photo.id, type, enabled]);
  return url;
}

function PhotoCard({ photo, onRemoved }: { photo: Photo; onRemoved: () => void }) {
  const [job, setJob] = useState<JobView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [split, setSplit] = useState(50);
  const finishedAtLoad = photo.status === 'completed' || photo.status === 'failed';
  useEffect(() => {
    if (finishedAtLoad) return;
    const w = easel.watchJob(photo.id, setJob, (e) => setError(e.message));
    return () => w.close();
  }, [photo.id, finishedAtLoad]);
  const status = job ? (job.status === 'active' ? 'processing' : job.status) : photo.status;
  const done = status === 'completed';
  const before = useBlobUrl(photo, 'original', true);
  const after = useBlobUrl(photo, 'processed', done);
  const failed = status === 'failed' || status === 'cancelled';
  async function remove() {
    try {
      await easel.api.photos.remove(photo.id);
      onRemoved();
    } catch (err) {
      setError(message(err));
    }
  }
  return (
    <li class="card photo" data-photo-id={photo.id} data-status={status}>
      <div class="row">
        <strong>{photo.kind === 'upscale' ? 'Upscale' : 'Best cut'}</strong>
        <span class={`badge status-${status}`}>{status}</span>
        <span class="muted">{new Date(photo.created_at).toLocaleString()}</span>
      </div>
      {!failed && <Progress value={done ? 1 : (job?.progress ?? 0)} label={`${photo.kind} progress`} id={`progress-${photo.id}`} />}
      {job?.stage && !done && <p class="muted">{job.stage}</p>}
      {failed && <ErrorBox error={job?.error?.message ?? photo.error ?? 'failed'} />}
      {done && after && before && (
        <div class="compare" aria-label="Before and after">
          <img src={after} alt="after" class="after" />
          <img src={before} alt="before" class="before" style={{ clipPath: `inset(0 ${100 - split}% 0 0)` }} />
          <input type="range" min={0} max={100} value={split} aria-label="Before/after split" onInput={(e) => setSplit(Number(e.currentTarget.value))} />
        </div>
      )}
      {done && !after && <Loading what="Loading the result" />}
      <div class="row">
        {done && after && (
          <a class="button download" href={after} download={`easel-${photo.kind}-${photo.id}.png`}>
            Download
          </a>
        )}
        <button type="button" class="small" onClick={() => void remove()}>
          Delete
        </button>
      </div>
      <ErrorBox error={error} />
    </li>
  );
}
