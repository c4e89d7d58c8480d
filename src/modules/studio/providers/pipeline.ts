import { AppError } from '../../../platform/errors.js';
import type { AdImageResult, AdJobInput, AdTextResult } from '../studio.job-schemas.js';
import { composeAd, LAYOUTS } from './compose.js';
import { countTokens, tokenize, writeCopy } from './local-copy.js';
import { generateImage, IMAGE_SIZES, streamChat, type ChatMessage, type OpenAiSettings } from './openai.js';

/**
 * What an `ad_text` / `ad_image` job does on a worker, behind the worker's handler files: seed 004's stages
 * with its percentages (ingesting 5 %, generating 30 % → 70 %, persisting 80 %; the hub stores the reply
 * and says done), the copy streamed piece by piece as it is written, then (for images) the composition.
 */

export interface StudioWorkerSettings {
  local: { tokenDelayMs: number };
  openai: OpenAiSettings;
}

/** The slice of the worker's JobContext this pipeline uses. */
export interface AdContext {
  signal: AbortSignal;
  progress(stage: string, progress: number, message?: string): void;
  delta(text: string): void;
  fetchMedia(sha256: string): Promise<Buffer>;
}

export const AD_OUTPUT = 'composed-ad-image';

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

export function systemPrompt(input: AdJobInput): string {
  const lines = [
    'You are an advertising copywriter. Write one short ad in the language of the brief:',
    'line 1: a headline; line 2: one or two sentences of body copy; line 3: a call to action. No other text.',
  ];
  if (input.tone) lines.push(`Tone: ${input.tone}.`);
  if (input.keywords.length) lines.push(`Use these keywords: ${input.keywords.join(', ')}.`);
  if (input.industry) lines.push(`Industry: ${input.industry}.`);
  if (input.segment) lines.push(`Target segment: ${input.segment.name}${input.segment.description ? ` (${input.segment.description})` : ''}; criteria ${JSON.stringify(input.segment.criteria)}.`);
  return lines.join('\n');
}

/** Headline, body and call to action from free text (a model's reply): first line, middle, last line. */
export function splitCopy(text: string): { headline: string; body: string; cta: string } {
  const lines = text.split('\n').map((l) => l.replace(/^\s*(headline|body|cta|call to action|헤드라인|본문)\s*[:：]\s*/i, '').trim()).filter(Boolean);
  if (lines.length === 0) return { headline: ' ', body: ' ', cta: ' ' };
  if (lines.length === 1) return { headline: lines[0]!, body: ' ', cta: ' ' };
  if (lines.length === 2) return { headline: lines[0]!, body: lines[1]!, cta: ' ' };
  return { headline: lines[0]!, body: lines.slice(1, -1).join(' '), cta: lines[lines.length - 1]! };
}

interface Written {
  text: string;
  model: string;
  method: string;
  prompt: string;
  promptTokens: number;
  completionTokens: number;
  industry: string | null;
  parts: { headline: string; body: string; cta: string };
}

/**
 * Pieces written in the same turn of the event loop (an upstream read often holds many SSE chunks) leave as
 * one `job:delta`; a piece arriving on its own goes out on the next turn. `flush()` sends what is left.
 */
export function coalescer(emit: (text: string) => void): { push(text: string): void; flush(): void } {
  let buffered = '';
  let scheduled: NodeJS.Immediate | null = null;
  const flush = () => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = null;
    if (buffered === '') return;
    const text = buffered;
    buffered = '';
    emit(text);
  };
  return {
    push(text) {
      buffered += text;
      scheduled ??= setImmediate(flush);
    },
    flush,
  };
}

async function writeText(input: AdJobInput, settings: StudioWorkerSettings, ctx: AdContext, seed: number): Promise<Written> {
  const out = coalescer((t) => ctx.delta(t));
  try {
    return await write(input, settings, { ...ctx, delta: out.push }, seed);
  } finally {
    out.flush();
  }
}

