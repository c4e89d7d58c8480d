import { io, type Socket } from 'socket.io-client';
import { createApi, type Api } from './api.js';
import type { EmitName, EmitPayload, EmitReply, Namespace, PushName, PushPayload, RegisterInput } from './contract.js';
import { EaselError, TIMEOUT } from './errors.js';
import { createHttp, type Http, type UploadProgress } from './http.js';
import { SessionKeeper, memoryStore, type AuthState, type SessionStore, type StoredSession } from './session.js';
import { EventTracker, JobTracker, StudioTracker, type Cause, type EventPush, type EventView, type JobPush, type JobView, type StudioPush, type StudioView } from './streams.js';
import type { StudioOpenPayload, StudioSendAck, StudioSendPayload } from './studio-contract.js';

export interface EaselOptions {
  /** The hub's base URL; '' (default) is the page's own origin in a browser. */
  url?: string;
  /** Where tokens live between runs: `webStore()` in a browser; memory by default. */
  store?: SessionStore;
  fetch?: typeof fetch;
  /** socket.io transports; default websocket only (no sticky sessions needed behind a load balancer). */
  transports?: ('websocket' | 'polling')[];
  ackTimeoutMs?: number;
  /** Follow the browser's online/offline events (default: when `window` exists). */
  watchNetwork?: boolean;
}

/** idle: nothing open yet; online: every open namespace connected; offline: the device says it has no network. */
export type Link = 'idle' | 'connecting' | 'online' | 'reconnecting' | 'offline';

export interface Watch<V> {
  readonly view: V | null;
  close(): void;
}

type Listener<T> = (value: T) => void;

/** One namespace's socket: connects while someone needs it and the user is signed in; resumes streams on every connect. */
class ManagedSocket {
  readonly socket: Socket;
  readonly resumers = new Set<() => void>();
  state: Link = 'idle';
  private wanted = false;
  private failures = 0;
  private retry: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly ns: Namespace,
    private readonly client: Easel,
    url: string,
    transports: string[],
  ) {
    this.socket = io(url + (ns === '/' ? '/' : ns), {
      autoConnect: false,
      transports,
      // Read at every (re)connect, so a refreshed token is what the next handshake presents.
      auth: (cb) => cb({ token: client.auth.token ?? '' }),
      reconnectionDelay: 300,
      reconnectionDelayMax: 3000,
      randomizationFactor: 0.3,
    });
    const s = this.socket;
    s.on('connect', () => {
      this.failures = 0;
      this.set('online');
      for (const r of [...this.resumers]) r();
    });
    s.on('disconnect', (reason) => {
      if (!this.wanted) return this.set('idle');
      this.set(client.offline ? 'offline' : 'reconnecting');
      // The server ended this socket (token expired, account change): socket.io will not retry by itself.
      if (reason === 'io server disconnect') void this.reauth();
    });
    s.on('connect_error', (err: Error & { data?: { code?: string; retryAfter?: number } }) => {
      if (!this.wanted) return;
      this.set(client.offline ? 'offline' : 'reconnecting');
      const code = err.data?.code;
      if (code && (code.startsWith('token_') || code === 'unauthorized')) return void this.reauth(code);
      // A refusal by the hub's middleware (rate limit, too many sockets) is not retried by socket.io.
      if (!s.active) this.later((err.data?.retryAfter ?? 2) * 1000);
    });
    s.on('auth:expired', () => void this.reauth());
  }

  private set(state: Link): void {
    if (this.state === state) return;
    this.state = state;
    this.client.linkChanged();
  }

  private later(ms: number): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      this.retry = null;
      this.open();
    }, ms);
  }

  private async reauth(code = 'token_expired'): Promise<void> {
    const renewed = await this.client.auth.renew();
    if (renewed) return this.reopen();
    const s = this.client.auth.current;
    if (!s) return;
    // Not renewable (a guest, or refused). An expiry the local clock does not see yet may be clock skew or a
    // token another socket just renewed: try a few more times; any other refusal ends the session.
    if (code === 'token_expired' && s.expiresAt > Date.now() + 1000 && ++this.failures <= 5) return this.later(1000);
    this.client.auth.set(null, code);
  }

  /** Wanted connected from now on (a watch, a request or a listener needs it). */
  open(): void {
    this.wanted = true;
    if (!this.client.auth.token || this.client.offline) {
      this.set(this.client.offline ? 'offline' : 'idle');
      return;
    }
    if (!this.socket.connected && !this.socket.active) {
      this.set(this.state === 'idle' ? 'connecting' : 'reconnecting');
      this.socket.connect();
    }
  }

  /** Drop the transport but keep wanting it (offline, identity change). */
  pause(): void {
    if (this.retry) clearTimeout(this.retry);
    this.socket.disconnect();
    if (this.wanted) this.set(this.client.offline ? 'offline' : 'reconnecting');
  }

  reopen(): void {
    if (!this.wanted) return;
    if (this.socket.connected || this.socket.active) this.socket.disconnect();
    this.open();
  }

  close(): void {
    this.wanted = false;
    if (this.retry) clearTimeout(this.retry);
    this.socket.disconnect();
    this.set('idle');
  }
}

