import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { stripMetadata } from './image.metadata.js';
import { makePublicOriginal, probeImage, type ImageFormat } from './image.pipeline.js';
import { makeGif, makeJpeg, makePng, makeWebp, PRIVATE_EXIF_MARKERS } from './test-fixtures.js';

const GPS_EXIF = {
  IFD0: { Make: PRIVATE_EXIF_MARKERS[0], Copyright: PRIVATE_EXIF_MARKERS[1] },
  IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' },
};
const noise = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } });
const opts = { allowedFormats: ['jpeg', 'png', 'gif', 'webp'] as ImageFormat[], maxPixels: 10_000_000 };
const pixels = async (img: Buffer) => (await sharp(img).raw().toBuffer({ resolveWithObject: true })).data;
const hasMarkers = (img: Buffer) => PRIVATE_EXIF_MARKERS.some((m) => img.includes(m));

describe('stripMetadata', () => {
  it.each([
    ['jpeg', () => noise(80, 60).withExif(GPS_EXIF).withMetadata({ orientation: 1 }).jpeg().toBuffer()],
    ['png', () => noise(80, 60).withExif(GPS_EXIF).png().toBuffer()],
    ['webp', () => noise(80, 60).withExif(GPS_EXIF).webp().toBuffer()],
  ] as const)('drops EXIF/GPS from %s and keeps every pixel', async (format, make) => {
    const input = await make();
    expect((await sharp(input).metadata()).exif).toBeDefined();
    expect(hasMarkers(input)).toBe(true);
    const out = stripMetadata(format, input)!;
    expect(out).not.toBeNull();
    expect(out.length).toBeLessThan(input.length);
    expect(hasMarkers(out)).toBe(false);
    const meta = await sharp(out).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta.format).toBe(format);
    expect((await pixels(out)).equals(await pixels(input))).toBe(true);
  });

  it('returns the very same buffer when there is nothing to drop (no re-encode, no copy)', async () => {
    for (const [format, img] of [['jpeg', await makeJpeg(40, 30)], ['png', await makePng(40, 30)], ['webp', await makeWebp(40, 30)]] as const) {
      expect(stripMetadata(format, img)).toBe(img);
    }
  });

  it('keeps the ICC profile of a JPEG while dropping its EXIF', async () => {
    const input = await noise(40, 30).withIccProfile('p3').withExif(GPS_EXIF).jpeg().toBuffer();
    const meta = await sharp(stripMetadata('jpeg', input)!).metadata();
    expect(meta.icc).toBeDefined();
    expect(meta.exif).toBeUndefined();
  });

  it('drops JPEG comments, XMP-like APP segments and bytes after the end of the image', async () => {
    const plain = await makeJpeg(40, 30);
    const app = (marker: number, text: string) => {
      const body = Buffer.from(text, 'latin1');
      const head = Buffer.from([0xff, marker, 0, 0]);
      head.writeUInt16BE(body.length + 2, 2);
      return Buffer.concat([head, body]);
    };
    // After SOI: a COM and an APP1 XMP packet; after EOI: a trailer (where MPF previews live).
    const dirty = Buffer.concat([plain.subarray(0, 2), app(0xfe, 'secret comment'), app(0xe1, 'http://ns.adobe.com/xap/1.0/\0<gps>51.5</gps>'), plain.subarray(2), Buffer.from('trailing-secret')]);
    const out = stripMetadata('jpeg', dirty)!;
    expect(out.equals(plain)).toBe(true);
  });

  it('drops PNG text chunks (prompts, comments) and data after IEND', async () => {
    const plain = await makePng(30, 20);
    const withText = await sharp(plain).png().toBuffer(); // same pixels, re-encoded by sharp
    const iend = withText.length - 12;
    const chunk = Buffer.concat([Buffer.from([0, 0, 0, 6]), Buffer.from('tEXtsecret', 'latin1'), Buffer.alloc(4)]);
    const dirty = Buffer.concat([withText.subarray(0, iend), chunk, withText.subarray(iend), Buffer.from('junk')]);
    expect(stripMetadata('png', dirty)!.equals(withText)).toBe(true);
  });

  it('clears the WebP VP8X EXIF flag with the chunk', async () => {
    const out = stripMetadata('webp', await noise(30, 20).withExif(GPS_EXIF).webp().toBuffer())!;
    const vp8x = out.indexOf('VP8X');
    expect(vp8x).toBe(12);
    expect(out[vp8x + 8]! & 0x0c).toBe(0);
    expect(out.readUInt32LE(4)).toBe(out.length - 8);
  });

  it('drops GIF comments and XMP application data, keeps frames and looping', async () => {
    const frame = (colour: string) => sharp({ create: { width: 16, height: 16, channels: 3, background: colour } }).png().toBuffer();
    const gif = await sharp([await frame('#ff0000'), await frame('#0000ff')], { join: { animated: true } }).gif({ loop: 0 }).toBuffer();
    const ext = (label: number, payload: Buffer) => Buffer.concat([Buffer.from([0x21, label]), ...chunks(payload), Buffer.from([0])]);
    const chunks = (b: Buffer): Buffer[] => (b.length === 0 ? [] : [Buffer.from([Math.min(255, b.length)]), b.subarray(0, 255), ...chunks(b.subarray(255))]);
    const comment = ext(0xfe, Buffer.from('shot at 51.5N 0.12W'));
    const xmp = Buffer.concat([Buffer.from([0x21, 0xff, 11]), Buffer.from('XMP DataXMP', 'latin1'), ...chunks(Buffer.from('<gps>51.5</gps>'.repeat(30))), Buffer.from([0])]);
    // Both right after the header and colour table, before the first frame.
    const meta = await sharp(gif).metadata();
    const headerEnd = 13 + (gif[10]! & 0x80 ? 3 * 2 ** ((gif[10]! & 0x07) + 1) : 0);
    const dirty = Buffer.concat([gif.subarray(0, headerEnd), comment, xmp, gif.subarray(headerEnd), Buffer.from('trailer')]);
    expect((await sharp(dirty).metadata()).pages).toBe(meta.pages);
    const out = stripMetadata('gif', dirty)!;
    expect(out.equals(gif)).toBe(true);
    expect(stripMetadata('gif', gif)).toBe(gif);
    expect(stripMetadata('gif', dirty.subarray(0, headerEnd + 5))).toBeNull();
  });

  it('returns null for containers it cannot walk (caller re-encodes)', async () => {
    const jpeg = await makeJpeg(40, 30);
    expect(stripMetadata('jpeg', Buffer.from('not a jpeg'))).toBeNull();
    expect(stripMetadata('jpeg', jpeg.subarray(0, 30))).toBeNull();
    expect(stripMetadata('png', Buffer.from('\x89PNG\r\n\x1a\n\0\0\xff\xffIHDR', 'latin1'))).toBeNull();
    expect(stripMetadata('webp', Buffer.from('RIFF\xff\xff\xff\x00WEBP', 'latin1'))).toBeNull();
  });
});

