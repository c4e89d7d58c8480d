import { fileURLToPath } from 'node:url';
import sharp, { type OverlayOptions } from 'sharp';
import type { AdStyle, AspectRatio } from '../studio.job-schemas.js';
import { seededRandom } from './local-copy.js';

/**
 * Ad image composition with sharp: a background (the input photo cover-cropped to the ratio, or a seeded
 * gradient), a style treatment, and the copy on one of six layout templates. Text is drawn by Pango with the
 * project's own fonts (NanumSquare, SIL OFL 1.1: fonts/LICENSE-OFL.txt), never a system font, so Hangul
 * renders on any machine. Text boxes are auto-fitted (sharp picks the largest size that fits the box).
 */

export const FONT_BOLD = fileURLToPath(new URL('../fonts/NanumSquareB.ttf', import.meta.url));
export const FONT_REGULAR = fileURLToPath(new URL('../fonts/NanumSquareR.ttf', import.meta.url));

export const CANVAS: Record<AspectRatio, { width: number; height: number }> = {
  '1:1': { width: 1080, height: 1080 },
  '16:9': { width: 1280, height: 720 },
  '9:16': { width: 720, height: 1280 },
  '4:3': { width: 1200, height: 900 },
};

export const LAYOUTS = ['bottom_band', 'top_band', 'side_panel', 'center_card', 'frame', 'split'] as const;
export type LayoutName = (typeof LAYOUTS)[number];

export interface ComposeInput {
  background: Buffer | null;
  headline: string;
  body: string;
  cta: string;
  aspectRatio: AspectRatio;
  layout: number;
  style: AdStyle;
  seed: number;
}

export interface Composed {
  png: Buffer;
  width: number;
  height: number;
  layout: number;
}

const PALETTES = [
  ['#1d3557', '#457b9d', '#e63946'],
  ['#2b2d42', '#8d99ae', '#ef233c'],
  ['#264653', '#2a9d8f', '#e9c46a'],
  ['#3d0066', '#7b2cbf', '#ffba08'],
  ['#003049', '#d62828', '#fcbf49'],
  ['#14213d', '#fca311', '#e5e5e5'],
] as const;

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

