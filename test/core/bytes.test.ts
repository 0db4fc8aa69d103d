import { describe, expect, it } from 'vitest';
import { fromBase64, fromBase64Url, toBase64, toBase64Url } from '../../src/core/bytes.js';

describe('base64', () => {
  it('agrees with Buffer on every length and value', () => {
    for (let len = 0; len < 70; len++) {
      const b = new Uint8Array(len).map((_, i) => (i * 37 + len * 11) & 255);
      const expected = Buffer.from(b).toString('base64');
      expect(toBase64(b)).toBe(expected);
      expect(Buffer.from(fromBase64(expected)!)).toEqual(Buffer.from(b));
      expect(toBase64Url(b)).toBe(Buffer.from(b).toString('base64url'));
      expect(Buffer.from(fromBase64Url(toBase64Url(b))!)).toEqual(Buffer.from(b));
    }
    const big = new Uint8Array(100_000).map((_, i) => i & 255);
    expect(toBase64(big)).toBe(Buffer.from(big).toString('base64'));
  });

  it('refuses what is not base64', () => {
    for (const bad of ['a', 'abc', 'ab=c', 'a===', '####', 'ab-_']) expect(fromBase64(bad), bad).toBeUndefined();
    expect(fromBase64Url('ab+/')).toBeUndefined();
    expect(Buffer.from(fromBase64('aGVs\nbG8=')!).toString()).toBe('hello');
  });
});