/**
 * The Easel client: typed REST helpers (`api`), one socket.io connection per namespace used, promise acks,
 * token refresh with `auth:refresh`, and resumable streams for jobs, live events and studio sessions.
 *
 * @example
 * const easel = new Easel({ url: 'http://127.0.0.1:8000' });
 * await easel.signIn('ada', 'correct-horse-battery');
 * const job = easel.watchJob(jobId, (view) => console.log(view.status, view.progress));
 */
export class Easel {
  readonly http: Http;
  readonly api: Api;
  readonly auth: SessionKeeper;
  offline = false;
  private readonly url: string;
  private readonly transports: string[];
  private readonly ackTimeoutMs: number;
  private readonly sockets = new Map<Namespace, ManagedSocket>();
  private readonly authListeners = new Set<Listener<AuthState>>();
  private readonly linkListeners = new Set<Listener<Link>>();
  private lastLink: Link = 'idle';
  private identity: string | null;
  private readonly unwatchNetwork: () => void = () => {};

  constructor(opts: EaselOptions = {}) {
    this.url = (opts.url ?? '').replace(/\/$/, '');
    this.transports = opts.transports ?? ['websocket'];
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 15_000;
    this.http = createHttp({ baseUrl: this.url, fetch: opts.fetch, token: () => this.auth.token, renew: () => this.auth.renew() });
    this.api = createApi(this.http);
    this.auth = new SessionKeeper({
      store: opts.store ?? memoryStore(),
      refresh: (rt) => this.api.auth.refresh(rt),
      onRenewed: (s) => this.swapToken(s),
      onChange: (state) => this.authChanged(state),
    });
    this.identity = identityOf(this.auth.current);
    const w = globalThis as { addEventListener?: (t: string, f: () => void) => void; removeEventListener?: (t: string, f: () => void) => void; navigator?: { onLine?: boolean } };
    if ((opts.watchNetwork ?? typeof w.addEventListener === 'function') && w.addEventListener && w.removeEventListener) {
      const off = () => this.setOffline(true);
      const on = () => this.setOffline(false);
      w.addEventListener('offline', off);
      w.addEventListener('online', on);
      this.offline = w.navigator?.onLine === false;
      this.unwatchNetwork = () => {
        w.removeEventListener?.('offline', off);
        w.removeEventListener?.('online', on);
      };
    }
  }

  // ---------------- auth ----------------

  /** Sign in. A guest who signs in keeps their studio sessions: the next studio open attaches them. */
  async signIn(username: string, password: string): Promise<void> {
    const former = this.guestToken();
    const pair = await this.api.auth.token(username, password);
    this.auth.set({ ...userSession(pair), ...(former ? { formerGuestToken: former } : {}) });
  }

  /** Create the account and sign in. */
  async register(input: RegisterInput): Promise<void> {
    await this.api.auth.register(input);
    await this.signIn(input.username, input.password);
  }

