import type { AdSegment } from '../studio.job-schemas.js';

/**
 * The `local` provider's copywriter: ad copy from templates, in Korean when the brief is written in Hangul
 * and in English otherwise, shaped by tone, keywords, segment and industry. Pure and deterministic for a
 * given seed, so a generation can be reproduced.
 */

export interface CopyBrief {
  prompt: string;
  tone: string | null;
  keywords: readonly string[];
  industry: string | null;
  segment: AdSegment | null;
  seed: number;
}

export interface AdCopy {
  language: 'ko' | 'en';
  headline: string;
  body: string;
  cta: string;
  /** headline, body and call to action as one message. */
  text: string;
  industry: string;
}

const HANGUL = /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]/;

const INDUSTRIES: [string, RegExp][] = [
  ['food_beverage', /coffee|cafe|café|tea|bakery|restaurant|food|drink|burger|pizza|커피|카페|음식|식당|베이커리|빵|차|맛집|음료/i],
  ['fashion', /fashion|dress|shoe|sneaker|bag|cloth|apparel|패션|옷|신발|가방|의류/i],
  ['beauty', /beauty|cosmetic|skin|makeup|perfume|화장품|뷰티|스킨|향수|메이크업/i],
  ['tech', /phone|smartphone|laptop|app|software|gadget|tech|스마트폰|노트북|앱|전자|테크/i],
  ['travel', /travel|hotel|trip|flight|resort|여행|호텔|항공|리조트/i],
  ['fitness', /gym|fitness|workout|yoga|sport|운동|헬스|요가|스포츠/i],
  ['education', /course|class|school|academy|lesson|교육|강의|학원|수업/i],
];

export function classifyIndustry(text: string): string {
  for (const [name, re] of INDUSTRIES) if (re.test(text)) return name;
  return 'general';
}

type Lang = 'ko' | 'en';
const TONES: Record<Lang, Record<string, string[]>> = {
  ko: {
    friendly: ['오늘도 기분 좋게', '가볍게, 즐겁게', '당신 곁의 작은 행복'],
    professional: ['검증된 품질로', '전문가가 선택한', '신뢰할 수 있는 선택'],
    humorous: ['이건 반칙이에요', '참을 수 없는 매력', '웃음이 절로 나는'],
    luxury: ['품격이 다른', '특별한 당신을 위한', '단 하나의 프리미엄'],
    urgent: ['지금 아니면 늦어요', '오늘만 이 가격', '서두르세요'],
  },
  en: {
    friendly: ['Brighten your day', 'Made to make you smile', 'Your new favourite'],
    professional: ['Proven quality', 'Trusted by experts', 'Built to perform'],
    humorous: ['Seriously, try not to love it', 'Dangerously good', 'Warning: highly addictive'],
    luxury: ['Refined in every detail', 'Crafted for the few', 'Pure premium'],
    urgent: ['Don’t miss out', 'Today only', 'Act now'],
  },
};
const TONE_ALIASES: Record<string, string> = {
  친근한: 'friendly', 친근: 'friendly', casual: 'friendly', warm: 'friendly',
  전문적: 'professional', 전문적인: 'professional', formal: 'professional',
  유머러스: 'humorous', 유머: 'humorous', funny: 'humorous', playful: 'humorous',
  고급스러운: 'luxury', 고급: 'luxury', luxurious: 'luxury', premium: 'luxury',
  긴급: 'urgent', 급한: 'urgent',
};
const CTAS: Record<Lang, string[]> = {
  ko: ['지금 바로 만나보세요', '오늘 시작하세요', '지금 확인하세요', '특별한 혜택을 놓치지 마세요'],
  en: ['Shop now', 'Get yours today', 'Discover more', 'Try it today'],
};
const INDUSTRY_LINES: Record<Lang, Record<string, string>> = {
  ko: {
    food_beverage: '한 모금, 한 입에 담긴 정성',
    fashion: '당신의 스타일을 완성하세요',
    beauty: '피부가 먼저 알아보는 변화',
    tech: '일상을 바꾸는 스마트한 기술',
    travel: '떠나는 순간부터 특별한 여행',
    fitness: '더 강한 나를 만나는 시간',
    education: '배움이 즐거워지는 순간',
    general: '매일을 더 특별하게',
  },
  en: {
    food_beverage: 'Crafted with care in every bite and sip',
    fashion: 'Complete your look',
    beauty: 'Skin you can see the difference in',
    tech: 'Smart technology for everyday life',
    travel: 'The journey starts the moment you leave',
    fitness: 'Meet a stronger you',
    education: 'Where learning becomes a joy',
    general: 'Make every day special',
  },
};

/** A small deterministic generator (mulberry32), so the same seed writes the same copy. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(xs: readonly T[], rnd: () => number): T => xs[Math.floor(rnd() * xs.length) % xs.length]!;

/** The product or subject of the brief: its first clause, without request words ("make me an ad for"). */
export function subjectOf(prompt: string, lang: Lang): string {
  let s = prompt.replace(/\s+/g, ' ').trim();
  s = lang === 'ko'
    ? s.replace(/(광고|홍보|문구|카피)\s*(를|을)?\s*(만들어|작성해|써)\s*(줘|주세요|줄래)?[.!?]*$/u, '').replace(/\s*(의|를|을)$/u, '')
    : s.replace(/^(please\s+)?(write|make|create|generate)\s+(me\s+)?(an?\s+)?(ad|advert|advertisement|copy|slogan)s?\s+(for|about)\s+/i, '');
  s = s.split(/[.!?\n。]/)[0]!.trim() || prompt.trim();
  return s.length > 40 ? `${s.slice(0, 39).trimEnd()}…` : s;
}

export function writeCopy(brief: CopyBrief): AdCopy {
  const lang: Lang = HANGUL.test(brief.prompt) ? 'ko' : 'en';
  const rnd = seededRandom(brief.seed);
  const industry = brief.industry ?? classifyIndustry(`${brief.prompt} ${brief.keywords.join(' ')}`);
  const toneKey = brief.tone ? (TONE_ALIASES[brief.tone.trim().toLowerCase()] ?? TONE_ALIASES[brief.tone.trim()] ?? brief.tone.trim().toLowerCase()) : 'friendly';
  const tonePhrase = pick(TONES[lang][toneKey] ?? TONES[lang].friendly!, rnd);
  const subject = subjectOf(brief.prompt, lang);
  const industryLine = INDUSTRY_LINES[lang][industry] ?? INDUSTRY_LINES[lang].general!;
  const keywords = brief.keywords.slice(0, 5);
  const segment = brief.segment?.name ?? null;

  const headline = lang === 'ko' ? `${tonePhrase}, ${subject}` : `${subject}: ${tonePhrase}`;
  const parts: string[] = [industryLine + (lang === 'ko' ? '.' : '.')];
  if (keywords.length) parts.push(lang === 'ko' ? `${keywords.join(' · ')}까지 모두 담았습니다.` : `${keywords.join(' · ')}, all in one.`);
  if (segment) parts.push(lang === 'ko' ? `${segment}을 위한 특별한 제안.` : `A special offer for ${segment}.`);
  const body = parts.join(' ');
  const cta = pick(CTAS[lang], rnd);
  return { language: lang, headline, body, cta, industry, text: `${headline}\n${body}\n${cta}` };
}

/** Splits copy into the pieces a model would stream: a word with its trailing space (or line break). */
export function tokenize(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

/** Rough token count of a prompt for the ledger (local work is free; the count shows its size). */
export const countTokens = (text: string) => tokenize(text).length;
