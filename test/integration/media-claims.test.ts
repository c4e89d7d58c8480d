import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePng } from '../../src/modules/media/test-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

// Two requests upload the same bytes; one of them fails afterwards (bad fields) and undoes its upload.
describe('undoing an upload never removes content another upload reused', () => {
  let db: TestDatabase;
  let hub: TestHub;
  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, engine: 'node' });
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
  });

  const count = async (sha: string) => (await hub.orm.em.fork().execute<{ n: number }[]>('select count(*)::int as n from media where sha256 = ?', [sha]))[0]!.n;

  it('keeps claimed content when the creator discards it', async () => {
    const { media } = hub.app;
    const bytes = await makePng(50, 40);
    const first = await media.ingest(hub.orm.em.fork(), Readable.from([bytes]));
    const second = await media.ingest(hub.orm.em.fork(), Readable.from([bytes]));
    expect([first.created, second.created]).toEqual([true, false]);
    await media.discard(hub.orm.em.fork(), first);
    expect(await count(first.sha256)).toBe(1);
    const res = await fetch(`${hub.url}${media.urlFor(first.sha256)}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('still removes unclaimed content, and a later upload of the same bytes stores it again', async () => {
    const { media } = hub.app;
    const bytes = await makePng(30, 70);
    const first = await media.ingest(hub.orm.em.fork(), Readable.from([bytes]));
    await media.discard(hub.orm.em.fork(), first);
    expect(await count(first.sha256)).toBe(0);
    expect((await fetch(`${hub.url}${media.urlFor(first.sha256)}`)).status).toBe(404);
    const again = await media.ingest(hub.orm.em.fork(), Readable.from([bytes]));
    expect(again.created).toBe(true);
    expect((await fetch(`${hub.url}${media.urlFor(first.sha256)}`)).status).toBe(200);
  });

  it('settles a discard racing a reuse of the same bytes either way, never half', async () => {
    const { media } = hub.app;
    for (let i = 0; i < 5; i++) {
      const bytes = await makePng(20 + i, 20);
      const first = await media.ingest(hub.orm.em.fork(), Readable.from([bytes]));
      const [, reused] = await Promise.all([media.discard(hub.orm.em.fork(), first), media.ingest(hub.orm.em.fork(), Readable.from([bytes]))]);
      // Whichever won, the reusing upload ends with a row and a servable original.
      expect(await count(reused.sha256)).toBe(1);
      expect((await fetch(`${hub.url}${media.urlFor(reused.sha256)}`)).status).toBe(200);
    }
  });
});
