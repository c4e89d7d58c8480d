import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../../../../test/helpers/fake-openai.js';
import { generateImage, streamChat, type OpenAiSettings } from './openai.js';

/** The provider against a real local server speaking the OpenAI protocol (test/helpers/fake-openai.ts). */
describe('openai provider', () => {
  let fake: FakeOpenAi;
  let settings: OpenAiSettings;
  const signal = () => new AbortController().signal;
  const ask = (content: string, s: Partial<OpenAiSettings> = {}, opts: { signal?: AbortSignal } = {}) => {
    const pieces: string[] = [];
    return streamChat({ ...settings, ...s }, [{ role: 'user', content }], { signal: opts.signal ?? signal(), onDelta: (t) => pieces.push(t) }).then((out) => ({ out, pieces }));
  };

  beforeAll(async () => {
    fake = await startFakeOpenAi();
    settings = { baseUrl: fake.url, apiKey: 'k', model: 'gpt-3.5-turbo', imageModel: 'dall-e-3', maxTokens: 50, timeoutMs: 1000, idleTimeoutMs: 300 };
  });
  afterAll(() => fake.close());

  it('streams pieces in order and takes the usage the server reports', async () => {
    const { out, pieces } = await ask('hello');
    expect(pieces).toEqual(fake.reply);
    expect(out).toMatchObject({ text: fake.reply.join(''), model: 'gpt-3.5-turbo-0125', promptTokens: 42, completionTokens: 9, reportedUsage: true });
  });

  it('maps every failure to a clear, classified error', async () => {
    const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: { code?: string; status?: number }) => `${e.status} ${e.code}`);
    expect(await code(ask('x', { apiKey: null }))).toBe('424 provider_not_configured');
    expect(await code(ask('[429]'))).toBe('429 upstream_rate_limited');
    expect(await code(ask('[500]'))).toBe('502 upstream_error');
    expect(await code(ask('[401]'))).toBe('424 upstream_refused');
    expect(await code(ask('[hang]'))).toBe('504 upstream_timeout');
    expect(await code(ask('[stall]'))).toBe('504 upstream_stalled');
    expect(await code(ask('[error]'))).toBe('502 upstream_error');
    expect(await code(ask('[cut]'))).toBe('502 upstream_stream_cut');
    expect(await code(ask('[garbage]'))).toBe('502 upstream_error');
    expect(await code(ask('x', { baseUrl: 'http://127.0.0.1:1/v1' }))).toBe('503 upstream_unreachable');
  });

  it('stops when the job is cancelled, with the cancel as the reason', async () => {
    const c = new AbortController();
    const reason = new Error('cancelled by the user');
    const p = ask('[stall]', { idleTimeoutMs: 5000 }, { signal: c.signal });
    setTimeout(() => c.abort(reason), 100);
    await expect(p).rejects.toBe(reason);
  });

  it('gets an image at the requested size', async () => {
    const img = await generateImage(settings, 'a poster', '1792x1024', signal());
    expect(img.model).toBe('dall-e-3');
    expect(img.data.subarray(1, 4).toString()).toBe('PNG');
    expect(fake.requests.at(-1)!.body).toMatchObject({ size: '1792x1024', model: 'dall-e-3' });
    await expect(generateImage({ ...settings, imageModel: null }, 'x', '1024x1024', signal())).rejects.toMatchObject({ code: 'provider_not_configured' });
  });
});
