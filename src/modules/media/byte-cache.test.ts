import { describe, expect, it } from 'vitest';
import { createByteCache } from './byte-cache.js';

describe('byte cache', () => {
  it('evicts the least recently used entries once the byte bound is passed', () => {
    const cache = createByteCache(10);
    cache.set('a', Buffer.alloc(4));
    cache.set('b', Buffer.alloc(4));
    expect(cache.get('a')).toBeDefined(); // a is now the most recent
    cache.set('c', Buffer.alloc(4));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
  });

  it('keeps nothing with a bound of 0 (cache off)', () => {
    const cache = createByteCache(0);
    cache.set('a', Buffer.alloc(1));
    expect(cache.get('a')).toBeUndefined();
  });

  it('counts a replaced or deleted entry once', () => {
    const cache = createByteCache(8);
    cache.set('a', Buffer.alloc(8));
    cache.set('a', Buffer.alloc(8));
    expect(cache.get('a')).toBeDefined();
    cache.delete('a');
    cache.set('b', Buffer.alloc(8));
    expect(cache.get('b')).toBeDefined();
  });
});
