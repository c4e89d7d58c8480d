import { AppError } from '../../../platform/errors.js';

/**
 * The `openai` provider: any OpenAI-compatible API (OpenAI, vLLM, Ollama) at a base URL. Chat completions
 * are streamed (SSE, `data: {...}` lines ending with `data: [DONE]`); images come from `/images/generations`.
 *
 * Failures map onto the worker's retry rule (worker.errors.ts: 5xx and 429 retry, other 4xx are final):
 * 429 `upstream_rate_limited` and 5xx `upstream_error` retry; a refused request (400/401/403/404)
 * is 424 `upstream_refused`, final; no answer within `timeoutMs` is 504 `upstream_timeout`, a stream
 * silent for `idleTimeoutMs` is 504 `upstream_stalled`, a stream that ends without `[DONE]` or carries an
 * error object is 502 `upstream_stream_cut` / `upstream_error`: all retried.
 */

export interface OpenAiSettings {
  baseUrl: string;
  apiKey: string | null;
  model: string;
  imageModel: string | null;
  maxTokens: number;
  timeoutMs: number;
  idleTimeoutMs: number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatOutcome {
  text: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** true when the server reported usage; false: counted here from the stream (chunks) and the prompt. */
  reportedUsage: boolean;
}

const url = (base: string, path: string) => `${base.replace(/\/+$/, '')}${path}`;

export function requireKey(settings: OpenAiSettings): string {
  if (!settings.apiKey) throw new AppError(424, 'provider_not_configured', 'The openai provider has no API key (set OPENAI_API_KEY; any non-empty value for a local server)');
  return settings.apiKey;
}

async function upstreamError(res: Response): Promise<AppError> {
  const body = (await res.text().catch(() => '')).slice(0, 300);
  let detail = body;
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string } };
    detail = parsed.error?.message ?? body;
  } catch {
    // not JSON: the raw text says it
  }
  if (res.status === 429) {
    const after = res.headers.get('retry-after');
    return new AppError(429, 'upstream_rate_limited', `The model provider is rate limiting (429${after ? `, retry after ${after}s` : ''}): ${detail}`);
  }
  if (res.status >= 500) return new AppError(502, 'upstream_error', `The model provider failed (${res.status}): ${detail}`);
  return new AppError(424, 'upstream_refused', `The model provider refused the request (${res.status}): ${detail}`);
}

/** fetch with a deadline for the response head; the caller's signal aborts it too. */
async function post(settings: OpenAiSettings, path: string, body: unknown, signal: AbortSignal, controller: AbortController): Promise<Response> {
  const key = requireKey(settings);
  const timer = setTimeout(() => controller.abort(new AppError(504, 'upstream_timeout', `The model provider did not answer within ${settings.timeoutMs} ms`)), settings.timeoutMs);
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const res = await fetch(url(settings.baseUrl, path), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, accept: path.includes('chat') ? 'text/event-stream' : 'application/json' },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!res.ok) throw await upstreamError(res);
    return res;
  } catch (err) {
    throw mapFetchError(err, controller.signal, signal);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

function mapFetchError(err: unknown, own: AbortSignal, caller: AbortSignal): unknown {
  if (caller.aborted) return caller.reason;
  if (own.aborted && own.reason instanceof AppError) return own.reason;
  if (err instanceof AppError) return err;
  return new AppError(503, 'upstream_unreachable', `Could not reach the model provider: ${(err as Error).message}`, { cause: err });
}

interface StreamChunk {
  model?: string;
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string; code?: string | number };
}

/**
 * Streams one chat completion, calling `onDelta` with each piece of text as it arrives.
 *
 * @example
 * const out = await streamChat(settings, [{ role: 'user', content: 'Ad for coffee' }], { signal, onDelta: (t) => process.stdout.write(t) });
 */
