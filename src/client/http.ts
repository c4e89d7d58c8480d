import { EaselError, NETWORK } from './errors.js';

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  json?: unknown;
  form?: FormData;
  query?: Query;
  /** true (default): send the current access token when there is one; a string: that token. */
  auth?: boolean | string;
  signal?: AbortSignal;
  /** `blob`: the raw body (downloads). */
  as?: 'json' | 'blob';
}

export interface UploadProgress {
  loaded: number;
  total: number;
  /** 0..1 */
  fraction: number;
}

export interface HttpDeps {
  baseUrl: string;
  fetch?: typeof fetch;
  token: () => string | null;
  /** Called once on a 401 `token_expired`; resolves true when a fresh token is in place (the request is retried). */
  renew?: () => Promise<boolean>;
}

/** The browser's XMLHttpRequest, the only web API with upload progress; typed structurally so Node builds. */
interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  status: number;
  responseText: string;
  getResponseHeader(name: string): string | null;
  send(body: unknown): void;
  abort(): void;
}

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const q = Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '');
  if (q.length === 0) return path;
  return `${path}?${q.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')}`;
}

/** Turns a problem+json (or any error body) into an EaselError. */
export function problemError(status: number, body: unknown): EaselError {
  const p = (body && typeof body === 'object' ? body : {}) as { code?: unknown; detail?: unknown; title?: unknown; errors?: unknown };
  const code = typeof p.code === 'string' ? p.code : `http_${status}`;
  const message = typeof p.detail === 'string' ? p.detail : typeof p.title === 'string' ? p.title : `HTTP ${status}`;
  return new EaselError(code, message, status, Array.isArray(p.errors) ? (p.errors as { path: string; message: string }[]) : undefined);
}

function parseBody(text: string, type: string | null): unknown {
  if (!text) return null;
  if (type && /json/.test(type)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** JSON over fetch with the bearer token, problem details as EaselError, one transparent renew on expiry. */
export function createHttp(deps: HttpDeps) {
  const doFetch = deps.fetch ?? ((...a: Parameters<typeof fetch>) => globalThis.fetch(...a));
  const url = (path: string, query?: Query) => deps.baseUrl.replace(/\/$/, '') + withQuery(path, query);

  function headersFor(opts: RequestOptions): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = typeof opts.auth === 'string' ? opts.auth : opts.auth === false ? null : deps.token();
    if (token) headers.authorization = `Bearer ${token}`;
    if (opts.json !== undefined) headers['content-type'] = 'application/json';
    return headers;
  }

  async function once<T>(method: string, path: string, opts: RequestOptions): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(url(path, opts.query), {
        method,
        headers: headersFor(opts),
        body: opts.json !== undefined ? JSON.stringify(opts.json) : opts.form,
        signal: opts.signal,
      });
    } catch (err) {
      throw new EaselError(NETWORK, `network error: ${(err as Error).message}`);
    }
    if (opts.as === 'blob' && res.ok) return (await res.blob()) as T;
    const body = parseBody(await res.text(), res.headers.get('content-type'));
    if (!res.ok) throw problemError(res.status, body);
    return body as T;
  }

  async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    try {
      return await once<T>(method, path, opts);
    } catch (err) {
      if (err instanceof EaselError && err.status === 401 && err.code === 'token_expired' && opts.auth !== false && typeof opts.auth !== 'string' && deps.renew && (await deps.renew())) {
        return once<T>(method, path, opts);
      }
      throw err;
    }
  }

  /**
   * A multipart upload. In a browser it goes through XMLHttpRequest so `onProgress` sees the bytes leave;
   * elsewhere (Node, React Native without XHR upload events) it uses fetch and reports 0 then 1.
   */
  function upload<T>(path: string, form: FormData, opts: { onProgress?: (p: UploadProgress) => void; signal?: AbortSignal } = {}): Promise<T> {
    const Xhr = (globalThis as { XMLHttpRequest?: new () => XhrLike }).XMLHttpRequest;
    if (!Xhr) {
      opts.onProgress?.({ loaded: 0, total: 0, fraction: 0 });
      return request<T>('POST', path, { form, signal: opts.signal }).then((r) => {
        opts.onProgress?.({ loaded: 1, total: 1, fraction: 1 });
        return r;
      });
    }
    return new Promise<T>((resolve, reject) => {
      const xhr = new Xhr();
      xhr.open('POST', url(path));
      for (const [k, v] of Object.entries(headersFor({}))) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => {
        const total = e.lengthComputable ? e.total : 0;
        opts.onProgress?.({ loaded: e.loaded, total, fraction: total ? e.loaded / total : 0 });
      };
      xhr.onload = () => {
        const body = parseBody(xhr.responseText, xhr.getResponseHeader('content-type'));
        if (xhr.status >= 200 && xhr.status < 300) {
          opts.onProgress?.({ loaded: 1, total: 1, fraction: 1 });
          resolve(body as T);
        } else reject(problemError(xhr.status, body));
      };
      xhr.onerror = () => reject(new EaselError(NETWORK, 'network error during upload'));
      xhr.onabort = () => reject(new EaselError('aborted', 'upload aborted'));
      opts.signal?.addEventListener('abort', () => xhr.abort());
      xhr.send(form);
    });
  }

  return { request, upload, url };
}

export type Http = ReturnType<typeof createHttp>;