  async continueAsGuest(): Promise<void> {
    const g = await this.api.auth.guest();
    const now = Date.now();
    this.auth.set({ kind: 'guest', accessToken: g.access_token, refreshToken: null, issuedAt: now, expiresAt: now + g.expires_in * 1000, guestId: g.guest_id });
  }

  async signOut(): Promise<void> {
    const rt = this.auth.current?.refreshToken;
    if (rt) await this.api.auth.logout(rt).catch(() => undefined);
    this.auth.set(null, 'signed_out');
  }

  onAuth(cb: Listener<AuthState>): () => void {
    this.authListeners.add(cb);
    return () => this.authListeners.delete(cb);
  }

  private guestToken(): string | undefined {
    const s = this.auth.current;
    return s?.kind === 'guest' ? s.accessToken : undefined;
  }

  private authChanged(state: AuthState): void {
    const next = state.state === 'signed-out' ? null : identityOf(state.session);
    if (next !== this.identity) {
      this.identity = next;
      // Another identity cannot take over a socket (auth:refresh refuses it): reconnect with the new token.
      for (const m of this.sockets.values()) if (next) m.reopen();
      else m.pause();
    }
    for (const cb of this.authListeners) cb(state);
  }

  /** Same identity, fresh token: swap it on every live socket without reconnecting. */
  private swapToken(s: StoredSession): void {
    for (const m of this.sockets.values()) {
      if (!m.socket.connected) continue;
      m.socket.timeout(this.ackTimeoutMs).emit('auth:refresh', { token: s.accessToken }, (err: Error | null, ack?: { ok: boolean }) => {
        if (err || !ack?.ok) m.reopen();
      });
    }
  }

  // ---------------- link ----------------

  get link(): Link {
    return this.lastLink;
  }

  onLink(cb: Listener<Link>): () => void {
    this.linkListeners.add(cb);
    return () => this.linkListeners.delete(cb);
  }

  /** @internal */
  linkChanged(): void {
    const states = [...this.sockets.values()].map((m) => m.state).filter((s) => s !== 'idle');
    const link: Link = this.offline ? 'offline' : states.length === 0 ? 'idle' : states.includes('reconnecting') ? 'reconnecting' : states.includes('connecting') ? 'connecting' : 'online';
    if (link === this.lastLink) return;
    this.lastLink = link;
    for (const cb of this.linkListeners) cb(link);
  }

  /** The device lost or regained its network: drop sockets at once, reconnect (and resume) the moment it is back. */
  setOffline(offline: boolean): void {
    if (this.offline === offline) return;
    this.offline = offline;
    for (const m of this.sockets.values()) if (offline) m.pause();
    else m.open();
    this.linkChanged();
  }

  // ---------------- sockets ----------------

  private sock(ns: Namespace): ManagedSocket {
    let m = this.sockets.get(ns);
    if (!m) {
      m = new ManagedSocket(ns, this, this.url, this.transports);
      this.sockets.set(ns, m);
    }
    m.open();
    return m;
  }

  /** The raw socket.io socket of a namespace (connecting it), for anything the helpers do not cover. */
  socket(ns: Namespace): Socket {
    return this.sock(ns).socket;
  }

  /** Emit with an ack: resolves with `data`, rejects with an EaselError carrying the ack's `code`. */
  request<N extends Namespace, E extends EmitName<N>>(ns: N, event: E, payload: EmitPayload<N, E>, timeoutMs = this.ackTimeoutMs): Promise<EmitReply<N, E>> {
    const s = this.sock(ns).socket;
    return new Promise((resolve, reject) => {
      s.timeout(timeoutMs).emit(event, payload, (err: Error | null, ack?: { ok: true; data: unknown } | { ok: false; error: { code: string; message: string; errors?: { path: string; message: string }[] } }) => {
        if (err || !ack) return reject(new EaselError(TIMEOUT, `no answer to ${event} within ${timeoutMs} ms`));
        if (ack.ok) resolve(ack.data as EmitReply<N, E>);
        else reject(new EaselError(ack.error.code, ack.error.message, 0, ack.error.errors));
      });
    });
  }

