/**
 * Lossless metadata removal at the container level: whole segments/chunks are dropped, the
 * compressed pixel data is copied byte for byte. sharp cannot do this (every sharp output is a
 * re-encode), and re-encoding a JPEG to drop its EXIF would cost quality on every upload.
 *
 * Allow-lists, not deny-lists: anything not needed to render the image (EXIF, XMP, IPTC, comments,
 * text chunks, GIF application data, MPF preview images, unknown chunks, trailing bytes) is dropped, so a
 * new metadata carrier is stripped by default. Pure functions, no I/O; the input was decode-validated
 * before, and callers verify the output again with a decoder.
 */

export type StrippableFormat = 'jpeg' | 'png' | 'webp' | 'gif';

/**
 * The image without metadata, or the same Buffer object when there was nothing to drop, or null when
 * the container does not parse (callers then fall back to a re-encode).
 *
 * @example
 * const clean = stripMetadata('jpeg', bytes);
 * if (clean && clean !== bytes) await store(clean);
 */
export function stripMetadata(format: StrippableFormat, bytes: Buffer): Buffer | null {
  try {
    if (format === 'jpeg') return stripJpeg(bytes);
    if (format === 'png') return stripPng(bytes);
    if (format === 'gif') return stripGif(bytes);
    return stripWebp(bytes);
  } catch {
    // A RangeError from a length field pointing past the end: not a container we understand.
    return null;
  }
}

/** Application extensions that only say how to loop an animation; XMP, ICC and vendor data go. */
const GIF_KEEP_APPS = new Set(['NETSCAPE2.0', 'ANIMEXTS1.0']);
const GIF_EXTENSION = 0x21;
const GIF_IMAGE = 0x2c;
const GIF_TRAILER = 0x3b;
const GIF_APPLICATION = 0xff;
const GIF_COMMENT = 0xfe;

/** Offset just past a run of data sub-blocks (length-prefixed, ended by a zero length). */
function gifSubBlocksEnd(src: Buffer, pos: number): number {
  let p = pos;
  for (;;) {
    if (p >= src.length) throw new RangeError('GIF sub-blocks run past the end');
    const len = src[p]!;
    if (len === 0) return p + 1;
    p += len + 1;
  }
}

function stripGif(src: Buffer): Buffer | null {
  const signature = src.toString('latin1', 0, 6);
  if (signature !== 'GIF87a' && signature !== 'GIF89a') return null;
  const flags = src[10]!;
  let pos = 13 + (flags & 0x80 ? 3 * 2 ** ((flags & 0x07) + 1) : 0);
  const parts: Buffer[] = [src.subarray(0, pos)];
  let dropped = false;
  for (;;) {
    const start = pos;
    const kind = src[pos];
    if (kind === GIF_TRAILER) {
      parts.push(src.subarray(pos, pos + 1));
      if (pos + 1 < src.length) dropped = true;
      break;
    }
    if (kind === GIF_IMAGE) {
      const local = src[pos + 9]!;
      pos += 10 + (local & 0x80 ? 3 * 2 ** ((local & 0x07) + 1) : 0) + 1; // descriptor, colour table, LZW code size
      pos = gifSubBlocksEnd(src, pos);
      parts.push(src.subarray(start, pos));
    } else if (kind === GIF_EXTENSION) {
      const label = src[pos + 1]!;
      const app = label === GIF_APPLICATION && src[pos + 2] === 11 ? src.toString('latin1', pos + 3, pos + 14) : null;
      pos = gifSubBlocksEnd(src, pos + 2);
      // Graphic control (timing, transparency) and plain text render; comments and foreign applications do not.
      if (label === GIF_COMMENT || (label === GIF_APPLICATION && !(app && GIF_KEEP_APPS.has(app)))) dropped = true;
      else parts.push(src.subarray(start, pos));
    } else {
      return null;
    }
    if (pos > src.length) return null;
  }
  return dropped ? Buffer.concat(parts) : src;
}

const JPEG_APP0 = 0xe0;
const JPEG_APP2 = 0xe2;
const JPEG_APP14 = 0xee;
const JPEG_SOS = 0xda;
const JPEG_EOI = 0xd9;
const ICC_TAG = Buffer.from('ICC_PROFILE\0', 'latin1');

/** APP0 (JFIF), APP2 only when it is an ICC profile (MPF lives in APP2 too), APP14 (Adobe colour transform). */
function keepJpegApp(marker: number, payload: Buffer): boolean {
  if (marker === JPEG_APP0 || marker === JPEG_APP14) return true;
  return marker === JPEG_APP2 && payload.subarray(0, ICC_TAG.length).equals(ICC_TAG);
}

