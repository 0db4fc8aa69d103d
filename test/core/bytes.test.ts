import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  fromAnyBase64,
  fromBase64,
  fromBase64Url,
  toPaddedBase64Url,
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

  it('reads base64 of either alphabet, padded or not, as Veraison and its clients write it; writes padded base64url as Go does', () => {
    for (const n of [8, 31, 32, 33, 64]) {
      const b = new Uint8Array(randomBytes(n));
      const url = Buffer.from(b).toString('base64url');
      const std = Buffer.from(b).toString('base64');
      expect(toPaddedBase64Url(b)).toBe(std.replace(/\+/g, '-').replace(/\//g, '_'));
      for (const form of [url, std, toPaddedBase64Url(b), std.replace(/=+$/, '')])
        expect(fromAnyBase64(form), form).toEqual(b);
    }
    for (const bad of ['ab-+cd==', 'abcde=', 'ab===', 'a', 'ab*d', 'AAAA=A==', '+_AA'])
      expect(fromAnyBase64(bad), bad).toBeUndefined();
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