  /** Listen to a push; returns the unsubscribe function. */
  on<N extends Namespace, E extends PushName<N>>(ns: N, event: E, cb: (payload: PushPayload<N, E>) => void): () => void {
    const s = this.sock(ns).socket;
    const f = cb as (...args: unknown[]) => void;
    s.on(event as string, f);
    return () => void s.off(event as string, f);
  }

  /**
   * Runs `sync` now (if connected) and after every reconnect; pushes that arrive while a sync is in flight
   * are held and applied after its ack, so they are neither lost nor applied twice.
   */
  private stream<P>(ns: Namespace, sync: () => Promise<void>, apply: (p: P) => 'applied' | 'duplicate' | 'gap', onError: (e: EaselError) => void) {
    const m = this.sock(ns);
    let syncing = false;
    let again = false;
    let closed = false;
    let held: P[] = [];
    const run = async (): Promise<void> => {
      if (closed) return;
      if (syncing) {
        again = true;
        return;
      }
      syncing = true;
      try {
        await sync();
      } catch (err) {
        const e = err instanceof EaselError ? err : new EaselError('client_error', (err as Error).message);
        // A timeout or a dropped socket resumes on the next connect; anything else is the app's to show.
        if (e.code !== TIMEOUT) onError(e);
      } finally {
        syncing = false;
      }
      const queued = held;
      held = [];
      let gap = false;
      for (const p of queued) if (apply(p) === 'gap') gap = true;
      if ((gap || again) && !closed) {
        again = false;
        void run();
      }
    };
    const resume = () => void run();
    m.resumers.add(resume);
    if (m.socket.connected) resume();
    return {
      push(p: P): void {
        if (closed) return;
        if (syncing) held.push(p);
        else if (apply(p) === 'gap') {
          // Kept for after the sync: the snapshot can be older than this push (job progress reaches the row
          // up to jobs.progressWriteMs after its push), and dropping it would leave the view stale until the
          // next push. Applied after the sync it is newer (applied), older (duplicate), or still a gap (one
          // more sync, during which it is not kept again).
          held.push(p);
          void run();
        }
      },
      close(): void {
        closed = true;
        m.resumers.delete(resume);
      },
    };
  }

  // ---------------- resumable streams ----------------

  /** Follow a job (owner or admin): `onChange` gets every state once, in order, across reconnects. */
  watchJob(jobId: string, onChange: (view: JobView, cause: Cause) => void, onError: (e: EaselError) => void = () => {}): Watch<JobView> {
    const t = new JobTracker(jobId);
    const report = (cause: Cause) => t.view && onChange(t.view, cause);
    const st = this.stream<JobPush>(
      '/',
      async () => t.ack(await this.request('/', 'job:watch', t.since === undefined ? { jobId } : { jobId, since: t.since }), report),
      (p) => {
        if (!t.view) return 'gap';
        if (!t.push(p)) return 'duplicate';
        report({ kind: 'push', event: p.event });
        return 'applied';
      },
      onError,
    );
    const offs = (['job:progress', 'job:done', 'job:failed'] as const).map((event) =>
      this.on('/', event, (data) => {
        if (data.jobId === jobId) st.push({ event, data } as JobPush);
      }),
    );
    return {
      get view() {
        return t.view;
      },
      close: () => {
        st.close();
        for (const off of offs) off();
        if (this.sockets.get('/')?.socket.connected) this.request('/', 'job:unwatch', { jobId }).catch(() => undefined);
      },
    };
  }

