import { io, type Socket } from 'socket.io-client';

export interface ApiResponse<T = any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  status: number;
  headers: Headers;
  body: T;
}

/** fetch with JSON in and out; non-JSON bodies come back as text. */
export async function api<T = any>(base: string, method: string, path: string, options: { json?: unknown; form?: Record<string, string>; token?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<ApiResponse<T>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const headers: Record<string, string> = { ...options.headers };
  let body: string | Buffer | undefined = options.body;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, headers: res.headers, body: (type.includes('json') && text ? JSON.parse(text) : text) as T };
}

export async function registerAndLogin(base: string, username: string, password = 'correct-horse-battery'): Promise<{ token: string; refresh: string; userId: number }> {
  const reg = await api(base, 'POST', '/api/v1/auth/register', { json: { username, password } });
  if (reg.status !== 201) throw new Error(`register failed: ${reg.status} ${JSON.stringify(reg.body)}`);
  const tok = await api(base, 'POST', '/api/v1/auth/token', { json: { username, password } });
  if (tok.status !== 200) throw new Error(`token failed: ${tok.status} ${JSON.stringify(tok.body)}`);
  return { token: tok.body.access_token, refresh: tok.body.refresh_token, userId: reg.body.id };
}

/** A connected socket.io client, or the connect_error it got. */
export function connectSocket(base: string, namespace: string, token: string | undefined, transports: string[] = ['websocket']): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(base + namespace, { auth: token === undefined ? {} : { token }, transports, forceNew: true, reconnection: false, timeout: 5000 });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

export function emitAck<T = any>(socket: Socket, event: string, ...args: unknown[]): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return socket.timeout(5000).emitWithAck(event, ...args) as Promise<T>;
}

export function nextEvent<T = any>(socket: Socket, event: string, timeoutMs = 5000): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeoutMs}ms`)), timeoutMs);
    socket.once(event, (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}
