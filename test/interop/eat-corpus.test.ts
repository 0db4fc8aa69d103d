/**
 * The public EAT examples (ietf-rats-wg/eat `cddl/`, the sources of RFC 9711's appendix):
 * Airlock's claims-set reader takes the JSON claims sets, and its Detached EAT Bundle reader
 * takes the JSON bundle and checks its digests. Each assertion states what the file really
 * holds; where an example does not follow the RFC, the test says so and asserts that.
 *
 * Upstream validates only the CBOR examples against the CDDL (its Makefile turns `*.diag` into
 * CBOR and runs `cddl validate`); nothing there checks the JSON ones, which is why two of them
 * (simple.json, deb.json_f) are not what RFC 9711 describes.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { equalBytes, toBase64Url, utf8 } from '../../src/core/bytes.js';
import { debugStateName, parseEatClaims } from '../../src/protocols/eat/claims.js';
import {
  decodeDetachedBundle,
  detachedDigestsMatch,
  readDetachedBundle,
} from '../../src/protocols/eat/detached-bundle.js';
import { codeOf } from '../support/errors.js';
import { interopPath, readInterop } from '../support/interop.js';
import { unfoldRfc8792 } from '../support/rfc8792.js';

const crypto = new NodeCrypto();

const files = () => fs.readdirSync(interopPath('eat'));
/** A corpus file's text, unfolded first when it is RFC 8792-folded (`*.json_f`). */
const text = (name: string) => {
  const t = readInterop('eat', name);
  return name.endsWith('_f') ? unfoldRfc8792(t) : t;
};
const json = (name: string) => JSON.parse(text(name)) as Record<string, unknown>;
const bytes = (name: string) => new Uint8Array(fs.readFileSync(interopPath('eat', name)));

const P = 'ietf_Example-Payloads_';
const DEB = 'ietf_Example-Tokens_deb.json';

/** A JWS compact with this payload; its signature is three bytes of nothing (never checked). */
const unsignedJwt = (payload: object) =>
  `${toBase64Url(utf8('{"alg":"HS256"}'))}.${toBase64Url(utf8(JSON.stringify(payload)))}.c2ln`;
const sha256 = (b: Uint8Array) => toBase64Url(crypto.sha256(b));

