import { Agent, request } from 'node:http';
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The request went out on a connection an earlier request had used. */
  reused: boolean;
}

/** One keep-alive connection at a time, so consecutive requests reuse it whenever the server allows. */
export function keepAliveAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 });
}

/**
 * A node:http request with an exact body and an exact path: the path goes out as given (`/images/.`
 * stays `/images/.`; a URL string would be normalised by the client first). Resolves with the response
 * even when the server closes the connection while the body is still being sent (it answered early).
 */
export function send(base: string, method: string, path: string, options: { headers?: Record<string, string>; body?: Buffer; agent?: Agent } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const { hostname, port } = new URL(base);
    const req = request({ hostname, port, path, method, headers: { ...options.headers, 'content-length': String(options.body?.length ?? 0) }, ...(options.agent ? { agent: options.agent } : {}) }, (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.end(options.body);
  });
}

/** Writes raw bytes on a fresh TCP connection and collects everything until the server closes it (or `waitMs`). */
export function rawExchange(port: number, data: string | Buffer, waitMs = 1500): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closedByServer = false;
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => (closedByServer = true));
    socket.on('error', () => (closedByServer = true));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closedByServer });
    });
    socket.write(data);
  });
}

/** The status lines of every response in a raw HTTP/1.1 byte stream. */
export function statusLines(text: string): string[] {
  return [...text.matchAll(/HTTP\/1\.1 \d{3}[^\r\n]*/g)].map((m) => m[0]);
}