function stripJpeg(src: Buffer): Buffer | null {
  if (src.readUInt16BE(0) !== 0xffd8) return null;
  const parts: Buffer[] = [src.subarray(0, 2)];
  let pos = 2;
  let dropped = false;
  for (;;) {
    if (src[pos] !== 0xff) return null;
    while (src[pos + 1] === 0xff) pos++; // fill bytes
    const marker = src[pos + 1]!;
    if (marker === JPEG_EOI) return null; // no scan at all
    const len = src.readUInt16BE(pos + 2);
    const end = pos + 2 + len;
    if (len < 2 || end > src.length) return null;
    const isApp = marker >= 0xe0 && marker <= 0xef;
    if ((isApp && !keepJpegApp(marker, src.subarray(pos + 4, end))) || marker === 0xfe) dropped = true;
    else parts.push(src.subarray(pos, end));
    pos = end;
    if (marker === JPEG_SOS) break;
  }
  // From the first scan to the first EOI: tables and further scans (progressive) are in between, and
  // nothing there carries metadata. Bytes after EOI (MPF previews with their own EXIF, trailers) go.
  const eoi = findJpegEoi(src, pos);
  if (eoi < 0) return null;
  parts.push(src.subarray(pos, eoi + 2));
  if (eoi + 2 < src.length) dropped = true;
  return dropped ? Buffer.concat(parts) : src;
}

/** The first EOI marker: in entropy-coded data 0xFF is always followed by 0x00 or a restart marker. */
function findJpegEoi(src: Buffer, from: number): number {
  for (let i = src.indexOf(0xff, from); i >= 0 && i + 1 < src.length; i = src.indexOf(0xff, i + 1)) {
    if (src[i + 1] === JPEG_EOI) return i;
  }
  return -1;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** What rendering needs, colour management and APNG animation included; text, eXIf, tIME and the rest go. */
const PNG_KEEP = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND', 'tRNS', 'cHRM', 'gAMA', 'iCCP', 'sBIT', 'sRGB', 'cICP', 'mDCv', 'cLLi', 'bKGD', 'hIST', 'pHYs', 'sPLT', 'acTL', 'fcTL', 'fdAT']);

function stripPng(src: Buffer): Buffer | null {
  if (!src.subarray(0, 8).equals(PNG_SIGNATURE)) return null;
  const parts: Buffer[] = [PNG_SIGNATURE];
  let pos = 8;
  let dropped = false;
  for (;;) {
    const len = src.readUInt32BE(pos);
    const type = src.toString('latin1', pos + 4, pos + 8);
    const end = pos + 12 + len;
    if (end > src.length) return null;
    if (PNG_KEEP.has(type)) parts.push(src.subarray(pos, end));
    else dropped = true;
    pos = end;
    if (type === 'IEND') break;
  }
  if (pos < src.length) dropped = true;
  return dropped ? Buffer.concat(parts) : src;
}

const WEBP_KEEP = new Set(['VP8 ', 'VP8L', 'VP8X', 'ALPH', 'ANIM', 'ANMF', 'ICCP']);
/** VP8X flag bits announcing EXIF and XMP chunks; cleared with the chunks. */
const VP8X_EXIF = 0x08;
const VP8X_XMP = 0x04;

function stripWebp(src: Buffer): Buffer | null {
  if (src.toString('latin1', 0, 4) !== 'RIFF' || src.toString('latin1', 8, 12) !== 'WEBP') return null;
  const riffEnd = 8 + src.readUInt32LE(4);
  if (riffEnd > src.length) return null;
  const parts: Buffer[] = [];
  let pos = 12;
  let dropped = riffEnd < src.length;
  while (pos + 8 <= riffEnd) {
    const type = src.toString('latin1', pos, pos + 4);
    const size = src.readUInt32LE(pos + 4);
    const end = pos + 8 + size + (size & 1);
    if (end > riffEnd) return null;
    if (!WEBP_KEEP.has(type)) {
      dropped = true;
    } else if (type === 'VP8X' && src[pos + 8]! & (VP8X_EXIF | VP8X_XMP)) {
      const chunk = Buffer.from(src.subarray(pos, end));
      chunk[8] = chunk[8]! & ~(VP8X_EXIF | VP8X_XMP);
      parts.push(chunk);
      dropped = true;
    } else {
      parts.push(src.subarray(pos, end));
    }
    pos = end;
  }
  if (!dropped) return src;
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(12);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(body.length + 4, 4);
  header.write('WEBP', 8, 'latin1');
  return Buffer.concat([header, body]);
}
