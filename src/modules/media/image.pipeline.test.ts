import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayloadTooLargeError, UnsupportedMediaTypeError } from '../../platform/errors.js';
import { DEFAULT_MAX_PIXELS, makeVariants, probeImage, type ImageFormat } from './image.pipeline.js';
import {
  makeBombPng,
  makeGif,
  makeJpeg,
  makePng,
  makeTempDir,
  makeTextFile,
  makeTruncatedJpeg,
  makeWebp,
  PRIVATE_EXIF_MARKERS,
  type TempDir,
} from './test-fixtures.js';

const ALL: ImageFormat[] = ['jpeg', 'png', 'gif', 'webp'];
const opts = { allowedFormats: ALL, maxPixels: DEFAULT_MAX_PIXELS };

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir('easel-image-');
});
afterAll(() => tmp.cleanup());

describe('probeImage', () => {
  it.each([
    ['jpeg', () => makeJpeg(120, 80)],
    ['png', () => makePng(120, 80)],
    ['gif', () => makeGif(120, 80)],
    ['webp', () => makeWebp(120, 80)],
  ] as const)('identifies %s by content, whatever the file is called', async (format, make) => {
    const path = await tmp.write(await make(), 'upload.txt');
    await expect(probeImage(path, opts)).resolves.toEqual({ format, width: 120, height: 80 });
  });

  it('reports EXIF orientation with the stored (unrotated) size', async () => {
    const path = await tmp.write(await makeJpeg(64, 32, { orientation: 6 }));
    // withMetadata() also embeds sharp's sRGB profile, hence icc.
    await expect(probeImage(path, opts)).resolves.toEqual({ format: 'jpeg', width: 64, height: 32, orientation: 6, icc: true });
  });

  it('rejects formats outside the allow-list', async () => {
    const path = await tmp.write(await makePng(10, 10), 'photo.jpg');
    await expect(probeImage(path, { ...opts, allowedFormats: ['jpeg'] })).rejects.toMatchObject({
      status: 415,
      code: 'unsupported_image_format',
    });
  });

  it('rejects decodable formats the pipeline does not support at all (SVG)', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>';
    const path = await tmp.write(Buffer.from(svg));
    await expect(probeImage(path, opts)).rejects.toMatchObject({ code: 'unsupported_image_format' });
  });

  it('rejects a text file as not_an_image', async () => {
    const path = await tmp.write(makeTextFile(), 'image.png');
    const err = await probeImage(path, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedMediaTypeError);
    expect(err).toMatchObject({ status: 415, code: 'not_an_image' });
  });

  it('rejects a zero-byte file as not_an_image', async () => {
    const path = await tmp.write(Buffer.alloc(0));
    await expect(probeImage(path, opts)).rejects.toMatchObject({ code: 'not_an_image' });
  });

  it('lets a missing file surface as ENOENT, not as a client error', async () => {
    await expect(probeImage(`${tmp.dir}/does-not-exist`, opts)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('rejects a truncated JPEG whose header still reads fine', async () => {
    const truncated = await makeTruncatedJpeg(400, 300);
    // The premise: header-only parsing accepts it, so only the full decode can catch it.
    await expect(sharp(truncated).metadata()).resolves.toMatchObject({ format: 'jpeg', width: 400 });

    const path = await tmp.write(truncated);
    await expect(probeImage(path, opts)).rejects.toMatchObject({ status: 415, code: 'corrupt_image' });
  });

  it('rejects a truncated PNG', async () => {
    const png = await makePng(200, 200);
    const path = await tmp.write(png.subarray(0, Math.floor(png.length / 2)));
    await expect(probeImage(path, opts)).rejects.toMatchObject({ code: 'corrupt_image' });
  });

  it('accepts a JPEG whose damage libjpeg only warns about (policy: failOn "error")', async () => {
    // Marker bytes in the scan data are a libjpeg *warning* ("Corrupt JPEG data"). failOn 'warning'
    // would reject this, but it also rejects real phone photos with the same warning class (see
    // lovell/sharp#1578), so recoverable damage is accepted; truncation is not (tests above).
    const jpeg = Buffer.from(await makeJpeg(200, 200));
    jpeg.fill(0xff, Math.floor(jpeg.length / 2), Math.floor(jpeg.length / 2) + 64);
    const path = await tmp.write(jpeg);
    await expect(probeImage(path, opts)).resolves.toMatchObject({ format: 'jpeg', width: 200 });
    await expect(sharp(path, { failOn: 'warning' }).stats()).rejects.toThrow(/VipsJpeg/);
  });

  it('enforces the pixel limit from the header, at the boundary', async () => {
    const path = await tmp.write(await makePng(100, 50));
    await expect(probeImage(path, { ...opts, maxPixels: 5000 })).resolves.toMatchObject({ width: 100 });
    await expect(probeImage(path, { ...opts, maxPixels: 4999 })).rejects.toMatchObject({
      status: 413,
      code: 'image_too_many_pixels',
    });
  });

  it('rejects a 20000x20000 decompression-bomb PNG fast, from the header alone', async () => {
    const bomb = makeBombPng(20_000, 20_000);
    expect(bomb.length).toBeLessThan(4096);
    const path = await tmp.write(bomb, 'bomb.png');
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();

    const err = await probeImage(path, opts).catch((e: unknown) => e);

    expect(performance.now() - started).toBeLessThan(1000);
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ code: 'image_too_many_pixels' });
    // A decode would need 400 MB; allow generous noise from the test runner itself.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);
  });

  it('the bomb fixture is a well-formed PNG header that sharp reads', async () => {
    await expect(sharp(makeBombPng(20_000, 20_000), { limitInputPixels: false }).metadata()).resolves.toMatchObject({
      format: 'png',
      width: 20_000,
      height: 20_000,
    });
  });
});

