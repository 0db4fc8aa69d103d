/**
 * Schema failures become errors in one way: every message Airlock reads against a zod schema
 * goes through `checked`, which answers the typed value or throws an AirlockError with the
 * caller's code, its detail naming each failing field by its path (the first few of them:
 * a hostile message can fail in a thousand places).
 */
import type { z } from 'zod';
import { AirlockError, type ErrorCode } from '../core/errors.js';

const MAX_ISSUES = 5;

export function checked<S extends z.ZodType>(
  schema: S,
  value: unknown,
  code: ErrorCode,
  what?: string,
): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues
    .slice(0, MAX_ISSUES)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(the whole)'}: ${i.message}`)
    .join('; ');
  throw new AirlockError(code, what ? `${what} does not match its schema: ${issues}` : issues);
}
