import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createSessionStream, type SessionStream, type StreamEntry } from './studio.stream.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function suite(name: string, make: (keep: number) => SessionStream) {
  describe(`session stream (${name})`, () => {
    it('numbers entries per session in order and replays what came after `since`', async () => {
      const s = make(100);
      const pushed: StreamEntry[] = [];
      const appends = Array.from({ length: 30 }, (_, i) => s.append('a', 'message:delta', { text: `t${i}` }, (e) => pushed.push(e)));
      await s.append('b', 'message:delta', { text: 'other' }, () => {});
      await Promise.all(appends);
      expect(pushed.map((e) => e.data.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(pushed.map((e) => e.data.text)).toEqual(Array.from({ length: 30 }, (_, i) => `t${i}`));
      const r = await s.replay('a', 25);
      expect(r).toMatchObject({ seq: 30, recovered: true });
      expect(r.events.map((e) => e.data.seq)).toEqual([26, 27, 28, 29, 30]);
      expect(await s.replay('a', 30)).toMatchObject({ events: [], recovered: true });
      expect(await s.replay('a', undefined)).toMatchObject({ seq: 30, events: [], recovered: true });
      expect((await s.replay('b', 0)).events.map((e) => e.data.text)).toEqual(['other']);
    });

    it('says recovered:false once the history no longer reaches back, or for a seq it never had', async () => {
      const s = make(5);
      for (let i = 0; i < 12; i++) await s.append('c', 'message:delta', { text: String(i) }, () => {});
      expect(await s.replay('c', 2)).toMatchObject({ seq: 12, events: [], recovered: false });
      expect((await s.replay('c', 7)).events).toHaveLength(5);
      expect(await s.replay('c', 99)).toMatchObject({ recovered: false });
      expect(await s.replay('never', 3)).toMatchObject({ seq: 0, recovered: false });
    });
  });
}

suite('memory', (keep) => createSessionStream({ redis: null, prefix: 'x:', keep, ttlSeconds: 60 }));

const clients: Redis[] = [];
suite('redis', (keep) => {
  const redis = new Redis(REDIS_URL);
  clients.push(redis);
  return createSessionStream({ redis, prefix: `easel-test:${randomBytes(4).toString('hex')}:`, keep, ttlSeconds: 60 });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit()));
});
