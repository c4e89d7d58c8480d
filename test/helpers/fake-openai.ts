import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';

/**
 * A real HTTP server speaking the OpenAI API's streaming protocol (chat completions as SSE `data:` lines
 * ending in `data: [DONE]`, with a usage chunk; `/images/generations` with b64_json), for tests and the
 * benchmark. What it does is chosen by a marker in the last user message:
 *   [429] always 429 · [429-once] 429 on the first request of that prompt, then normal · [401] refused
 *   [stall] a few chunks, then silence · [error] a few chunks, then an error object · [cut] a few chunks, then
 *   the connection is destroyed · [500] a 500 · [500-twice] a 500 on the first two requests of that prompt ·
 *   [hang] no answer · [garbage] a malformed stream line · anything else: the reply, token by token.
 */

export interface FakeOpenAi {
  url: string;
  requests: { path: string; auth: string | undefined; body: any }[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Pieces of the normal reply, in order. */
  reply: string[];
  usage: { prompt_tokens: number; completion_tokens: number };
  /** Delay between two streamed pieces (ms). */
  tokenDelayMs: number;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFakeOpenAi(opts: { reply?: string[]; tokenDelayMs?: number } = {}): Promise<FakeOpenAi> {
  const seen = new Map<string, number>();
  const open = new Set<ServerResponse>();
  const state: FakeOpenAi = {
    url: '',
    requests: [],
    reply: opts.reply ?? ['Fresh ', 'morning ', 'coffee\n', 'Start ', 'your ', 'day ', 'bright.\n', 'Order ', 'now'],
    usage: { prompt_tokens: 42, completion_tokens: 9 },
    tokenDelayMs: opts.tokenDelayMs ?? 1,
    close: async () => {},
  };
  const chunk = (res: ServerResponse, obj: unknown) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
  const piece = (content: string) => ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', model: 'gpt-3.5-turbo-0125', choices: [{ index: 0, delta: { content }, finish_reason: null }] });

  async function chat(req: IncomingMessage, res: ServerResponse, body: any): Promise<void> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const last = String(body.messages?.[body.messages.length - 1]?.content ?? '');
    const n = (seen.get(last) ?? 0) + 1;
    seen.set(last, n);
    const fail = (status: number, message: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify({ error: { message, type: 'test', code: status } }));
    };
    if (last.includes('[429]') || (last.includes('[429-once]') && n === 1)) return fail(429, 'Rate limit reached for requests', { 'retry-after': '1' });
    if (last.includes('[401]')) return fail(401, 'Incorrect API key provided');
    if (last.includes('[hang]')) return; // no answer at all: the client's timeout must fire
    if (last.includes('[garbage]')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {not json\n\n');
      return;
    }
    if (last.includes('[500]') || (last.includes('[500-twice]') && n <= 2)) return fail(500, 'The server had an error');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    const broken = ['[stall]', '[error]', '[cut]'].find((m) => last.includes(m));
    const pieces = broken ? state.reply.slice(0, 3) : state.reply;
    for (const p of pieces) {
      if (res.destroyed) return;
      chunk(res, piece(p));
      if (state.tokenDelayMs > 0) await sleep(state.tokenDelayMs);
    }
    if (broken === '[stall]') return; // never ends; the client's idle timeout must fire (closed at shutdown)
    if (broken === '[error]') {
      chunk(res, { error: { message: 'The model overloaded mid-reply', type: 'server_error' } });
      res.end();
      return;
    }
    if (broken === '[cut]') {
      req.socket.destroy();
      return;
    }
    chunk(res, { id: 'chatcmpl-1', object: 'chat.completion.chunk', model: 'gpt-3.5-turbo-0125', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    chunk(res, { id: 'chatcmpl-1', object: 'chat.completion.chunk', model: 'gpt-3.5-turbo-0125', choices: [], usage: { ...state.usage, total_tokens: state.usage.prompt_tokens + state.usage.completion_tokens } });
    res.write('data: [DONE]\n\n');
    res.end();
  }

  async function images(res: ServerResponse, body: any): Promise<void> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const [w, h] = String(body.size ?? '1024x1024').split('x').map(Number);
    const png = await sharp({ create: { width: Math.round(w! / 8), height: Math.round(h! / 8), channels: 3, background: { r: 200, g: 120, b: 40 } } }).png().toBuffer();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ created: 1, data: [{ b64_json: png.toString('base64'), revised_prompt: body.prompt }] }));
  }

  const server: Server = createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      let body: any = {}; // eslint-disable-line @typescript-eslint/no-explicit-any
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8') || '{}');
      } catch {
        res.writeHead(400).end();
        return;
      }
      const path = (req.url ?? '').replace(/\?.*$/, '');
      state.requests.push({ path, auth: req.headers.authorization, body });
      const run = path.endsWith('/chat/completions') ? chat(req, res, body) : path.endsWith('/images/generations') ? images(res, body) : Promise.resolve(void res.writeHead(404).end());
      run.catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  state.close = async () => {
    for (const r of open) r.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}