  /** Follow a live event: bracket, current matchup, tallies, results, champion; resumes with `since`. */
  joinEvent(eventId: number, onChange: (view: EventView, cause: Cause) => void, onError: (e: EaselError) => void = () => {}): Watch<EventView> & { vote(choice: 'left' | 'right' | number): Promise<{ counted: boolean; choice: 'left' | 'right' }> } {
    const t = new EventTracker(eventId);
    const report = (cause: Cause) => t.view && onChange(t.view, cause);
    const st = this.stream<EventPush>(
      '/tournament',
      async () => t.ack(await this.request('/tournament', 'event:join', t.since === undefined ? { eventId } : { eventId, since: t.since }), report),
      (p) => {
        if (!t.view) return 'gap';
        const out = t.push(p);
        if (out === 'applied') report({ kind: 'push', event: p.event });
        return out;
      },
      onError,
    );
    const offs = (['event:matchup', 'event:tally', 'event:result', 'event:finished'] as const).map((event) =>
      this.on('/tournament', event, (data) => {
        if (data.eventId === eventId) st.push({ event, data } as EventPush);
      }),
    );
    return {
      get view() {
        return t.view;
      },
      vote: async (choice) => {
        const matchupId = t.view?.current_matchup_id;
        if (!matchupId) throw new EaselError('no_open_matchup', 'no matchup is open for voting');
        const ack = await this.request('/tournament', 'event:vote', { eventId, matchupId, choice });
        t.voted(matchupId, ack.choice);
        report({ kind: 'push', event: 'event:vote' });
        return ack;
      },
      close: () => {
        st.close();
        for (const off of offs) off();
        if (this.sockets.get('/tournament')?.socket.connected) this.request('/tournament', 'event:leave', { eventId }).catch(() => undefined);
      },
    };
  }

  /**
   * Open a studio session (null: start one); deltas stream into `view.streaming` until message:done. After a
   * guest signs in or registers, the first open also attaches that guest's sessions to the account.
   */
  openStudio(sessionId: string | null, onChange: (view: StudioView, cause: Cause) => void, onError: (e: EaselError) => void = () => {}): Watch<StudioView> & {
    send(msg: Omit<StudioSendPayload, 'sessionId'>): Promise<StudioSendAck>;
    /** The same over `POST /generate`, with a photo attached (multipart; upload progress in a browser). */
    generate(msg: Pick<StudioSendPayload, 'text' | 'generationType' | 'style' | 'aspectRatio' | 'tone'>, image: Blob, opts?: { onProgress?: (p: UploadProgress) => void }): Promise<StudioSendAck>;
  } {
    const t = new StudioTracker(sessionId);
    const report = (cause: Cause) => t.view && onChange(t.view, cause);
    const st = this.stream<StudioPush>(
      '/studio',
      async () => {
        const s = this.auth.current;
        const guestToken = s?.kind === 'user' ? s.formerGuestToken : undefined;
        const payload: StudioOpenPayload = { sessionId: t.sessionId, ...(t.since !== undefined ? { since: t.since } : {}), ...(guestToken ? { guestToken } : {}) };
        const ack = await this.request('/studio', 'session:open', payload).catch((err: unknown) => {
          // A guest token that expired or was refused must not block opening the session itself.
          if (guestToken && err instanceof EaselError && /guest/.test(err.code)) {
            this.auth.patch({ formerGuestToken: undefined });
            return this.request('/studio', 'session:open', { sessionId: t.sessionId, ...(t.since !== undefined ? { since: t.since } : {}) });
          }
          throw err;
        });
        if (guestToken) this.auth.patch({ formerGuestToken: undefined });
        t.ack(ack, report);
      },
      (p) => {
        if (!t.view) return 'gap';
        const out = t.push(p);
        if (out === 'applied') report({ kind: 'push', event: p.event });
        return out;
      },
      onError,
    );
    const offs = [
      this.on('/studio', 'message:delta', (data) => st.push({ event: 'message:delta', data })),
      this.on('/studio', 'message:done', (data) => st.push({ event: 'message:done', data })),
      this.on('/studio', 'job:progress', (data) => t.progressed(data) && report({ kind: 'push', event: 'job:progress' })),
    ];
    return {
      get view() {
        return t.view;
      },
      send: async (msg) => {
        if (!t.sessionId) throw new EaselError('session_not_open', 'the session is not open yet');
        const ack = await this.request('/studio', 'message:send', { ...msg, sessionId: t.sessionId });
        t.sent({ id: ack.messageId, session_id: ack.sessionId, role: 'user', content: msg.text, image: null, job_id: ack.jobId, status: 'done', error: null, meta: null, created_at: new Date().toISOString() }, ack.jobId);
        report({ kind: 'push', event: 'message:send' });
        return ack;
      },
      generate: async (msg, image, opts = {}) => {
        if (!t.sessionId) throw new EaselError('session_not_open', 'the session is not open yet');
        const ack = await this.api.studio.generate(
          { input_text: msg.text, session_id: t.sessionId, generation_type: msg.generationType, style: msg.style, aspect_ratio: msg.aspectRatio, ...(msg.tone ? { tone: msg.tone } : {}) },
          image,
          opts,
        );
        t.sent({ id: ack.message_id, session_id: ack.session_id, role: 'user', content: msg.text, image: null, job_id: ack.job_id, status: 'done', error: null, meta: null, created_at: new Date().toISOString() }, ack.job_id);
        report({ kind: 'push', event: 'message:send' });
        return { jobId: ack.job_id, messageId: ack.message_id, sessionId: ack.session_id };
      },
      close: () => {
        st.close();
        for (const off of offs) off();
        const id = t.sessionId;
        if (id && this.sockets.get('/studio')?.socket.connected) this.request('/studio', 'session:close', { sessionId: id }).catch(() => undefined);
      },
    };
  }

