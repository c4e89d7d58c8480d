import type { ComponentChildren } from 'preact';
import type { Link } from '../../src/client/index.js';

export function Progress({ value, label, id }: { value: number; label: string; id?: string }) {
  const pct = Math.round(Math.max(0, Math.min(1, value)) * 100);
  return (
    <div class="progress" id={id} role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} data-value={pct}>
      <div class="progress-fill" style={{ width: `${pct}%` }} />
      <span class="progress-text">{pct}%</span>
    </div>
  );
}

export function ErrorBox({ error, retry }: { error: string | null; retry?: () => void }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      <span>{error}</span>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

const LINK_TEXT: Partial<Record<Link, string>> = {
  offline: 'You are offline. Live updates resume when the network is back.',
  reconnecting: 'Reconnecting… live updates will catch up.',
  connecting: 'Connecting…',
};

export function LinkBanner({ link }: { link: Link }) {
  const text = LINK_TEXT[link];
  return (
    <div class={`link link-${link}`} role="status" aria-live="polite" data-link={link}>
      {text ?? ''}
    </div>
  );
}

export function Countdown({ to, offsetMs }: { to: string | null; offsetMs: number }) {
  if (!to) return null;
  const left = Math.max(0, Date.parse(to) - (Date.now() + offsetMs));
  return (
    <span class="countdown" aria-label="time left to vote">
      {(left / 1000).toFixed(1)} s
    </span>
  );
}
