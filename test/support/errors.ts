/**
 * The error assertions, one place for all tests: the code an operation fails with (sync or
 * async), and the problem body (RFC 9457) an HTTP answer carries. Tests assert codes, never
 * wording.
 */
import { expect } from 'vitest';
import { isAirlockError, type ErrorCode } from '../../src/core/errors.js';
import { PROBLEM_MEDIA_TYPE } from '../../src/adapters/http/problem.js';
import type { HttpResponse } from '../../src/adapters/http/connection.js';

/**
 * Runs `fn` and returns the code of the AirlockError it throws, or 'OK' when it throws
 * nothing. Anything else it throws is rethrown: an untyped error fails the test.
 */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isAirlockError(e)) return e.code;
    throw e;
  }
  return 'OK';
}

/**
 * Runs `fn` and returns `code/reason` of the AirlockError it throws (its details' reason), or
 * 'OK' when it throws nothing. Anything else it throws is rethrown.
 */
export function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isAirlockError(e)) return `${e.code}/${String(e.details.reason ?? '')}`;
    throw e;
  }
  return 'OK';
}

/** Runs `fn` and returns the code of the AirlockError it rejects with. */
export async function errorCode(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (isAirlockError(e)) return e.code;
    throw e;
  }
  throw new Error('expected an AirlockError, got success');
}

/** Asserts an RFC 9457 problem response carrying `code` with an HTTP status `status`. */
export function expectProblem(res: HttpResponse, code: ErrorCode, status: number): void {
  expect(
    res.contentType.startsWith(PROBLEM_MEDIA_TYPE),
    `content-type ${res.contentType}, body ${res.body.slice(0, 200)}`,
  ).toBe(true);
  const p = JSON.parse(res.body) as { code?: unknown; status?: unknown };
  expect(p.code).toBe(code);
  expect(res.status).toBe(status);
  expect(p.status).toBe(status);
}
