import { useEffect, useState } from 'preact/hooks';
import { Easel, webStore, type AuthState, type Link } from '../../src/client/index.js';

/** One client for the page: tokens in localStorage, the page's own origin, online/offline followed. */
export const easel = new Easel({ store: webStore('easel.session') });

// Tests and curious people can reach the client from the console.
(window as unknown as { easel: Easel }).easel = easel;

export function useAuth(): AuthState {
  const [state, setState] = useState<AuthState>(easel.auth.state);
  useEffect(() => easel.onAuth(setState), []);
  return state;
}

export function useLink(): Link {
  const [link, setLink] = useState<Link>(easel.link);
  useEffect(() => easel.onLink(setLink), []);
  return link;
}

export function useHashRoute(): string[] {
  const read = () => (location.hash.replace(/^#\/?/, '') || 'feed').split('/');
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** Loads once per `deps` change; `reload` runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | null; error: string | null; loading: boolean; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load().then(
      (d) => {
        if (!live) return;
        setData(d);
        setError(null);
        setLoading(false);
      },
      (e: Error) => {
        if (!live) return;
        setError(e.message);
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { data, error, loading, reload: () => setTick((t) => t + 1) };
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
