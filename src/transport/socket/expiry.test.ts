import type { Socket } from 'socket.io';
import { describe, expect, it } from 'vitest';
import { createExpiryWheel } from './expiry.js';

/** Stand-ins: the wheel touches only `socket.data.due`. */
const fakeSocket = (name: string) => ({ name, data: { due: 0 } }) as unknown as Socket & { name: string };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function harness(startSeconds = 1_000_000) {
  let nowMs = startSeconds * 1000 + 300;
  const fired: string[] = [];
  const wheel = createExpiryWheel({ onExpire: (s) => fired.push((s as Socket & { name: string }).name), tickMs: 5, now: () => nowMs });
  return {
    wheel,
    fired,
    advance: async (seconds: number) => {
      nowMs += seconds * 1000;
      await sleep(30); // several ticks
    },
    second: () => Math.floor(nowMs / 1000),
  };
}

describe('expiry wheel', () => {
  it('fires each socket once, in the tick of the second its token expires, not before', async () => {
    const h = harness();
    const [a, b, c] = [fakeSocket('a'), fakeSocket('b'), fakeSocket('c')];
    h.wheel.arm(a, h.second() + 1);
    h.wheel.arm(b, h.second() + 1); // same second: same bucket
    h.wheel.arm(c, h.second() + 3);
    expect(h.wheel.size).toBe(3);
    await sleep(30);
    expect(h.fired).toEqual([]);
    await h.advance(1);
    expect(h.fired).toEqual(['a', 'b']);
    await h.advance(1);
    expect(h.fired).toEqual(['a', 'b']);
    await h.advance(1);
    expect(h.fired).toEqual(['a', 'b', 'c']);
    expect(h.wheel.size).toBe(0);
    expect(a.data.due).toBe(0);
  });

  it('fires an already expired token on the next tick', async () => {
    const h = harness();
    const s = fakeSocket('late');
    h.wheel.arm(s, h.second() - 30);
    expect(h.fired).toEqual([]); // never synchronously inside arm()
    await sleep(30);
    expect(h.fired).toEqual(['late']);
  });

  it('re-arming moves the socket (a refresh), disarming removes it (a disconnect)', async () => {
    const h = harness();
    const refreshed = fakeSocket('refreshed');
    const gone = fakeSocket('gone');
    h.wheel.arm(refreshed, h.second() + 1);
    h.wheel.arm(gone, h.second() + 1);
    h.wheel.arm(refreshed, h.second() + 5);
    h.wheel.disarm(gone);
    h.wheel.disarm(gone); // twice is harmless
    expect(h.wheel.size).toBe(1);
    await h.advance(2);
    expect(h.fired).toEqual([]);
    await h.advance(3);
    expect(h.fired).toEqual(['refreshed']);
  });

  it('walks every second it missed (a stalled event loop) and keeps far expiries without firing them', async () => {
    const h = harness();
    const soon = fakeSocket('soon');
    const worker = fakeSocket('worker');
    h.wheel.arm(soon, h.second() + 2);
    h.wheel.arm(worker, h.second() + 365 * 24 * 3600);
    await h.advance(10);
    expect(h.fired).toEqual(['soon']);
    expect(h.wheel.size).toBe(1);
    h.wheel.disarm(worker);
    expect(h.wheel.size).toBe(0);
  });

  it('keeps no timer while nothing is armed, and starts again when something is', async () => {
    const h = harness();
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const s = fakeSocket('s');
    h.wheel.arm(s, h.second() + 1);
    await h.advance(1);
    expect(h.fired).toEqual(['s']);
    await sleep(20);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(before);
    h.wheel.arm(s, h.second() + 1);
    await h.advance(1);
    expect(h.fired).toEqual(['s', 's']);
  });
});
