import { describe, expect, it } from 'vitest';
import { classifyIndustry, subjectOf, tokenize, writeCopy } from './local-copy.js';
import { splitCopy } from './pipeline.js';

describe('local copywriter', () => {
  const base = { tone: null, keywords: [], industry: null, segment: null, seed: 1 };

  it('writes Korean for a Hangul brief and English otherwise', () => {
    const ko = writeCopy({ ...base, prompt: '신선한 아침 커피 광고 만들어줘' });
    expect(ko.language).toBe('ko');
    expect(ko.text).toMatch(/[가-힣]/);
    expect(ko.headline).toContain('신선한 아침 커피');
    const en = writeCopy({ ...base, prompt: 'Write an ad for running shoes' });
    expect(en.language).toBe('en');
    expect(en.headline).toContain('running shoes');
    expect(en.text).not.toMatch(/[가-힣]/);
  });

  it('uses tone, keywords, segment and industry, and the same seed writes the same copy', () => {
    const brief = { prompt: 'Coffee for busy mornings', tone: 'luxurious', keywords: ['arabica', 'fresh'], industry: null, segment: { name: 'young parents', description: null, criteria: {} }, seed: 7 };
    const a = writeCopy(brief);
    expect(a.text).toContain('arabica · fresh');
    expect(a.text).toContain('young parents');
    expect(a.industry).toBe('food_beverage');
    expect(['Refined in every detail', 'Crafted for the few', 'Pure premium'].some((t) => a.headline.includes(t))).toBe(true);
    expect(writeCopy(brief)).toEqual(a);
    expect(writeCopy({ ...brief, industry: 'tech' }).industry).toBe('tech');
  });

  it('classifies industries in both languages', () => {
    expect(classifyIndustry('새 스마트폰')).toBe('tech');
    expect(classifyIndustry('yoga studio')).toBe('fitness');
    expect(classifyIndustry('something else')).toBe('general');
  });

  it('tokenizes into pieces that concatenate back to the text', () => {
    const text = '당신 곁의 작은 행복\nFresh beans,  daily. ';
    expect(tokenize(text).join('')).toBe(text);
    expect(tokenize('')).toEqual([]);
  });

  it('finds the subject of a request and splits a model reply into headline, body and call to action', () => {
    expect(subjectOf('please write an ad for my bakery. It is great', 'en')).toBe('my bakery');
    expect(splitCopy('Headline: Fresh\nBody one\nBody two\nCTA: Buy')).toEqual({ headline: 'Fresh', body: 'Body one Body two', cta: 'Buy' });
    expect(splitCopy('Only one line').headline).toBe('Only one line');
  });
});