describe('interop: RFC 9711 example claims sets (JSON)', () => {
  const payloads = () => files().filter((f) => f.startsWith(P) && /\.json(_f)?$/.test(f));

  it('the corpus holds the JSON claims sets this test knows', () => {
    expect(payloads().sort()).toEqual(
      [
        'audio_ss.json',
        'graphics_ss.json',
        'main_token_claims.json',
        'simple.json',
        'submods.json',
        'submods.json_f',
        'valid_results.json',
      ].map((f) => P + f),
    );
  });

  it('every one but simple.json parses, kept exactly as written (unknown claims included)', () => {
    for (const f of payloads().filter((f) => f !== `${P}simple.json`)) {
      expect(parseEatClaims(json(f)), f).toEqual(json(f));
    }
  });

  // simple.json writes `"swversion": "3.1.4"`, a bare string; RFC 9711 section 4.2.7 makes
  // swversion an array, `[version, ?version-scheme]` (its CBOR twin simple.diag carries no
  // swversion at all). The reader refuses it, as it must; with the version in an array, as
  // the RFC has it, everything else in the file is accepted, the integer oemid included.
  it('simple.json: swversion is a bare string, so ERR_EAT_MALFORMED; as an array it parses', () => {
    const simple = json(`${P}simple.json`);
    expect(simple.swversion).toBe('3.1.4');
    expect(codeOf(() => parseEatClaims(simple))).toBe('ERR_EAT_MALFORMED');
    const claims = parseEatClaims({ ...simple, swversion: [simple.swversion] });
    expect(claims).toMatchObject({
      eat_nonce: 'MIDBNH28iioisjPy',
      ueid: 'AgAEizrK3Q',
      oemid: 76543,
      swname: 'Acme IoT OS',
      swversion: ['3.1.4'],
    });
  });

  it('submods.json: debug disabled permanently, four submodules of each kind', () => {
    const c = parseEatClaims(json(`${P}submods.json`));
    expect(c.dbgstat).toBe('disabled-permanently');
    expect(debugStateName(c.dbgstat!)).toBe('disabled-permanently');
    expect(c.oemboot).toBe(true);
    expect(c.iat).toBe(1526542894);
    // Padded base64url, as the RFC's example has it: tolerated.
    expect(c.ueid).toBe('AJj1Ck_2wFhhyIYNE6Y46g==');
    const s = c.submods!;
    expect(Object.keys(s).sort()).toEqual([
      'Android App Foo',
      'Linux Android',
      'Secure Element Eat',
      'Subsystem J',
    ]);
    expect(s['Android App Foo']).toEqual({ swname: 'Foo.app' });
    expect((s['Secure Element Eat'] as unknown[])[0]).toBe('CBOR');
    expect((s['Subsystem J'] as unknown[])[0]).toBe('JWT');
  });

  // The folded copy is an older revision: it says `secboot` (the draft name of oemboot).
  // Unfolded, its long token strings are those of submods.json, character for character.
  it('submods.json_f unfolds to submods.json with the draft claim name secboot', () => {
    const folded = readInterop('eat', `${P}submods.json_f`);
    expect(() => JSON.parse(folded) as unknown).toThrow();
    const { secboot, ...unfolded } = json(`${P}submods.json_f`);
    const { oemboot, ...current } = json(`${P}submods.json`);
    expect(unfolded).toEqual(current);
    expect([secboot, oemboot]).toEqual([true, true]);
    const c = parseEatClaims(json(`${P}submods.json_f`));
    expect(c.secboot).toBe(true);
    expect(c.oemboot).toBeUndefined();
  });

  it('valid_results.json: swversion in its array form, measurement results kept', () => {
    const c = parseEatClaims(json(`${P}valid_results.json`));
    expect(c.swversion).toEqual(['3.1.4']);
    expect(c.dbgstat).toBe('disabled-since-boot');
    expect(c.measres).toEqual([['Trustus Measurements', [['all', 'success']]]]);
  });

  it('oemid in both forms: base64url (audio_ss.json) and an integer (graphics_ss.json)', () => {
    expect(parseEatClaims(json(`${P}audio_ss.json`)).oemid).toBe('iUWt');
    expect(parseEatClaims(json(`${P}graphics_ss.json`)).oemid).toBe(75000);
  });

  it('a claim of the wrong type is ERR_EAT_MALFORMED', () => {
    const base = json(`${P}audio_ss.json`);
    expect(codeOf(() => parseEatClaims(base))).toBe('OK');
    const wrong: Record<string, unknown>[] = [
      { oemboot: 'yes' },
      { dbgstat: 9 },
      { dbgstat: 'off' },
      { eat_nonce: toBase64Url(new Uint8Array(3)) }, // 3 bytes; RFC 9711 section 4.1: 8 to 64
      { eat_nonce: 'AAAAAAAAAAA*' },
      { ueid: 'not base64url!' },
      { oemid: -1 },
      { swversion: [] },
      { submods: { x: ['DIGEST'] } },
      { submods: { x: { oemboot: 1 } } }, // a submodule's claims are checked too
    ];
    for (const w of wrong) {
      expect(
        codeOf(() => parseEatClaims({ ...base, ...w })),
        JSON.stringify(w),
      ).toBe('ERR_EAT_MALFORMED');
    }
  });

  // CBOR diagnostic notation (RFC 8949 section 8: h'..' byte strings, /comments/, integer
  // labels, tags such as 602(...)) describes CBOR tokens. Airlock reads and writes EATs in
  // JSON form only (docs/ATTESTATION.md), so these are known and left unparsed.
  it('the .diag files are CBOR diagnostic notation, which Airlock does not read', () => {
    const diag = files().filter((f) => f.endsWith('.diag'));
    expect(diag.sort()).toEqual(
      [
        `${P}coswid_hlos.diag`,
        `${P}coswid_iot-sw.diag`,
        `${P}coswid_key-store.diag`,
        `${P}coswid_tee-coswid.diag`,
        `${P}minimal.diag`,
        `${P}simple.diag`,
        `${P}submods.diag`,
        `${P}valid_hw_block.diag`,
        `${P}valid_hw_block2.diag`,
        `${P}valid_iot.diag`,
        `${P}valid_key_store.diag`,
        `${P}valid_submods.diag`,
        `${P}valid_tee.diag`,
        'ietf_Example-Tokens_valid_cwt.diag',
        'ietf_Example-Tokens_valid_deb.diag',
      ].sort(),
    );
    for (const f of diag) expect(() => JSON.parse(text(f)) as unknown, f).toThrow();
  });
});

