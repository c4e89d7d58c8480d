import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyFailure } from './worker.errors.js';
import { createMediaFetcher } from './worker.media.js';

const sha = (c: string) => c.repeat(64);

describe('media fetcher (inputs from the hub)', () => {
  let server: Server;
  let base: string;
  const auth: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      auth.push(String(req.headers.authorization));
      const id = /\/api\/v1\/media\/([0-9a-f]{64})\?variant=original$/.exec(req.url ?? '')?.[1];
      if (id === sha('a')) return void res.writeHead(200, { 'content-length': '5' }).end('hello');
      if (id === sha('b')) return void res.writeHead(500).end('boom');
      if (id === sha('c')) return void res.writeHead(200, { 'content-length': '100' }).end('x'.repeat(100));
      if (id === sha('d')) {
        // No content-length: the limit is enforced while reading.
        res.writeHead(200, { 'transfer-encoding': 'chunked' });
        res.write('x'.repeat(60));
        return void res.end('x'.repeat(60));
      }
      if (id === sha('e')) return void setTimeout(() => res.writeHead(200).end('late'), 2000);
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const fetcher = (maxBytes = 50) => createMediaFetcher({ hubUrl: base, token: 'wt', maxBytes, timeoutMs: 1000 });
  const failure = (p: Promise<unknown>) => p.then(() => null, (err: unknown) => ({ err: err as { status?: number; code?: string }, ...classifyFailure(err) }));

  it('fetches the original with the worker token', async () => {
    expect((await fetcher()(sha('a'))).toString()).toBe('hello');
    expect(auth.at(-1)).toBe('Bearer wt');
  });

  it('a missing original is final (input_missing); a failing or silent hub is retryable (input_unavailable)', async () => {
    expect(await failure(fetcher()(sha('f')))).toMatchObject({ error: { code: 'input_missing' }, retryable: false });
    expect(await failure(fetcher()(sha('b')))).toMatchObject({ error: { code: 'input_unavailable' }, retryable: true });
    expect(await failure(fetcher()(sha('e')))).toMatchObject({ error: { code: 'input_unavailable' }, retryable: true });
    const down = createMediaFetcher({ hubUrl: 'http://127.0.0.1:9', token: 'wt', maxBytes: 50 });
    expect(await failure(down(sha('a')))).toMatchObject({ error: { code: 'input_unavailable' }, retryable: true });
  });

  it('refuses inputs over the size limit, declared or streamed (413, final)', async () => {
    expect(await failure(fetcher()(sha('c')))).toMatchObject({ err: { status: 413 }, error: { code: 'input_too_large' }, retryable: false });
    expect(await failure(fetcher()(sha('d')))).toMatchObject({ err: { status: 413 }, error: { code: 'input_too_large' }, retryable: false });
    expect((await fetcher(200)(sha('d'))).byteLength).toBe(120);
  });

  it('refuses a malformed hash without a request, and stops when the job is aborted', async () => {
    const before = auth.length;
    expect(await failure(fetcher()('../../etc/passwd'))).toMatchObject({ error: { code: 'invalid_input' }, retryable: false });
    expect(auth.length).toBe(before);
    const c = new AbortController();
    const p = fetcher()(sha('e'), c.signal);
    c.abort(new Error('cancelled by test'));
    await expect(p).rejects.toThrow('cancelled by test');
  });
});
