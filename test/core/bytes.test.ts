import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  fromBase64,
  fromBase64Url,
  fromUtf8,
  toBase64,
  toBase64Url,
  utf8,
} from '../../src/core/bytes.js';

describe('base64 and base64url', () => {
  it('agree with Node for every length up to 300 and for large inputs, both ways', () => {
    for (const n of [...Array.from({ length: 301 }, (_, i) => i), 4096, 65_537]) {
      const b = new Uint8Array(randomBytes(n));
      const std = Buffer.from(b).toString('base64');
      const url = Buffer.from(b).toString('base64url');
      expect(toBase64(b)).toBe(std);
      expect(toBase64Url(b)).toBe(url);
      expect(fromBase64(std)).toEqual(b);
      expect(fromBase64Url(url)).toEqual(b);
    }
  });

  it('reads base64 with white space (PEM bodies)', () => {
    const b = new Uint8Array(randomBytes(100));
    const wrapped = Buffer.from(b)
      .toString('base64')
      .replace(/(.{64})/g, '$1\n');
    expect(fromBase64(` ${wrapped}\r\n`)).toEqual(b);
  });

  it('refuses what is not base64 of the expected alphabet', () => {
    for (const bad of [
      'a',
      'abc',
      'ab=c',
      'a===',
      '####',
      'ab-_',
      'QQ',
      'QQ=',
      'Q===',
      'QQ=A',
      'QUJD-A==',
      'QUJD_A==',
      'QU*D',
      'QUJDé===',
    ])
      expect(fromBase64(bad), bad).toBeUndefined();
    for (const bad of ['ab+/', 'Q', 'QUJDR', 'QUJD+A', 'QUJD/A', 'QUI=', 'QU D', 'QUJDé'])
      expect(fromBase64Url(bad), bad).toBeUndefined();
    expect(fromBase64('')).toEqual(new Uint8Array(0));
    expect(fromBase64Url('')).toEqual(new Uint8Array(0));
  });
});

describe('UTF-8', () => {
  it('round-trips text and refuses bytes that are not UTF-8', () => {
    const text = 'Grüße, 世界 🌍';
    expect(fromUtf8(utf8(text))).toBe(text);
    expect(() => fromUtf8(new Uint8Array([0x61, 0xff, 0x62]))).toThrow();
    expect(() => fromUtf8(new Uint8Array([0xe4, 0xb8]))).toThrow();
    // The decoder keeps no state from a failed call.
    expect(fromUtf8(utf8('after'))).toBe('after');
  });
});