describe('RFC 8792 unfolding (test support)', () => {
  it('joins a line ending in a backslash to the next, after its leading spaces', () => {
    expect(unfoldRfc8792('ab\\\n   cd\\\nef\ngh\n')).toBe('abcdef\ngh\n');
    expect(unfoldRfc8792("NOTE: '\\' line wrapping per RFC 8792\n\nab\\\n  c\n")).toBe('abc\n');
    // Tabs are not the spaces RFC 8792 strips; a backslash inside a line stays.
    expect(unfoldRfc8792('a\\\n\tb a\\b')).toBe('a\tb a\\b');
  });
});

describe('interop: RFC 9711 Detached EAT Bundle (JSON)', () => {
  it('deb.json: the main token (HS256, decoded, not verified) binds both detached sets', () => {
    const b = readDetachedBundle(crypto, text(DEB));
    expect(b.mainHeader).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(b.mainToken).toBe((json(DEB) as unknown as [[string, string]])[0][1]);
    // The main token's claims are main_token_claims.json; the detached sets are the bytes of
    // audio_ss.json and graphics_ss.json, and their digests match.
    expect(b.main).toEqual(json(`${P}main_token_claims.json`));
    expect(equalBytes(b.detachedBytes['Audio Subsystem']!, bytes(`${P}audio_ss.json`))).toBe(true);
    expect(equalBytes(b.detachedBytes['Graphics Subsystem']!, bytes(`${P}graphics_ss.json`))).toBe(
      true,
    );
    expect(b.detached).toEqual({
      'Audio Subsystem': json(`${P}audio_ss.json`),
      'Graphics Subsystem': json(`${P}graphics_ss.json`),
    });
    expect(b.digestsMatch).toEqual({ 'Audio Subsystem': true, 'Graphics Subsystem': true });
    expect(b.detached['Graphics Subsystem']!.oemid).toBe(75000);
  });

  it('a detached set changed by one byte no longer matches; the other still does', () => {
    const [main, sets] = json(DEB) as unknown as [unknown, Record<string, string>];
    const audio = new TextDecoder().decode(bytes(`${P}audio_ss.json`));
    const changed = utf8(audio.replace('"Audio', '"Budio'));
    expect(changed.length).toBe(audio.length);
    const b = readDetachedBundle(
      crypto,
      JSON.stringify([main, { ...sets, 'Audio Subsystem': toBase64Url(changed) }]),
    );
    expect(b.detached['Audio Subsystem']!.swname).toBe('Budio Processor OS');
    expect(b.digestsMatch).toEqual({ 'Audio Subsystem': false, 'Graphics Subsystem': true });
  });

  // deb.json_f is an older revision of the same bundle, and it is broken three ways:
  // - its detached claims sets are not JSON: a comma is missing after "ueid" in both;
  // - their eat_nonce and ueid are written in base64 ('+', '/'), not base64url;
  // - the main token's digests (FREn2VTw..., Nv3sjQU7...) match neither the bytes carried
  //   nor those bytes with the commas restored (nor deb.json's sets: its digests differ).
  // So the bundle is ERR_EAT_MALFORMED, and its digests, checked on the bytes, do not match.
  it('deb.json_f: detached sets that are not JSON, and digests that match nothing carried', () => {
    expect(codeOf(() => readDetachedBundle(crypto, text(`${DEB}_f`)))).toBe('ERR_EAT_MALFORMED');
    const d = decodeDetachedBundle(text(`${DEB}_f`));
    expect(d.mainHeader.alg).toBe('HS256');
    expect(d.main.eat_nonce).toBe('yu76NN8IuV6e');
    expect(Object.keys(d.main.submods!)).toEqual(['Audio Subsystem', 'Graphics Subsystem']);
    expect(detachedDigestsMatch(crypto, d.main, d.detachedBytes)).toEqual({
      'Audio Subsystem': false,
      'Graphics Subsystem': false,
    });

    const texts = Object.values(d.detachedBytes).map((b) => new TextDecoder().decode(b));
    for (const t of texts) {
      expect(() => JSON.parse(t) as unknown).toThrow();
      expect(t).toMatch(/"ueid": "[^"]*"\n/);
    }
    const withCommas = Object.fromEntries(
      Object.entries(d.detachedBytes).map(([n, b]) => {
        const fixed = new TextDecoder().decode(b).replace(/("ueid": "[^"]*")\n/, '$1,\n');
        return [n, utf8(fixed)];
      }),
    );
    for (const b of Object.values(withCommas)) {
      const claims = JSON.parse(new TextDecoder().decode(b)) as Record<string, unknown>;
      expect(claims.eat_nonce).toMatch(/\+/);
      expect(codeOf(() => parseEatClaims(claims))).toBe('ERR_EAT_MALFORMED');
    }
    expect(detachedDigestsMatch(crypto, d.main, withCommas)).toEqual({
      'Audio Subsystem': false,
      'Graphics Subsystem': false,
    });
    expect(decodeDetachedBundle(text(DEB)).main.submods).not.toEqual(d.main.submods);
  });

  it("the main token's signature is not checked: another signature reads the same", () => {
    const [[type, token], sets] = json(DEB) as unknown as [[string, string], object];
    const forged = `${token.slice(0, token.lastIndexOf('.'))}.AAAA`;
    const b = readDetachedBundle(crypto, JSON.stringify([[type, forged], sets]));
    expect(b.mainToken).toBe(forged);
    expect(b.digestsMatch).toEqual({ 'Audio Subsystem': true, 'Graphics Subsystem': true });
  });

  it('a malformed bundle is ERR_EAT_MALFORMED', () => {
    const audio = bytes(`${P}audio_ss.json`);
    const sets = { a: toBase64Url(audio) };
    const digest = (alg: string | number, d: string) => ({ a: ['DIGEST', [alg, d]] });
    const ok = unsignedJwt({ submods: digest('SHA-256', sha256(audio)) });
    // The baseline reads, and matches, so each case below fails for its own reason.
    expect(readDetachedBundle(crypto, JSON.stringify([['JWT', ok], sets])).digestsMatch).toEqual({
      a: true,
    });
    expect(
      readDetachedBundle(
        crypto,
        JSON.stringify([
          ['JWT', unsignedJwt({ submods: digest(-16, sha256(audio)) })],
          { a: `${toBase64Url(audio)}=` },
        ]),
      ).digestsMatch,
    ).toEqual({ a: true });

    const cases: Record<string, string> = {
      'not JSON': `[["JWT", "${ok}"], `,
      'an object': JSON.stringify({ main: ['JWT', ok], sets }),
      'one element': JSON.stringify([['JWT', ok]]),
      'no detached set': JSON.stringify([['JWT', ok], {}]),
      'a CBOR main token': JSON.stringify([['CBOR', ok], sets]),
      'an unknown token type': JSON.stringify([['XML', ok], sets]),
      'a two-part token': JSON.stringify([['JWT', ok.slice(0, ok.lastIndexOf('.'))], sets]),
      'a payload that is not a claims set': JSON.stringify([
        ['JWT', unsignedJwt({ oemboot: 'yes' })],
        sets,
      ]),
      'a detached set that is not base64url': JSON.stringify([['JWT', ok], { a: 'e30*' }]),
      'a detached set that is not a claims set': JSON.stringify([
        ['JWT', unsignedJwt({ submods: digest('SHA-256', sha256(utf8('{"dbgstat":9}'))) })],
        { a: toBase64Url(utf8('{"dbgstat":9}')) },
      ]),
      'a detached set with a repeated member': JSON.stringify([
        ['JWT', unsignedJwt({ submods: digest('SHA-256', sha256(utf8('{"iat":1,"iat":2}'))) })],
        { a: toBase64Url(utf8('{"iat":1,"iat":2}')) },
      ]),
      'a detached set with no digest': JSON.stringify([['JWT', unsignedJwt({})], sets]),
      // Not Object.prototype's `constructor`: only the main token's own submodules count.
      'a detached set named constructor with no digest': JSON.stringify([
        ['JWT', unsignedJwt({ submods: {} })],
        { constructor: 'e30' },
      ]),
      'a submodule that is not a digest': JSON.stringify([
        ['JWT', unsignedJwt({ submods: { a: { swname: 'x' } } })],
        sets,
      ]),
      'SHA-384': JSON.stringify([
        ['JWT', unsignedJwt({ submods: digest('SHA-384', sha256(audio)) })],
        sets,
      ]),
      'a short digest': JSON.stringify([
        ['JWT', unsignedJwt({ submods: digest('SHA-256', sha256(audio).slice(0, 40)) })],
        sets,
      ]),
      'too large': JSON.stringify([['JWT', ok], { ...sets, b: 'A'.repeat(70_000) }]),
    };
    for (const [what, bundle] of Object.entries(cases)) {
      expect(
        codeOf(() => readDetachedBundle(crypto, bundle)),
        what,
      ).toBe('ERR_EAT_MALFORMED');
    }
  });
});
