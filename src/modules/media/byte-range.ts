/** Pure HTTP `Range` logic (RFC 9110 §14), no I/O. */

export interface SatisfiableRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/**
 * Interprets a `Range` header against a representation of `size` bytes.
 * - `null`: serve the whole thing (no header, another unit, several ranges, or syntax the RFC says
 *   to ignore);
 * - `'unsatisfiable'`: answer 416;
 * - otherwise the single inclusive range to send with 206.
 */
export function parseRange(header: string | undefined, size: number): SatisfiableRange | 'unsatisfiable' | null {
  if (!header) return null;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return null;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return null;
  if (first === '') {
    const suffix = Number(last);
    if (!Number.isSafeInteger(suffix)) return null;
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** `If-None-Match` (weak comparison, as the RFC prescribes for it) against one strong ETag. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === opaque);
}