async function write(input: AdJobInput, settings: StudioWorkerSettings, ctx: AdContext, seed: number): Promise<Written> {
  if (input.provider === 'openai') {
    const messages: ChatMessage[] = [
      { role: 'system', content: systemPrompt(input) },
      { role: 'user', content: input.prompt },
    ];
    let first = true;
    const out = await streamChat(settings.openai, messages, {
      signal: ctx.signal,
      onDelta: (t) => {
        if (first) ctx.progress('generating', 0.35, 'streaming');
        first = false;
        ctx.delta(t);
      },
    });
    return { text: out.text, model: out.model, method: 'chat_completions', prompt: messages.map((m) => m.content).join('\n'), promptTokens: out.promptTokens, completionTokens: out.completionTokens, industry: input.industry, parts: splitCopy(out.text) };
  }
  const copy = writeCopy({ prompt: input.prompt, tone: input.tone, keywords: input.keywords, industry: input.industry, segment: input.segment, seed });
  const tokens = tokenize(copy.text);
  for (const t of tokens) {
    ctx.signal.throwIfAborted();
    ctx.delta(t);
    if (settings.local.tokenDelayMs > 0) await sleep(settings.local.tokenDelayMs, ctx.signal);
  }
  return {
    text: copy.text,
    model: 'local-template',
    method: `template_${copy.language}`,
    prompt: systemPrompt(input) + '\n' + input.prompt,
    promptTokens: countTokens(input.prompt),
    completionTokens: tokens.length,
    industry: copy.industry,
    parts: { headline: copy.headline, body: copy.body, cta: copy.cta },
  };
}

export async function runAdText(input: AdJobInput, settings: StudioWorkerSettings, ctx: AdContext): Promise<{ result: AdTextResult }> {
  ctx.progress('ingesting', 0.05);
  const seed = input.seed ?? 0;
  ctx.progress('generating', 0.3);
  const w = await writeText(input, settings, ctx, seed);
  ctx.progress('generating', 0.7);
  ctx.progress('persisting', 0.8);
  return { result: { text: w.text, model: w.model, method: w.method, promptTokens: w.promptTokens, completionTokens: w.completionTokens, prompt: w.prompt.slice(0, 8000), industry: w.industry, seed } };
}

export async function runAdImage(input: AdJobInput, settings: StudioWorkerSettings, ctx: AdContext): Promise<{ result: AdImageResult; outputs: { name: string; contentType: string; data: Buffer }[] }> {
  ctx.progress('ingesting', 0.05);
  const seed = input.seed ?? 0;
  let background = input.imageSha256 ? await ctx.fetchMedia(input.imageSha256) : null;
  ctx.progress('generating', 0.3);
  const w = await writeText(input, settings, ctx, seed);
  ctx.progress('generating', 0.6, 'composing');
  let images = 0;
  let imageModel: string | null = null;
  let imageSize: string | null = null;
  let method = `${w.method}+compose`;
  if (input.provider === 'openai' && settings.openai.imageModel && !background) {
    imageSize = IMAGE_SIZES[input.aspectRatio];
    const img = await generateImage(settings.openai, `${input.style.replace('_', ' ')} advertising photo: ${input.prompt}`, imageSize, ctx.signal);
    background = img.data;
    imageModel = img.model;
    images = 1;
    method = `${w.method}+images+compose`;
  }
  ctx.signal.throwIfAborted();
  const layout = input.layout ?? seed % LAYOUTS.length;
  let composed;
  try {
    composed = await composeAd({ background, ...w.parts, aspectRatio: input.aspectRatio, layout, style: input.style, seed });
  } catch (err) {
    // The attachment was decode-checked at upload; a generated image that sharp cannot read is the provider's fault.
    throw new AppError(images ? 502 : 422, 'compose_failed', `The ad image could not be composed: ${(err as Error).message}`, { cause: err });
  }
  ctx.progress('generating', 0.7);
  ctx.progress('persisting', 0.8);
  return {
    result: {
      text: w.text,
      sha256: AD_OUTPUT,
      width: composed.width,
      height: composed.height,
      aspectRatio: input.aspectRatio,
      layout: composed.layout,
      images,
      imageModel,
      imageSize,
      model: w.model,
      method,
      promptTokens: w.promptTokens,
      completionTokens: w.completionTokens,
      prompt: w.prompt.slice(0, 8000),
      industry: w.industry,
      seed,
    },
    outputs: [{ name: AD_OUTPUT, contentType: 'image/png', data: composed.png }],
  };
}
