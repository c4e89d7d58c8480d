import { describe, expect, it } from 'vitest';
import { etagMatches, parseRange } from './byte-range.js';

describe('parseRange', () => {
  it.each([
    ['bytes=0-9', { start: 0, end: 9 }],
    ['bytes=5-', { start: 5, end: 99 }],
    ['bytes=-10', { start: 90, end: 99 }],
    ['bytes=-500', { start: 0, end: 99 }],
    ['bytes=90-500', { start: 90, end: 99 }],
    [' Bytes = 1 - 2 ', { start: 1, end: 2 }],
  ])('%s → %o', (header, expected) => expect(parseRange(header, 100)).toEqual(expected));

  it.each(['bytes=100-', 'bytes=150-200', 'bytes=-0'])('%s is unsatisfiable', (header) => expect(parseRange(header, 100)).toBe('unsatisfiable'));

  it.each([undefined, '', 'bytes=', 'bytes=-', 'bytes=9-3', 'bytes=0-1,4-5', 'items=0-5', 'bytes=a-b', 'bytes=99999999999999999999-'])('%s is ignored', (header) =>
    expect(parseRange(header, 100)).toBeNull(),
  );

  it('treats every range of an empty file as unsatisfiable', () => {
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable');
    expect(parseRange('bytes=-1', 0)).toBe('unsatisfiable');
  });
});

describe('etagMatches', () => {
  it('compares weakly, as If-None-Match requires', () => {
    expect(etagMatches('"a"', '"a"')).toBe(true);
    expect(etagMatches('W/"a"', '"a"')).toBe(true);
    expect(etagMatches('"b", "a"', '"a"')).toBe(true);
    expect(etagMatches('*', '"a"')).toBe(true);
    expect(etagMatches('"b"', '"a"')).toBe(false);
    expect(etagMatches(undefined, '"a"')).toBe(false);
  });
});
