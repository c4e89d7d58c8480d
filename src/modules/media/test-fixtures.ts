/**
 * Image fixtures for unit and integration tests. Everything is generated, so no binary files live
 * in the repository and every test can ask for exactly the shape it needs.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';

export interface JpegOptions {
  /** EXIF orientation tag (1-8) written into the file; pixels stay as stored. */
  orientation?: number;
  /** Adds identifying EXIF (camera, owner) and a GPS position, to prove variants strip them. */
  withPrivateExif?: boolean;
}

/** Strings embedded by `withPrivateExif`; tests assert they never appear in output bytes. */
export const PRIVATE_EXIF_MARKERS = ['EaselTestCam', 'easel-secret-owner'] as const;

// Noise rather than a flat colour: compressed data then spans the whole file, so cutting the file
// anywhere really removes scan data.
function noise(width: number, height: number): Sharp {
  return sharp({
    create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
  });
}

export async function makeJpeg(width: number, height: number, opts: JpegOptions = {}): Promise<Buffer> {
  let img = noise(width, height);
  if (opts.withPrivateExif) {
    img = img.withExif({
      IFD0: { Make: PRIVATE_EXIF_MARKERS[0], Copyright: PRIVATE_EXIF_MARKERS[1] },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' },
    });
  }
  if (opts.orientation) img = img.withMetadata({ orientation: opts.orientation });
  return img.jpeg({ quality: 85 }).toBuffer();
}

export function makePng(width: number, height: number): Promise<Buffer> {
  return noise(width, height).png().toBuffer();
}

export function makeWebp(width: number, height: number): Promise<Buffer> {
  return noise(width, height).webp().toBuffer();
}

export function makeGif(width: number, height: number): Promise<Buffer> {
  return noise(width, height).gif().toBuffer();
}

/** Contents of a plain-text file, e.g. something renamed to `.jpg`. */
export function makeTextFile(text = 'this is not an image, whatever its name says\n'): Buffer {
  return Buffer.from(text, 'utf8');
}

/** A valid JPEG cut in half: the header (and so metadata) is intact, the scan data is not. */
export async function makeTruncatedJpeg(width = 256, height = 256): Promise<Buffer> {
  const full = await makeJpeg(width, height);
  return full.subarray(0, Math.floor(full.length / 2));
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// Hand-rolled because zlib.crc32 only exists from Node 20.15 and engines allow 20.9.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A decompression-bomb PNG: a header claiming `width` x `height` 8-bit grayscale (20000x20000 =
 * 400 MP, 400 MB decoded) in a file of a few hundred bytes. Every chunk is well-formed with a
 * correct CRC, but the IDAT holds only `rows` zero scanlines, because a complete stream would be
 * ~390 KB and take ~2 s to deflate. That is enough: a correct pixel limit rejects from the header
 * alone, and a missing limit would report a different error (corrupt image), so tests still tell
 * the two apart.
 */
export function makeBombPng(width = 20_000, height = 20_000, rows = 4): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // colour type: grayscale
  // bytes 10-12 (compression, filter, interlace) are 0 = the only standard values
  const scanlines = Buffer.alloc(Math.min(rows, height) * (width + 1)); // filter byte 0 + zero pixels
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(scanlines, { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

export interface TempDir {
  dir: string;
  /** Writes `data` under a unique name in the directory and returns its path. */
  write(data: Buffer, name?: string): Promise<string>;
  cleanup(): Promise<void>;
}

export async function makeTempDir(prefix = 'easel-media-'): Promise<TempDir> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return {
    dir,
    async write(data, name = randomUUID()) {
      const path = join(dir, name);
      await writeFile(path, data);
      return path;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
