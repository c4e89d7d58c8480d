import type { z } from 'zod';
import { ValidationError, type FieldError } from './errors.js';

function fieldErrors(issue: z.core.$ZodIssue, where: string): FieldError[] {
  const base = [where, ...issue.path.map(String)];
  // One error per unknown field, so clients can point at the exact key.
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...base, key].join('.'), message: 'unknown field' }));
  }
  return [{ path: base.join('.'), message: issue.message }];
}

/** Parses `data` with `schema`; failures become one ValidationError listing every field. */
export function parseWith<S extends z.ZodType>(schema: S, data: unknown, where: string): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  throw new ValidationError(`Invalid ${where}`, result.error.issues.flatMap((issue) => fieldErrors(issue, where)));
}