describe('makeVariants', () => {
  it('applies EXIF orientation and strips EXIF/GPS from both variants', async () => {
    const source = await makeJpeg(640, 320, { orientation: 6, withPrivateExif: true });
    const sourceMeta = await sharp(source).metadata();
    // Premise: the fixture really carries the private data we expect to be removed.
    expect(sourceMeta.orientation).toBe(6);
    expect(sourceMeta.exif).toBeDefined();
    for (const marker of PRIVATE_EXIF_MARKERS) expect(source.includes(marker)).toBe(true);

    const { thumb, webp } = await makeVariants(await tmp.write(source));

    const thumbMeta = await sharp(thumb).metadata();
    const webpMeta = await sharp(webp).metadata();
    expect(thumbMeta).toMatchObject({ format: 'webp', width: 160, height: 320 });
    expect(webpMeta).toMatchObject({ format: 'webp', width: 320, height: 640 });
    for (const [buf, meta] of [[thumb, thumbMeta], [webp, webpMeta]] as const) {
      expect(meta.exif).toBeUndefined();
      expect(meta.xmp).toBeUndefined();
      expect(meta.orientation).toBeUndefined();
      for (const marker of PRIVATE_EXIF_MARKERS) expect(buf.includes(marker)).toBe(false);
      expect(buf.includes('Exif')).toBe(false);
    }
  });

  it('caps the full-size webp at 4096 on the long side and never enlarges', async () => {
    // Flat colour: noise at this size makes the test slow without testing anything extra.
    const flat = await sharp({ create: { width: 5000, height: 1000, channels: 3, background: '#4a7' } }).png().toBuffer();
    const big = await makeVariants(await tmp.write(flat));
    expect(await sharp(big.webp).metadata()).toMatchObject({ width: 4096, height: 819 });
    expect(await sharp(big.thumb).metadata()).toMatchObject({ width: 320, height: 64 });

    const small = await makeVariants(await tmp.write(await makePng(100, 40)));
    expect(await sharp(small.thumb).metadata()).toMatchObject({ width: 100, height: 40 });
    expect(await sharp(small.webp).metadata()).toMatchObject({ width: 100, height: 40 });
  });

  it('renders GIF input as a still webp', async () => {
    const { thumb } = await makeVariants(await tmp.write(await makeGif(50, 30)));
    expect(await sharp(thumb).metadata()).toMatchObject({ format: 'webp', width: 50, height: 30 });
  });

  it('refuses images above its own pixel limit', async () => {
    const path = await tmp.write(await makePng(100, 100));
    await expect(makeVariants(path, { maxPixels: 9999 })).rejects.toMatchObject({ code: 'corrupt_image' });
  });

  it('rejects truncated input as corrupt_image', async () => {
    const path = await tmp.write(await makeTruncatedJpeg());
    await expect(makeVariants(path)).rejects.toMatchObject({ code: 'corrupt_image' });
  });
});
