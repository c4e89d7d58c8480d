import type { z } from 'zod';
import { ValidationError } from './errors.js';

/** Parses `data` with `schema`; failures become one ValidationError listing every field. */
export function parseWith<S extends z.ZodType>(schema: S, data: unknown, where: string): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => ({
    path: [where, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  throw new ValidationError(`Invalid ${where}`, errors);
}