const escapeMarkup = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One auto-fitted block of text as an RGBA image no larger than the box. */
export async function renderText(text: string, box: { width: number; height: number }, opts: { bold: boolean; color: string; align?: 'left' | 'centre' }): Promise<{ data: Buffer; width: number; height: number }> {
  // Pango refuses empty text; a blank part of the copy (a one-line model reply) takes no room.
  if (text.trim() === '') return { data: await sharp({ create: { width: 1, height: 1, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer(), width: 1, height: 1 };
  const { data, info } = await sharp({
    text: {
      text: `<span foreground="${opts.color}">${escapeMarkup(text)}</span>`,
      font: opts.bold ? 'NanumSquare Bold' : 'NanumSquare',
      fontfile: opts.bold ? FONT_BOLD : FONT_REGULAR,
      width: Math.max(1, Math.round(box.width)),
      height: Math.max(1, Math.round(box.height)),
      align: opts.align ?? 'left',
      rgba: true,
      wrap: 'word-char',
    },
  })
    .png()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function gradientSvg(width: number, height: number, palette: readonly string[], angle: number): Buffer {
  const [a, b, c] = palette;
  const x2 = Math.round(50 + 50 * Math.cos(angle));
  const y2 = Math.round(50 + 50 * Math.sin(angle));
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
      <defs><linearGradient id="g" x1="${100 - x2}%" y1="${100 - y2}%" x2="${x2}%" y2="${y2}%">
        <stop offset="0%" stop-color="${a}"/><stop offset="60%" stop-color="${b}"/><stop offset="100%" stop-color="${c}"/>
      </linearGradient></defs>
      <rect width="100%" height="100%" fill="url(#g)"/>
      <circle cx="${Math.round(width * 0.8)}" cy="${Math.round(height * 0.25)}" r="${Math.round(Math.min(width, height) * 0.22)}" fill="${c}" fill-opacity="0.25"/>
    </svg>`,
  );
}

function rectSvg(width: number, height: number, fill: string, opacity: number, radius = 0, gradient?: 'down' | 'up'): Buffer {
  const paint = gradient
    ? `<defs><linearGradient id="f" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${fill}" stop-opacity="${gradient === 'down' ? 0 : opacity}"/><stop offset="1" stop-color="${fill}" stop-opacity="${gradient === 'down' ? opacity : 0}"/></linearGradient></defs><rect width="100%" height="100%" rx="${radius}" fill="url(#f)"/>`
    : `<rect width="100%" height="100%" rx="${radius}" fill="${fill}" fill-opacity="${opacity}"/>`;
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${Math.round(width)}" height="${Math.round(height)}">${paint}</svg>`);
}

/** The photo (or gradient) sized to `box`, with the style's treatment. */
async function backgroundFor(input: ComposeInput, width: number, height: number, palette: readonly string[], rnd: () => number): Promise<Buffer> {
  let img = input.background
    ? sharp(input.background, { limitInputPixels: 100_000_000 }).rotate().resize(width, height, { fit: 'cover', position: 'attention' })
    : sharp(gradientSvg(width, height, palette, rnd() * Math.PI * 2)).resize(width, height);
  if (input.style === 'semi_realistic') img = img.modulate({ saturation: 1.15 }).blur(1.2);
  else if (input.style === 'anime') img = img.median(5).modulate({ saturation: 1.6, brightness: 1.05 }).sharpen({ sigma: 1.5 });
  else img = img.sharpen({ sigma: 0.6 });
  return img.removeAlpha().png().toBuffer();
}

interface Plan {
  /** Where the picture goes (the rest of the canvas is the palette's base colour). */
  picture: Box;
  /** Translucent or solid shapes under the text. */
  shapes: { box: Box; fill: string; opacity: number; radius?: number; gradient?: 'down' | 'up' }[];
  text: Box;
  align: 'left' | 'centre';
}

/** The six templates, each adapted to the canvas shape. */
export function planLayout(layout: number, width: number, height: number, palette: readonly string[]): Plan {
  const full: Box = { left: 0, top: 0, width, height };
  const m = Math.round(Math.min(width, height) * 0.06);
  const portrait = height > width;
  switch (LAYOUTS[layout] ?? 'bottom_band') {
    case 'bottom_band': {
      const h = Math.round(height * (portrait ? 0.34 : 0.42));
      return { picture: full, shapes: [{ box: { left: 0, top: height - h, width, height: h }, fill: '#000000', opacity: 0.8, gradient: 'down' }], text: { left: m, top: height - h + m, width: width - 2 * m, height: h - 2 * m }, align: 'left' };
    }
    case 'top_band': {
      const h = Math.round(height * (portrait ? 0.34 : 0.42));
      return { picture: full, shapes: [{ box: { left: 0, top: 0, width, height: h }, fill: '#000000', opacity: 0.8, gradient: 'up' }], text: { left: m, top: m, width: width - 2 * m, height: h - 2 * m }, align: 'left' };
    }
    case 'side_panel': {
      if (portrait) {
        const h = Math.round(height * 0.38);
        return { picture: { left: 0, top: h, width, height: height - h }, shapes: [{ box: { left: 0, top: 0, width, height: h }, fill: palette[0]!, opacity: 1 }], text: { left: m, top: m, width: width - 2 * m, height: h - 2 * m }, align: 'left' };
      }
      const w = Math.round(width * 0.4);
      return { picture: { left: w, top: 0, width: width - w, height }, shapes: [{ box: { left: 0, top: 0, width: w, height }, fill: palette[0]!, opacity: 1 }], text: { left: m, top: m, width: w - 2 * m, height: height - 2 * m }, align: 'left' };
    }
    case 'center_card': {
      const w = Math.round(width * 0.74);
      const h = Math.round(height * (portrait ? 0.36 : 0.5));
      const box = { left: Math.round((width - w) / 2), top: Math.round((height - h) / 2), width: w, height: h };
      return { picture: full, shapes: [{ box, fill: '#000000', opacity: 0.62, radius: Math.round(m / 2) }], text: { left: box.left + m, top: box.top + m, width: w - 2 * m, height: h - 2 * m }, align: 'centre' };
    }
    case 'frame': {
      const textH = Math.round(height * (portrait ? 0.28 : 0.3));
      return {
        picture: { left: m, top: m, width: width - 2 * m, height: height - textH - m },
        shapes: [],
        text: { left: m, top: height - textH + Math.round(m / 2), width: width - 2 * m, height: textH - m },
        align: 'centre',
      };
    }
    case 'split':
    default: {
      if (portrait) {
        const h = Math.round(height / 2);
        return { picture: { left: 0, top: 0, width, height: h }, shapes: [{ box: { left: 0, top: h, width, height: height - h }, fill: palette[1]!, opacity: 1 }], text: { left: m, top: h + m, width: width - 2 * m, height: height - h - 2 * m }, align: 'left' };
      }
      const w = Math.round(width / 2);
      return { picture: { left: 0, top: 0, width: w, height }, shapes: [{ box: { left: w, top: 0, width: width - w, height }, fill: palette[1]!, opacity: 1 }], text: { left: w + m, top: m, width: width - w - 2 * m, height: height - 2 * m }, align: 'left' };
    }
  }
}

/**
 * @example
 * const { png } = await composeAd({ background: null, headline: '오늘도 기분 좋게, 커피', body: '…', cta: '지금 만나보세요', aspectRatio: '9:16', layout: 2, style: 'anime', seed: 7 });
 */
export async function composeAd(input: ComposeInput): Promise<Composed> {
  const { width, height } = CANVAS[input.aspectRatio];
  const rnd = seededRandom(input.seed);
  const palette = PALETTES[Math.floor(rnd() * PALETTES.length) % PALETTES.length]!;
  const layout = Math.max(0, Math.min(LAYOUTS.length - 1, input.layout));
  const plan = planLayout(layout, width, height, palette);

  const picture = await backgroundFor(input, plan.picture.width, plan.picture.height, palette, rnd);
  const layers: OverlayOptions[] = [{ input: picture, left: plan.picture.left, top: plan.picture.top }];
  for (const s of plan.shapes) layers.push({ input: rectSvg(s.box.width, s.box.height, s.fill, s.opacity, s.radius, s.gradient), left: s.box.left, top: s.box.top });

  // Headline, body and a call-to-action pill, stacked in the text box.
  const t = plan.text;
  const gap = Math.round(t.height * 0.05);
  const [headline, body, cta] = await Promise.all([
    renderText(input.headline, { width: t.width, height: t.height * 0.42 }, { bold: true, color: '#ffffff', align: plan.align }),
    renderText(input.body, { width: t.width, height: t.height * 0.28 }, { bold: false, color: '#f1f1f1', align: plan.align }),
    renderText(input.cta, { width: t.width * 0.6, height: t.height * 0.12 }, { bold: true, color: '#111111', align: 'centre' }),
  ]);
  const x = (w: number) => (plan.align === 'centre' ? t.left + Math.round((t.width - w) / 2) : t.left);
  let y = t.top;
  layers.push({ input: headline.data, left: x(headline.width), top: y });
  y += headline.height + gap;
  layers.push({ input: body.data, left: x(body.width), top: y });
  y += body.height + gap;
  const padX = Math.round(cta.height * 0.8);
  const padY = Math.round(cta.height * 0.35);
  const pillW = cta.width + 2 * padX;
  const pillH = cta.height + 2 * padY;
  const pillLeft = x(pillW);
  const pillTop = Math.min(y, t.top + t.height - pillH);
  layers.push({ input: rectSvg(pillW, pillH, palette[2]!, 1, Math.round(pillH / 2)), left: pillLeft, top: pillTop });
  layers.push({ input: cta.data, left: pillLeft + padX, top: pillTop + padY });

  const png = await sharp({ create: { width, height, channels: 3, background: palette[0]! } }).composite(layers).png({ compressionLevel: 6 }).toBuffer();
  return { png, width, height, layout };
}
