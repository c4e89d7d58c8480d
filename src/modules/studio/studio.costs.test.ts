import { describe, expect, it } from 'vitest';
import { estimateCost, priceFor } from './studio.costs.js';

const prices = {
  'gpt-3.5-turbo': { input: 0.0005, output: 0.0015 },
  'gpt-4': { input: 0.03, output: 0.06 },
  'dall-e-3': { image: { '1024x1024': 0.04, '1792x1024': 0.08, default: 0.04 } },
};
const u = { model: 'gpt-3.5-turbo', promptTokens: 45, completionTokens: 32, images: 0, imageModel: null, imageSize: null };

describe('cost estimate (seed 003 table)', () => {
  it('prices tokens per 1K as seed 003 does', () => {
    // 45 prompt + 32 completion tokens at seed 003's gpt-3.5-turbo prices ($0.0005 / $0.0015 per 1K).
    expect(estimateCost(prices, u)).toBeCloseTo(0.0000705, 10);
    expect(estimateCost(prices, { ...u, model: 'gpt-4' })).toBeCloseTo((45 * 0.03 + 32 * 0.06) / 1000, 10);
  });

  it('prices dated model names as their base, the longest match first; unlisted models cost 0', () => {
    expect(priceFor(prices, 'gpt-4-0613')).toBe(prices['gpt-4']);
    expect(priceFor({ ...prices, 'gpt-4-turbo': { input: 0.01 } }, 'gpt-4-turbo-2024-04-09')).toEqual({ input: 0.01 });
    expect(priceFor(prices, 'gpt-45')).toBeUndefined();
    expect(estimateCost(prices, { ...u, model: 'llama3' })).toBe(0);
    expect(estimateCost(prices, { ...u, model: null })).toBe(0);
  });

  it('adds images by size, falling back to the default size price', () => {
    expect(estimateCost(prices, { ...u, model: null, images: 1, imageModel: 'dall-e-3', imageSize: '1792x1024' })).toBe(0.08);
    expect(estimateCost(prices, { ...u, model: null, images: 2, imageModel: 'dall-e-3', imageSize: '512x512' })).toBe(0.08);
  });
});
