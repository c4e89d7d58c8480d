import { afterEach, describe, expect, it } from 'vitest';
import { estimateDecodeBytes } from '../../src/modules/media/decode-budget.js';
import { makeJpeg } from '../../src/modules/media/test-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { registerAndLogin } from '../helpers/clients.js';
import { upload } from '../helpers/multipart.js';

const SIDE = 900;
const ONE = estimateDecodeBytes(SIDE, SIDE);

// Decoding is bounded by a memory budget (uploads.decodeBudgetBytes), not by the CPU count.
describe('image decode memory budget', () => {
  let db: TestDatabase | undefined;
  let hub: TestHub | undefined;
  afterEach(async () => {
    await hub?.stop();
    await db?.drop();
    hub = undefined;
    db = undefined;
  });

  async function start(decodeBudgetBytes: number): Promise<string> {
    db = await createTestDatabase();
    hub = await startTestHub({ dbUrl: db.url, engine: 'node', overrides: { uploads: { decodeBudgetBytes, maxFileBytes: 5_000_000 } } });
    return (await registerAndLogin(hub.url, 'budget_user')).token;
  }

  async function uploadMany(token: string, images: Buffer[]): Promise<number[]> {
    const answers = await Promise.all(images.map((data, i) => upload(hub!.url, '/api/v1/media', token, [{ name: 'file', filename: `${i}.jpg`, type: 'image/jpeg', data }])));
    await hub!.app.media.idle();
    return answers.map((a) => a.status);
  }

  const distinctImages = (n: number, side = SIDE) => Promise.all(Array.from({ length: n }, () => makeJpeg(side, side)));

  it('decodes one image at a time when the budget holds one', async () => {
    const token = await start(Math.floor(ONE * 1.5));
    expect(await uploadMany(token, await distinctImages(4))).toEqual([201, 201, 201, 201]);
    const stats = hub!.app.media.decodeStats();
    expect(stats.peakActive).toBe(1);
    expect(stats.peakBytes).toBeLessThanOrEqual(stats.capacity);
    expect(stats).toMatchObject({ inUse: 0, active: 0, waiting: 0 });
  });

  it('lets as many decodes run at once as the bytes allow, never more', async () => {
    const token = await start(ONE * 3);
    expect(await uploadMany(token, await distinctImages(8))).toEqual(Array(8).fill(201));
    const stats = hub!.app.media.decodeStats();
    expect(stats.peakBytes).toBeLessThanOrEqual(ONE * 3);
    expect(stats.peakActive).toBeLessThanOrEqual(3);
    // Not serialised either: several decodes shared the budget (the count comes from bytes, not cores:
    // the unit test runs ten small decodes at once under one budget).
    expect(stats.peakActive).toBeGreaterThanOrEqual(2);
  });

  it('refuses an upload that alone needs more than the whole budget with 413, before decoding', async () => {
    const token = await start(Math.floor(ONE * 1.5));
    const res = await upload(hub!.url, '/api/v1/media', token, [{ name: 'file', filename: 'big.jpg', type: 'image/jpeg', data: await makeJpeg(1200, 1200) }]);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ status: 413, code: 'image_exceeds_decode_budget' });
    expect(hub!.app.media.decodeStats().peakActive).toBe(0);
    const rows = await hub!.orm.em.fork().execute<{ n: number }[]>('select count(*)::int as n from media');
    expect(rows[0]!.n).toBe(0);
  });

  it('refuses a budget that is not a positive integer at startup', async () => {
    db = await createTestDatabase();
    await expect(startTestHub({ dbUrl: db.url, engine: 'node', overrides: { uploads: { decodeBudgetBytes: 0 } } })).rejects.toThrow(/decodeBudgetBytes/);
  });
});
