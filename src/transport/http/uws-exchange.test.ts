import { Writable } from 'node:stream';
import pino from 'pino';
import type { HttpResponse } from 'uWebSockets.js';
import { describe, expect, it } from 'vitest';
import { UwsExchange } from './uws-exchange.js';

/**
 * A stand-in for uWS's HttpResponse that behaves like the real one where it matters: once ended
 * or aborted, every call throws (uWS does, and from a native callback that ends the process).
 */
function fakeRes() {
  const calls: string[] = [];
  let dead = false;
  let onData: ((chunk: ArrayBuffer, isLast: boolean) => void) | null = null;
  let onAborted: (() => void) | null = null;
  const touch = (name: string) => {
    if (dead) throw new Error(`uWS.HttpResponse must not be accessed after ... (${name})`);
    calls.push(name);
  };
  const res = {
    onAborted: (cb: () => void) => ((onAborted = cb), res),
    onData: (cb: (chunk: ArrayBuffer, isLast: boolean) => void) => ((onData = cb), res),
    pause: () => touch('pause'),
    resume: () => touch('resume'),
    cork: (fn: () => void) => (touch('cork'), fn(), res),
    writeStatus: (s: string) => (touch(`status ${s}`), res),
    writeHeader: (k: string, v: string) => (touch(`header ${k}: ${v}`), res),
    end: (_body?: unknown, close?: boolean) => (touch(close ? 'end+close' : 'end'), (dead = true), res),
    endWithoutBody: () => (touch('endWithoutBody'), (dead = true), res),
  };
  return {
    res: res as unknown as HttpResponse,
    calls,
    chunk: (bytes: number, last = false) => onData!(new ArrayBuffer(bytes), last),
    abort: () => {
      dead = true;
      onAborted!();
    },
  };
}

function capturingLogger() {
  const lines: { msg: string; where?: string }[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, done) => (lines.push(JSON.parse(c.toString()) as { msg: string }), done()) });
  return { log: pino({ level: 'error' }, sink), lines };
}

describe('UwsExchange', () => {
  it('never leaves the socket paused when the last chunk arrives while paused', async () => {
    // uWS may deliver what it had buffered after pause(); a socket left paused stays paused for the next
    // request on the keep-alive connection, which is then never read (Node 24's uWS binary showed it).
    const fake = fakeRes();
    const { log } = capturingLogger();
    const ex = new UwsExchange(fake.res, 800 * 1024, true, log);
    fake.chunk(512 * 1024); // over the stream's high-water mark: paused
    expect(fake.calls).toEqual(['pause']);
    fake.chunk(288 * 1024, true); // the rest, delivered while paused
    expect(fake.calls).toEqual(['pause', 'resume']);
    const chunks: Buffer[] = [];
    for await (const c of ex.body) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).length).toBe(800 * 1024);
    expect(fake.calls).toEqual(['pause', 'resume']); // reading the stream does not resume twice
    await ex.send({ status: 201, body: 'ok' }, false);
    expect(fake.calls.slice(-1)).toEqual(['end']);
  });

  it('drops the rest of a body after an early response without touching the finished res', async () => {
    const fake = fakeRes();
    const { log, lines } = capturingLogger();
    const ex = new UwsExchange(fake.res, 200_000, true, log);
    for (let i = 0; i < 4; i++) fake.chunk(16 * 1024); // fills the stream: uWS gets paused
    expect(fake.calls).toContain('pause');
    await ex.send({ status: 404, body: 'nope' }, false);
    expect(fake.calls.slice(-1)).toEqual(['end']); // 136 KB unread: under the drain limit, keep-alive
    expect(fake.calls).toContain('resume'); // a paused socket would never drain
    expect(fake.calls).toContain('status 404 Not Found');
    expect(() => {
      for (let i = 0; i < 8; i++) fake.chunk(16 * 1024);
      fake.chunk(8 * 1024, true);
    }).not.toThrow();
    expect(lines).toEqual([]); // nothing even tried to touch res
  });

  it('closes instead of draining a large or unknown remainder', async () => {
    const big = fakeRes();
    await new UwsExchange(big.res, 50_000_000, true, pino({ level: 'silent' })).send({ status: 413, body: 'too big' }, false);
    expect(big.calls.slice(-1)).toEqual(['end+close']);
    const chunked = fakeRes();
    await new UwsExchange(chunked.res, null, true, pino({ level: 'silent' })).send({ status: 401, body: '' }, false);
    expect(chunked.calls.slice(-1)).toEqual(['end+close']);
  });

  it('after an abort, sends nothing and destroys the body with an error its reader sees', async () => {
    const fake = fakeRes();
    const ex = new UwsExchange(fake.res, 1000, true, pino({ level: 'silent' }));
    const reading = (async () => {
      for await (const _ of ex.body) void _;
    })();
    fake.chunk(100);
    fake.abort();
    await expect(reading).rejects.toThrow(/aborted/);
    expect(ex.aborted).toBe(true);
    await ex.send({ status: 200, body: 'late' }, false);
    expect(fake.calls.filter((c) => c.startsWith('status'))).toEqual([]);
  });

  it('logs, never throws, when uWS throws inside one of its callbacks', async () => {
    const fake = fakeRes();
    const { log, lines } = capturingLogger();
    const ex = new UwsExchange(fake.res, 100_000, true, log);
    (fake.res as unknown as { pause: () => void }).pause = () => {
      throw new Error('uWS exploded');
    };
    expect(() => {
      for (let i = 0; i < 4; i++) fake.chunk(16 * 1024); // past the stream's 16 KB buffer: asks uWS to pause
    }).not.toThrow();
    expect(lines.map((l) => l.msg)).toEqual(['uWS response call failed']);
    // A response uWS refused once counts as finished: no further call reaches it.
    await ex.send({ status: 200, body: 'x' }, false);
    expect(fake.calls.filter((c) => c.startsWith('status'))).toEqual([]);
  });
});
