import { z } from 'zod';

/**
 * The `ad_text` / `ad_image` job contract (JobMap entries in jobs.events.ts): what the hub queues and what a
 * worker answers. Pure schemas, imported by both sides; no I/O here.
 */

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');

export const AD_STYLES = ['ultra_realistic', 'semi_realistic', 'anime'] as const;
export const ASPECT_RATIOS = ['1:1', '16:9', '9:16', '4:3'] as const;
export const GENERATION_TYPES = ['text', 'image'] as const;
export const PROVIDERS = ['local', 'openai'] as const;
export type AdStyle = (typeof AD_STYLES)[number];
export type AspectRatio = (typeof ASPECT_RATIOS)[number];
export type ProviderName = (typeof PROVIDERS)[number];

export const AdSegment = z.strictObject({
  name: z.string().min(1).max(200),
  description: z.string().max(2000).nullable().default(null),
  criteria: z.record(z.string(), z.unknown()).default({}),
});
export type AdSegment = z.output<typeof AdSegment>;

/** Shared by both ad job types: the brief as the user gave it, plus the options of the request. */
export const AdJobInput = z.strictObject({
  sessionId: z.uuid(),
  prompt: z.string().min(1).max(4000),
  provider: z.enum(PROVIDERS).default('local'),
  style: z.enum(AD_STYLES).default('ultra_realistic'),
  aspectRatio: z.enum(ASPECT_RATIOS).default('1:1'),
  tone: z.string().max(100).nullable().default(null),
  keywords: z.array(z.string().min(1).max(60)).max(20).default([]),
  industry: z.string().max(100).nullable().default(null),
  segment: AdSegment.nullable().default(null),
  seed: z.int().min(0).max(2_147_483_647).nullable().default(null),
  imageSha256: Sha256.nullable().default(null),
  /** 0..5: which of the six layout templates (ad_image); null: chosen from the seed. */
  layout: z.int().min(0).max(5).nullable().default(null),
});
export type AdJobInput = z.output<typeof AdJobInput>;

const Usage = {
  model: z.string().min(1).max(200),
  method: z.string().max(100),
  promptTokens: z.int().min(0),
  completionTokens: z.int().min(0),
  /** The text prompt sent to the model (or the template's brief for `local`). */
  prompt: z.string().max(8000),
  industry: z.string().max(100).nullable(),
  seed: z.int().nullable(),
};

export const AdTextResult = z.strictObject({ text: z.string().max(16_000), ...Usage });
export type AdTextResult = z.output<typeof AdTextResult>;

export const AdImageResult = z.strictObject({
  text: z.string().max(16_000),
  /** The composed ad (media); the worker names its output here. */
  sha256: Sha256,
  width: z.int().positive(),
  height: z.int().positive(),
  aspectRatio: z.enum(ASPECT_RATIOS),
  layout: z.int().min(0).max(5),
  /** Images priced per image (openai images API); 0 for composed-only. */
  images: z.int().min(0),
  imageModel: z.string().max(200).nullable(),
  imageSize: z.string().max(20).nullable(),
  ...Usage,
});
export type AdImageResult = z.output<typeof AdImageResult>;
