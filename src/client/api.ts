import type {
  CreateEventInput,
  GuestToken,
  Image,
  ImagePageDto,
  ImageStatsDto,
  Job,
  JobPageDto,
  Leaderboard,
  Like,
  LiveEvent,
  LiveEventPage,
  MePatch,
  PhotoJob,
  PhotoPage,
  QuickMatchup,
  RandomImagesDto,
  RegisterInput,
  TokenPair,
  TopImagesDto,
  User,
  VoteOutcome,
} from './contract.js';
import type { Http, Query, UploadProgress } from './http.js';
import type { JobType, StoredMedia } from './contract.js';
import type { AdStyle, AspectRatio, GenerateAccepted, GenerationPage, GenerationType, StudioMessagePage, StudioSessionCreated, StudioSessionPage } from './studio-contract.js';

const V1 = '/api/v1';
type Progress = { onProgress?: (p: UploadProgress) => void; signal?: AbortSignal };

function form(fields: Record<string, string | number | boolean | undefined | null>, files: [string, Blob, string?][]): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) f.append(k, String(v));
  for (const [k, blob, name] of files) f.append(k, blob, name ?? (blob as { name?: string }).name ?? 'upload');
  return f;
}

/** Typed REST helpers, one per route of DESIGN.md's HTTP contract (prefix /api/v1). */
export function createApi(http: Http) {
  const get = <T>(path: string, query?: Query) => http.request<T>('GET', V1 + path, { query });
  const send = <T>(method: string, path: string, json?: unknown) => http.request<T>(method, V1 + path, json === undefined ? {} : { json });
  return {
    auth: {
      register: (body: RegisterInput) => http.request<User>('POST', `${V1}/auth/register`, { json: body, auth: false }),
      token: (username: string, password: string) => http.request<TokenPair>('POST', `${V1}/auth/token`, { json: { username, password }, auth: false }),
      refresh: (refresh_token: string) => http.request<TokenPair>('POST', `${V1}/auth/refresh`, { json: { refresh_token }, auth: false }),
      logout: (refresh_token: string) => http.request<null>('POST', `${V1}/auth/logout`, { json: { refresh_token } }),
      guest: () => http.request<GuestToken>('POST', `${V1}/auth/guest`, { auth: false }),
      me: () => get<User>('/auth/me'),
      updateMe: (patch: MePatch) => send<User>('PATCH', '/auth/me', patch),
      deleteMe: (current_password: string) => send<null>('DELETE', '/auth/me', { current_password }),
    },
    media: {
      /** Path of a stored blob (public variants need no token). */
      url: (sha256: string, variant: 'original' | 'thumb' | 'webp' = 'original') => http.url(`${V1}/media/${sha256}`, { variant }),
      /** Store an image (users): 201 new content, 200 the same bytes again; answers its sha256 and URLs. */
      upload: (file: Blob, opts: Progress = {}) => http.upload<StoredMedia>(`${V1}/media`, form({}, [['file', file]]), opts),
    },
    images: {
      list: (q: { limit?: number; cursor?: string; user_id?: number } = {}) => get<ImagePageDto>('/images', q),
      random: (limit = 1) => get<RandomImagesDto>('/images/random', { limit }),
      top: (window: '1h' | '24h' | '7d' | '30d' = '24h', limit = 10) => get<TopImagesDto>('/images/top', { window, limit }),
      get: (id: number) => get<Image>(`/images/${id}`),
      update: (id: number, patch: { prompt?: string; model_name?: string | null; tournament_opt_in?: boolean }) => send<Image>('PATCH', `/images/${id}`, patch),
      remove: (id: number) => send<null>('DELETE', `/images/${id}`),
      like: (id: number) => send<Like>('PUT', `/images/${id}/like`),
      unlike: (id: number) => send<Like>('DELETE', `/images/${id}/like`),
      stats: (id: number) => get<ImageStatsDto>(`/images/${id}/stats`),
      upload: (input: { file: Blob; prompt: string; model_name?: string; tournament_opt_in?: boolean; filename?: string }, opts: Progress = {}) =>
        http.upload<Image>(`${V1}/images`, form({ prompt: input.prompt, model_name: input.model_name, tournament_opt_in: input.tournament_opt_in }, [['file', input.file, input.filename]]), opts),
    },
    photos: {
      upscale: (input: { file: Blob; scale?: 2 | 4; lat?: number; lng?: number; filename?: string }, opts: Progress = {}) =>
        http.upload<PhotoJob>(`${V1}/photos/upscale`, form({ scale: input.scale, lat: input.lat, lng: input.lng }, [['file', input.file, input.filename]]), opts),
      bestcut: (files: Blob[], opts: Progress & { lat?: number; lng?: number } = {}) =>
        http.upload<PhotoJob>(`${V1}/photos/bestcut`, form({ lat: opts.lat, lng: opts.lng }, files.map((f, i) => ['files', f, (f as { name?: string }).name ?? `photo-${i}`] as [string, Blob, string])), opts),
      list: (q: { limit?: number; cursor?: string } = {}) => get<PhotoPage>('/photos', q),
      /** The original or processed file (needs the owner's token, so it is fetched rather than linked). */
      file: (id: string, type: 'original' | 'processed' = 'processed') => http.request<Blob>('GET', `${V1}/photos/${id}/file`, { query: { type }, as: 'blob' }),
      remove: (id: string) => send<null>('DELETE', `/photos/${id}`),
    },
    tournaments: {
      match: () => get<{ matchup: QuickMatchup }>('/tournaments/match'),
      vote: (matchup_token: string, winner_id: number) => send<VoteOutcome>('POST', '/tournaments/vote', { matchup_token, winner_id }),
      leaderboard: (q: { limit?: number; cursor?: string; sort?: 'canonical' | 'live' } = {}) => get<Leaderboard>('/leaderboard', q),
    },
    events: {
      list: (q: { status?: 'upcoming' | 'live' | 'finished'; limit?: number; cursor?: string } = {}) => get<LiveEventPage>('/events', q),
      get: (id: number) => get<LiveEvent>(`/events/${id}`),
      create: (body: CreateEventInput) => send<LiveEvent>('POST', '/events', body),
      start: (id: number) => send<LiveEvent>('POST', `/events/${id}/start`),
    },
    jobs: {
      list: (q: { type?: string; status?: string; limit?: number; cursor?: string } = {}) => get<JobPageDto>('/jobs', q),
      get: (id: string) => get<Job>(`/jobs/${id}`),
      cancel: (id: string) => send<Job>('POST', `/jobs/${id}/cancel`),
      remove: (id: string) => send<null>('DELETE', `/jobs/${id}`),
      /** Admins: queue and worker statistics, pause/resume a job type, retry a failed or cancelled job. */
      adminStats: () => get<Record<string, unknown>>('/admin/jobs/stats'),
      pauseQueue: (type: JobType) => send<{ type: string; paused: boolean }>('POST', `/admin/queues/${type}/pause`),
      resumeQueue: (type: JobType) => send<{ type: string; paused: boolean }>('POST', `/admin/queues/${type}/resume`),
      retry: (id: string) => send<Job>('POST', `/admin/jobs/${id}/retry`),
    },
    ops: {
      health: () => http.request<Record<string, unknown>>('GET', '/health', { auth: false }),
      ready: () => http.request<Record<string, unknown>>('GET', '/ready', { auth: false }),
    },
    studio: {
      /** Resume or start a session; `guest_token` (a signed-in user's former guest token) attaches that guest's sessions. */
      createSession: (body: { session_id?: string; guest_token?: string } = {}) => send<StudioSessionCreated>('POST', '/chat/sessions', body),
      sessions: (q: { limit?: number; cursor?: string } = {}) => get<StudioSessionPage>('/chat/sessions', q),
      messages: (sessionId: string, q: { limit?: number; cursor?: string } = {}) => get<StudioMessagePage>(`/chat/sessions/${sessionId}/messages`, q),
      /** Multipart generation request (the socket's message:send does the same); `image` is an optional photo. */
      generate: (fields: { input_text: string; session_id?: string; generation_type?: GenerationType; style?: AdStyle; aspect_ratio?: AspectRatio; tone?: string; keywords?: string; industry?: string; segment_id?: number; seed?: number }, image?: Blob, opts: Progress = {}) =>
        http.upload<GenerateAccepted>(`${V1}/generate`, form(fields, image ? [['image', image]] : []), opts),
      generations: (q: { session_id?: string; content_type?: GenerationType; from?: string; to?: string; limit?: number; cursor?: string } = {}) => get<GenerationPage>('/generations', q),
      segments: () => get<unknown>('/segments'),
      createSegment: (body: { name: string; description?: string; criteria?: Record<string, unknown> }) => send<unknown>('POST', '/segments', body),
      removeSegment: (id: number) => send<null>('DELETE', `/segments/${id}`),
      costsSummary: (q: Query = {}) => get<Record<string, unknown>>('/costs/summary', q),
      costsHistory: (q: Query = {}) => get<Record<string, unknown>>('/costs/history', q),
      analyticsOverview: (q: Query = {}) => get<Record<string, unknown>>('/analytics/overview', q),
      analyticsEvent: (body: Record<string, unknown>) => send<Record<string, unknown>>('POST', '/analytics/events', body),
    },
  };
}

export type Api = ReturnType<typeof createApi>;
