/** Least-recently-used buffers, bounded by total bytes. A bound of 0 keeps nothing. */
export interface ByteCache {
  get(key: string): Buffer | undefined;
  set(key: string, value: Buffer): void;
  delete(key: string): void;
}

export function createByteCache(maxBytes: number): ByteCache {
  const entries = new Map<string, Buffer>();
  let total = 0;
  const cache: ByteCache = {
    get(key) {
      const hit = entries.get(key);
      if (hit) {
        entries.delete(key);
        entries.set(key, hit);
      }
      return hit;
    },
    set(key, value) {
      cache.delete(key);
      entries.set(key, value);
      total += value.length;
      for (const [oldest, buf] of entries) {
        if (total <= maxBytes) break;
        entries.delete(oldest);
        total -= buf.length;
      }
    },
    delete(key) {
      const prev = entries.get(key);
      if (prev) {
        entries.delete(key);
        total -= prev.length;
      }
    },
  };
  return cache;
}
