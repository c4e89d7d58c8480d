import type { z } from 'zod';
import { ValidationError, type FieldError } from './errors.js';

const NUL = '\u0000';
export const NUL_MESSAGE = 'must not contain NUL (U+0000)';

function fieldErrors(issue: z.core.$ZodIssue, where: string): FieldError[] {
  const base = [where, ...issue.path.map(String)];
  // One error per unknown field, so clients can point at the exact key.
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...base, key].join('.'), message: 'unknown field' }));
  }
  return [{ path: base.join('.'), message: issue.message }];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Paths of every string (value or object key) holding U+0000. PostgreSQL refuses NUL in text, so such
 * input would otherwise pass the schema and fail as a 500 at the database. Iterative, so hostile nesting
 * cannot overflow the stack; Buffers and other non-plain objects (socket binaries) are not walked.
 */
export function findNulPaths(data: unknown, where: string): string[] {
  const found: string[] = [];
  const stack: [unknown, string][] = [[data, where]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes(NUL)) found.push(path);
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], `${path}.${i}`]);
    } else if (isPlainObject(value)) {
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        if (key.includes(NUL)) found.push(`${path}.${key.replaceAll(NUL, '\\u0000')}`);
        stack.push([value[key], `${path}.${key}`]);
      }
    }
  }
  return found;
}

/**
 * Parses `data` with `schema`; failures become one ValidationError listing every field. A string holding
 * NUL anywhere in the input is refused here, once for every HTTP and socket input, with its field path.
 */
export function parseWith<S extends z.ZodType>(schema: S, data: unknown, where: string): z.output<S> {
  const nul = findNulPaths(data, where);
  const result = schema.safeParse(data);
  if (result.success && nul.length === 0) return result.data;
  const errors: FieldError[] = nul.map((path) => ({ path, message: NUL_MESSAGE }));
  if (!result.success) {
    const reported = new Set(nul);
    errors.push(...result.error.issues.flatMap((issue) => fieldErrors(issue, where)).filter((e) => !reported.has(e.path)));
  }
  throw new ValidationError(`Invalid ${where}`, errors);
}