  /** Live like count of an image (highest seq wins; re-watched after reconnects). */
  watchLikes(imageId: number, onCount: (likeCount: number) => void): () => void {
    let seq = -1;
    const take = (d: { like_count: number; seq: number }) => {
      if (d.seq <= seq) return;
      seq = d.seq;
      onCount(d.like_count);
    };
    const st = this.stream<{ like_count: number; seq: number; imageId: number }>('/', async () => take(await this.request('/', 'image:watch', { imageId })), (p) => (take(p), 'applied'), () => {});
    const off = this.on('/', 'image:likes', (d) => d.imageId === imageId && st.push(d));
    return () => {
      st.close();
      off();
      if (this.sockets.get('/')?.socket.connected) this.request('/', 'image:unwatch', { imageId }).catch(() => undefined);
    };
  }

  /** The leaderboard page now and after every reconnect, then each live update. */
  watchLeaderboard(opts: { limit?: number; sort?: 'canonical' | 'live' }, onPage: (page: EmitReply<'/tournament', 'leaderboard:watch'>) => void, onUpdate: (u: PushPayload<'/tournament', 'leaderboard:update'>) => void): () => void {
    const st = this.stream<null>('/tournament', async () => onPage(await this.request('/tournament', 'leaderboard:watch', opts)), () => 'applied', () => {});
    const off = this.on('/tournament', 'leaderboard:update', onUpdate);
    return () => {
      st.close();
      off();
    };
  }

  /** Disconnect everything and stop timers (Node scripts call this to exit). */
  close(): void {
    this.auth.close();
    this.unwatchNetwork();
    for (const m of this.sockets.values()) m.close();
    this.sockets.clear();
  }
}

function identityOf(s: StoredSession | null): string | null {
  if (!s) return null;
  if (s.kind === 'guest') return `guest:${s.guestId ?? s.accessToken}`;
  try {
    const part = s.accessToken.split('.')[1] ?? '';
    const json = JSON.parse(decodeBase64Url(part)) as { sub?: unknown };
    return `user:${String(json.sub)}`;
  } catch {
    return `user:${s.accessToken}`;
  }
}

function decodeBase64Url(s: string): string {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
  const bin = globalThis.atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return decodeURIComponent(Array.from(bin, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''));
}

function userSession(pair: { access_token: string; refresh_token: string; expires_in: number }): StoredSession {
  const now = Date.now();
  return { kind: 'user', accessToken: pair.access_token, refreshToken: pair.refresh_token, issuedAt: now, expiresAt: now + pair.expires_in * 1000 };
}