describe('makePublicOriginal', () => {
  const run = async (img: Buffer) => makePublicOriginal(img, await probeImage(img, opts), { maxPixels: opts.maxPixels });

  it('leaves files without metadata alone (null: serve the upload byte for byte)', async () => {
    for (const img of [await makeJpeg(40, 30), await makePng(40, 30), await makeWebp(40, 30), await makeGif(40, 30)]) expect(await run(img)).toBeNull();
  });

  it('strips an upright JPEG losslessly', async () => {
    const input = await makeJpeg(120, 80, { withPrivateExif: true });
    const out = (await run(input))!;
    expect(out.method).toBe('lossless');
    expect((await pixels(out.bytes)).equals(await pixels(input))).toBe(true);
  });

  it('keeps every frame of an animated WebP and drops its EXIF without rotating it', async () => {
    const frame = (colour: string) => sharp({ create: { width: 20, height: 20, channels: 3, background: colour } }).png().toBuffer();
    const input = await sharp([await frame('#ff0000'), await frame('#00ff00'), await frame('#0000ff')], { join: { animated: true } })
      .webp()
      .withExif(GPS_EXIF)
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const out = (await run(input))!;
    expect(out.method).toBe('lossless');
    const meta = await sharp(out.bytes).metadata();
    expect(meta).toMatchObject({ format: 'webp', pages: 3, width: 20 });
    expect(meta.exif).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
    expect(hasMarkers(out.bytes)).toBe(false);
  });

  it('rotates a JPEG with orientation 6 upright, drops the tag, keeps quality', async () => {
    const input = await makeJpeg(120, 80, { withPrivateExif: true, orientation: 6 });
    const out = (await run(input))!;
    expect(out).toMatchObject({ method: 'reencoded', width: 80, height: 120 });
    const meta = await sharp(out.bytes).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 80, height: 120 });
    expect(meta.exif).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
    expect(meta.chromaSubsampling).toBe('4:4:4');
    expect(hasMarkers(out.bytes)).toBe(false);
    // Same picture as sharp's own upright rendering of the input: mean absolute error of a q92 re-encode.
    const upright = await sharp(input).autoOrient().raw().toBuffer();
    const got = await pixels(out.bytes);
    let err = 0;
    for (let i = 0; i < got.length; i++) err += Math.abs(got[i]! - upright[i]!);
    expect(err / got.length).toBeLessThan(8);
  });
});
