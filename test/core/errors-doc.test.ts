import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/core/errors.js';
import { httpStatus } from '../../src/adapters/http/problem.js';

describe('docs/errors.md', () => {
  const doc = fs.readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  it('lists every error code with its HTTP status', () => {
    for (const code of Object.keys(ErrorCodes) as (keyof typeof ErrorCodes)[]) {
      expect(doc, code).toMatch(new RegExp(`\\| \`${code}\` \\| .* \\| ${httpStatus(code)} \\|`));
    }
  });
  it('maps client mistakes to 4xx and only internal failures to 5xx', () => {
    expect(httpStatus('ERR_JWS_MALFORMED')).toBe(400);
    expect(httpStatus('ERR_INPUT_TOO_LARGE')).toBe(413);
    expect(httpStatus('ERR_VOUCHER_REQUEST_REPLAYED')).toBe(409);
    expect(httpStatus('ERR_INTERNAL')).toBe(500);
  });
});
