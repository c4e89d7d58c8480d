/**
 * The models `npm run weights` can produce: the upscalerjs ESRGAN packages (MIT). esrgan-slim and
 * esrgan-medium are RDN networks taking pixels in 0–255; esrgan-thick is an RRDN (MultiplyBeta residual
 * scaling, PixelShuffle upsampling) taking 0–1. None of them is Real-ESRGAN.
 */
export type ModelFamily = 'rdn-slim' | 'rdn-medium' | 'rrdn-thick';
export type Scale = 2 | 3 | 4 | 8;

export interface WeightsSource {
  family: ModelFamily;
  packageName: string;
  architecture: 'rdn' | 'rrdn';
  pixelRange: [number, number];
  label: string;
}

export const SOURCES: Record<ModelFamily, WeightsSource> = {
  'rdn-slim': {
    family: 'rdn-slim',
    packageName: '@upscalerjs/esrgan-slim',
    architecture: 'rdn',
    pixelRange: [0, 255],
    label: 'upscalerjs RDN (esrgan-slim: C1 D2 G4 G0 64)',
  },
  'rdn-medium': {
    family: 'rdn-medium',
    packageName: '@upscalerjs/esrgan-medium',
    architecture: 'rdn',
    pixelRange: [0, 255],
    label: 'upscalerjs RDN (esrgan-medium: C1 D10 G64 G0 64)',
  },
  'rrdn-thick': {
    family: 'rrdn-thick',
    packageName: '@upscalerjs/esrgan-thick',
    architecture: 'rrdn',
    pixelRange: [0, 1],
    label: 'upscalerjs RRDN (esrgan-thick: C4 D3 G32 G0 64 T10)',
  },
};

export const SCALES: readonly Scale[] = [2, 3, 4, 8];

export interface ModelId {
  family: ModelFamily;
  scale: Scale;
}

/** File stem and manifest key, e.g. `rdn-slim-x4`. */
export const modelKey = (id: ModelId): string => `${id.family}-x${id.scale}`;

/**
 * Committed to git and produced by a bare `npm run weights`: the RDN models at the scales the upscale
 * endpoint offers (2 and 4), 7.1 MiB together. The others, the thick RRDN files above all (28 MiB each),
 * are produced on request (`npm run weights -- --all`) and ignored by git (weights/.gitignore).
 */
export const DEFAULT_MODELS: readonly ModelId[] = [
  { family: 'rdn-slim', scale: 2 },
  { family: 'rdn-slim', scale: 4 },
  { family: 'rdn-medium', scale: 2 },
  { family: 'rdn-medium', scale: 4 },
];

export const ALL_MODELS: readonly ModelId[] = (Object.keys(SOURCES) as ModelFamily[]).flatMap((family) =>
  SCALES.map((scale) => ({ family, scale })),
);

/** Parses `rdn-slim-x4` style keys (CLI input); undefined when it names no known model. */
export function parseModelKey(key: string): ModelId | undefined {
  const m = /^(rdn-slim|rdn-medium|rrdn-thick)-x(2|3|4|8)$/.exec(key);
  return m ? { family: m[1] as ModelFamily, scale: Number(m[2]) as Scale } : undefined;
}