export async function streamChat(settings: OpenAiSettings, messages: ChatMessage[], opts: { signal: AbortSignal; onDelta: (text: string) => void }): Promise<ChatOutcome> {
  const controller = new AbortController();
  const res = await post(settings, '/chat/completions', { model: settings.model, messages, stream: true, stream_options: { include_usage: true }, max_tokens: settings.maxTokens }, opts.signal, controller);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let text = '';
  let chunks = 0;
  let done = false;
  let model = settings.model;
  let usage: { prompt_tokens?: number; completion_tokens?: number } | null = null;
  let idle: NodeJS.Timeout | undefined;
  const stall = () => controller.abort(new AppError(504, 'upstream_stalled', `The model provider stopped streaming for ${settings.idleTimeoutMs} ms mid-reply`));
  const onAbort = () => controller.abort(opts.signal.reason);
  opts.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      idle = setTimeout(stall, settings.idleTimeoutMs);
      const { value, done: ended } = await reader.read();
      clearTimeout(idle);
      if (ended) break;
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        let chunk: StreamChunk;
        try {
          chunk = JSON.parse(data) as StreamChunk;
        } catch {
          throw new AppError(502, 'upstream_error', `The model provider sent a malformed stream line: ${data.slice(0, 100)}`);
        }
        if (chunk.error) throw new AppError(502, 'upstream_error', `The model provider failed mid-reply: ${chunk.error.message ?? JSON.stringify(chunk.error).slice(0, 200)}`);
        if (chunk.model) model = chunk.model;
        if (chunk.usage) usage = chunk.usage;
        const piece = chunk.choices?.[0]?.delta?.content;
        if (piece) {
          text += piece;
          chunks++;
          opts.onDelta(piece);
        }
      }
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    if (opts.signal.aborted || err instanceof AppError || (controller.signal.aborted && controller.signal.reason instanceof AppError)) throw mapFetchError(err, controller.signal, opts.signal);
    // The connection broke while the reply was streaming.
    throw new AppError(502, 'upstream_stream_cut', `The model provider's stream broke off mid-reply (after ${chunks} chunks): ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(idle);
    opts.signal.removeEventListener('abort', onAbort);
  }
  if (!done) throw new AppError(502, 'upstream_stream_cut', `The model provider's stream ended mid-reply (after ${chunks} chunks, no [DONE])`);
  const promptChars = messages.reduce((n, m) => n + m.content.length, 0);
  return {
    text,
    model,
    promptTokens: usage?.prompt_tokens ?? Math.ceil(promptChars / 4),
    completionTokens: usage?.completion_tokens ?? chunks,
    reportedUsage: Boolean(usage),
  };
}

export const IMAGE_SIZES = { '1:1': '1024x1024', '16:9': '1792x1024', '9:16': '1024x1792', '4:3': '1024x1024' } as const;

/** One image from `/images/generations` (b64_json, or a URL fetched here). */
export async function generateImage(settings: OpenAiSettings, prompt: string, size: string, signal: AbortSignal): Promise<{ data: Buffer; model: string }> {
  const model = settings.imageModel;
  if (!model) throw new AppError(424, 'provider_not_configured', 'No image model configured (OPENAI_IMAGE_MODEL)');
  const controller = new AbortController();
  const res = await post(settings, '/images/generations', { model, prompt: prompt.slice(0, 3900), n: 1, size, response_format: 'b64_json' }, signal, controller);
  const body = (await res.json().catch(() => null)) as { data?: { b64_json?: string; url?: string }[] } | null;
  const item = body?.data?.[0];
  if (item?.b64_json) return { data: Buffer.from(item.b64_json, 'base64'), model };
  if (item?.url) {
    const img = await fetch(item.url, { signal: AbortSignal.any([signal, AbortSignal.timeout(settings.timeoutMs)]) }).catch((err: unknown) => {
      throw mapFetchError(err, controller.signal, signal);
    });
    if (!img.ok) throw new AppError(502, 'upstream_error', `The generated image could not be fetched (${img.status})`);
    return { data: Buffer.from(await img.arrayBuffer()), model };
  }
  throw new AppError(502, 'upstream_error', 'The model provider answered without an image');
}
