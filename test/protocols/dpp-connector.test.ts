/**
 * DPP Connectors (src/protocols/dpp/connector.ts): signed by a P-256 C-sign key of the software
 * key store through the NodeCrypto adapter, for netAccessKeys on P-256, P-384, P-521 and
 * brainpoolP256r1. `jose` verifies each with the C-sign key's JWK as dppJwk writes it, and the
 * header and payload are what hostap writes (dpp_sign_connector, dpp_build_jwk). Every Connector
 * that must not be believed is refused ERR_DPP_CONNECTOR with the reason hostap's checks imply.
 */
import { describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { softwareKeyStore } from '../../src/adapters/crypto/software-key-store.js';
import { toBase64Url } from '../../src/core/bytes.js';
import { isAirlockError } from '../../src/core/errors.js';
import type { PrivateKeyHandle } from '../../src/core/ports.js';
import type { DppCurve } from '../../src/protocols/dpp/bootstrapping-key.js';
import {
  csignKid,
  dppJwk,
  jwkPoint,
  signConnector,
  verifyConnector,
  type DppCsignKey,
} from '../../src/protocols/dpp/connector.js';
import { dppCurveParams } from '../../src/protocols/dpp/crypto.js';

const crypto = new NodeCrypto();
const NOW = new Date('2026-06-01T12:00:00Z');
const GROUPS = [{ groupId: '*', netRole: 'sta' }];

/** A C-sign key of the software key store: its handle, uncompressed point and kid. */
async function csignKey(): Promise<DppCsignKey> {
  const key = await softwareKeyStore.generateP256();
  // A P-256 SubjectPublicKeyInfo ends with the 65 octets of the uncompressed point.
  const publicKey = key.spki.subarray(key.spki.length - 65);
  expect(publicKey[0]).toBe(0x04);
  return { key, publicKey, kid: csignKid(crypto, publicKey) };
}

function netAccessKey(curve: DppCurve) {
  return { curve, point: crypto.ecGenerate(dppCurveParams(curve).ecCurve).publicKey };
}

/** The ERR_DPP_CONNECTOR reason `fn` fails with; anything else fails the test. */
function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isAirlockError(e) && e.code === 'ERR_DPP_CONNECTOR') return String(e.details.reason);
    throw e;
  }
  return 'accepted';
}

const b64url = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

/** A compact JWS of exactly these header and payload texts, signed by `key`. */
function signRaw(key: PrivateKeyHandle, header: string, payload: string): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${toBase64Url(crypto.signEs256(key, new TextEncoder().encode(input)))}`;
}

/** The netAccessKey JWK text as hostap writes it, from the point itself. */
function hostapJwk(curve: DppCurve, point: Uint8Array): string {
  const n = (point.length - 1) / 2;
  const x = Buffer.from(point.subarray(1, 1 + n)).toString('base64url');
  const y = Buffer.from(point.subarray(1 + n)).toString('base64url');
  return `{"kty":"EC","crv":"${curve}","x":"${x}","y":"${y}"}`;
}

describe('DPP Connectors', () => {
  for (const curve of ['P-256', 'P-384', 'P-521', 'BP-256'] as const)
    it(`a Connector for a ${curve} netAccessKey verifies, with Airlock and with jose, and is hostap's`, async () => {
      const csign = await csignKey();
      const nak = netAccessKey(curve);
      const expiry = new Date('2027-01-02T03:04:05.678Z');
      const connector = signConnector(crypto, csign, {
        groups: GROUPS,
        netAccessKey: nak,
        expiry,
      });

      const read = verifyConnector(crypto, dppJwk('P-256', csign.publicKey), connector, NOW);
      expect(read.groups).toEqual(GROUPS);
      expect(read.netAccessKey.curve).toBe(curve);
      expect(Buffer.from(read.netAccessKey.point)).toEqual(Buffer.from(nak.point));
      expect(read.expiry?.toISOString()).toBe('2027-01-02T03:04:05.000Z');

      // jose, with the C-sign key's JWK as dppJwk writes it (no kid).
      const jwk = dppJwk('P-256', csign.publicKey);
      expect(Object.keys(jwk)).toEqual(['kty', 'crv', 'x', 'y']);
      const key = await jose.importJWK({ ...jwk }, 'ES256');
      const { payload, protectedHeader } = await jose.compactVerify(connector, key);
      // The kid is base64url(SHA-256(uncompressed C-sign point)), computed here with node:crypto.
      const { createHash } = await import('node:crypto');
      const kid = createHash('sha256').update(csign.publicKey).digest('base64url');
      expect(protectedHeader).toEqual({ typ: 'dppCon', kid, alg: 'ES256' });
      // The header and payload texts, member for member, as hostap's dpp_sign_connector writes them.
      const [h] = connector.split('.');
      expect(Buffer.from(h!, 'base64url').toString('utf8')).toBe(
        `{"typ":"dppCon","kid":"${kid}","alg":"ES256"}`,
      );
      expect(Buffer.from(payload).toString('utf8')).toBe(
        `{"groups":[{"groupId":"*","netRole":"sta"}],"netAccessKey":${hostapJwk(curve, nak.point)},` +
          `"expiry":"2027-01-02T03:04:05Z"}`,
      );
      const body = JSON.parse(Buffer.from(payload).toString('utf8')) as {
        netAccessKey: { x: string; y: string };
      };
      const n = dppCurveParams(curve).primeLength;
      expect(Buffer.from(body.netAccessKey.x, 'base64url')).toHaveLength(n);
      expect(Buffer.from(body.netAccessKey.y, 'base64url')).toHaveLength(n);

      // jose refuses it with another C-sign key: the signature is the C-sign key's.
      const other = await csignKey();
      await expect(
        jose.compactVerify(
          connector,
          await jose.importJWK({ ...dppJwk('P-256', other.publicKey) }, 'ES256'),
        ),
      ).rejects.toThrow();
    });

  it('a Connector without an expiry has none, and a future expiry is accepted', async () => {
    const csign = await csignKey();
    const jwk = dppJwk('P-256', csign.publicKey);
    const none = signConnector(crypto, csign, {
      groups: GROUPS,
      netAccessKey: netAccessKey('P-256'),
    });
    expect(Buffer.from(none.split('.')[1]!, 'base64url').toString()).not.toContain('expiry');
    expect(verifyConnector(crypto, jwk, none, NOW).expiry).toBeUndefined();
    const soon = new Date(NOW.getTime() + 1000);
    const future = signConnector(crypto, csign, {
      groups: GROUPS,
      netAccessKey: netAccessKey('P-256'),
      expiry: soon,
    });
    expect(verifyConnector(crypto, jwk, future, NOW).expiry?.getTime()).toBe(soon.getTime());
    // One second later it has expired; at the very second too (hostap: expiry must be after now).
    expect(reasonOf(() => verifyConnector(crypto, jwk, future, soon))).toBe('expired');
    expect(
      reasonOf(() => verifyConnector(crypto, jwk, future, new Date(soon.getTime() + 1000))),
    ).toBe('expired');
    // An ISO 8601 time with an offset is read as that instant.
    const offset = signRaw(
      csign.key,
      `{"typ":"dppCon","kid":"${csign.kid}","alg":"ES256"}`,
      `{"groups":[{"groupId":"*","netRole":"sta"}],"netAccessKey":${hostapJwk('P-256', netAccessKey('P-256').point)},"expiry":"2026-06-01T14:00:01+02:00"}`,
    );
    expect(verifyConnector(crypto, jwk, offset, NOW).expiry?.toISOString()).toBe(
      '2026-06-01T12:00:01.000Z',
    );
    expect(
      reasonOf(() => verifyConnector(crypto, jwk, offset, new Date('2026-06-01T12:00:02Z'))),
    ).toBe('expired');
  });

  describe('refusals', () => {
    const setup = async () => {
      const csign = await csignKey();
      const jwk = dppJwk('P-256', csign.publicKey);
      const nak = netAccessKey('P-256');
      const connector = signConnector(crypto, csign, { groups: GROUPS, netAccessKey: nak });
      const header = `{"typ":"dppCon","kid":"${csign.kid}","alg":"ES256"}`;
      const body = (extra: string, groups = '[{"groupId":"*","netRole":"sta"}]') =>
        `{"groups":${groups},"netAccessKey":${hostapJwk('P-256', nak.point)}${extra}}`;
      return { csign, jwk, nak, connector, header, body };
    };

    it('a signature with one octet flipped, or a payload changed: signature', async () => {
      const { jwk, connector } = await setup();
      const [h, p, s] = connector.split('.') as [string, string, string];
      for (const i of [0, 31, 32, 63]) {
        const sig = Buffer.from(s, 'base64url');
        sig[i] = sig[i]! ^ 0x01;
        expect(
          reasonOf(() =>
            verifyConnector(crypto, jwk, `${h}.${p}.${sig.toString('base64url')}`, NOW),
          ),
        ).toBe('signature');
      }
      const changed = Buffer.from(p, 'base64url')
        .toString('utf8')
        .replace('"netRole":"sta"', '"netRole":"ap"');
      expect(changed).toContain('"netRole":"ap"');
      expect(
        reasonOf(() => verifyConnector(crypto, jwk, `${h}.${b64url(changed)}.${s}`, NOW)),
      ).toBe('signature');
      // The untouched Connector still verifies: the refusals are the changes'.
      expect(reasonOf(() => verifyConnector(crypto, jwk, connector, NOW))).toBe('accepted');
    });

    it('another C-sign key: key (by its kid); with the kid forged to ours: signature', async () => {
      const { jwk, nak, csign } = await setup();
      const other = await csignKey();
      const theirs = signConnector(crypto, other, { groups: GROUPS, netAccessKey: nak });
      expect(reasonOf(() => verifyConnector(crypto, jwk, theirs, NOW))).toBe('key');
      const forged = signConnector(
        crypto,
        { ...other, kid: csign.kid },
        {
          groups: GROUPS,
          netAccessKey: nak,
        },
      );
      expect(JSON.parse(Buffer.from(forged.split('.')[0]!, 'base64url').toString()).kid).toBe(
        csign.kid,
      );
      expect(reasonOf(() => verifyConnector(crypto, jwk, forged, NOW))).toBe('signature');
      // Verified with the key that did sign it, the first one is accepted.
      expect(
        reasonOf(() => verifyConnector(crypto, dppJwk('P-256', other.publicKey), theirs, NOW)),
      ).toBe('accepted');
      // A C-sign JWK on another curve than P-256 (ES256) is refused as the key.
      const p384 = dppJwk('P-384', crypto.ecGenerate('P-384').publicKey);
      expect(reasonOf(() => verifyConnector(crypto, p384, theirs, NOW))).toBe('key');
    });

    it('a typ other than dppCon, or another alg: malformed', async () => {
      const { csign, jwk, body } = await setup();
      for (const header of [
        `{"typ":"JWT","kid":"${csign.kid}","alg":"ES256"}`,
        `{"kid":"${csign.kid}","alg":"ES256"}`,
        `{"typ":"dppCon","kid":"${csign.kid}","alg":"ES384"}`,
      ])
        expect(
          reasonOf(() => verifyConnector(crypto, jwk, signRaw(csign.key, header, body('')), NOW)),
        ).toBe('malformed');
      // The same body under hostap's header is accepted: only the header was at fault.
      expect(
        reasonOf(() =>
          verifyConnector(
            crypto,
            jwk,
            signRaw(csign.key, `{"typ":"dppCon","kid":"${csign.kid}","alg":"ES256"}`, body('')),
            NOW,
          ),
        ),
      ).toBe('accepted');
    });

    it('an expiry in the past: expired; an expiry not ISO 8601: malformed', async () => {
      const { csign, jwk, header, body } = await setup();
      const at = (extra: string) => () =>
        verifyConnector(crypto, jwk, signRaw(csign.key, header, body(extra)), NOW);
      expect(reasonOf(at(',"expiry":"2026-06-01T11:59:59Z"'))).toBe('expired');
      expect(reasonOf(at(',"expiry":"2020-01-01T00:00:00Z"'))).toBe('expired');
      expect(reasonOf(at(',"expiry":"2026-06-01T12:00:01Z"'))).toBe('accepted');
      for (const bad of [
        '"2030-01-01"',
        '"tomorrow"',
        '"2030-01-01 00:00:00Z"',
        '"2030-13-45T99:99:99Z"',
        // Fields out of range that a lenient date parser would roll over: refused as hostap does.
        '"2030-02-30T00:00:00Z"',
        '"2030-01-01T24:00:00Z"',
        '"2030-01-01T00:00:00+24:00"',
        '1893456000',
        'null',
      ])
        expect(reasonOf(at(`,"expiry":${bad}`)), bad).toBe('malformed');
    });

    it('no groups, a group without netRole or groupId: malformed', async () => {
      const { csign, jwk, header, body, nak } = await setup();
      const with_ = (groups: string) => () =>
        verifyConnector(crypto, jwk, signRaw(csign.key, header, body('', groups)), NOW);
      for (const groups of [
        '[]',
        '{}',
        '"*"',
        '[null]',
        '["sta"]',
        '[{"groupId":"*"}]',
        '[{"netRole":"sta"}]',
        '[{"groupId":"*","netRole":1}]',
      ])
        expect(reasonOf(with_(groups)), groups).toBe('malformed');
      const noGroups = signRaw(
        csign.key,
        header,
        `{"netAccessKey":${hostapJwk('P-256', nak.point)}}`,
      );
      expect(reasonOf(() => verifyConnector(crypto, jwk, noGroups, NOW))).toBe('malformed');
      // signConnector refuses to sign a Connector for no group.
      expect(reasonOf(() => signConnector(crypto, csign, { groups: [], netAccessKey: nak }))).toBe(
        'malformed',
      );
      // Two groups, each whole, are read in order.
      const two = signRaw(
        csign.key,
        header,
        body('', '[{"groupId":"a","netRole":"sta"},{"groupId":"b","netRole":"ap"}]'),
      );
      expect(verifyConnector(crypto, jwk, two, NOW).groups).toEqual([
        { groupId: 'a', netRole: 'sta' },
        { groupId: 'b', netRole: 'ap' },
      ]);
    });

    it('a netAccessKey of another kty or curve, or short coordinates: malformed', async () => {
      const { csign, jwk, header, nak } = await setup();
      const x = Buffer.from(nak.point.subarray(1, 33)).toString('base64url');
      const y = Buffer.from(nak.point.subarray(33)).toString('base64url');
      const short = Buffer.from(nak.point.subarray(2, 33)).toString('base64url');
      for (const key of [
        `{"kty":"RSA","crv":"P-256","x":"${x}","y":"${y}"}`,
        `{"kty":"OKP","crv":"Ed25519","x":"${x}"}`,
        `{"kty":"EC","crv":"P-192","x":"${x}","y":"${y}"}`,
        `{"kty":"EC","crv":"secp256k1","x":"${x}","y":"${y}"}`,
        `{"kty":"EC","crv":"P-384","x":"${x}","y":"${y}"}`,
        `{"kty":"EC","crv":"P-256","x":"${short}","y":"${y}"}`,
        `{"kty":"EC","crv":"P-256","x":"${x}","y":"${short}"}`,
        `{"kty":"EC","crv":"P-256","x":"${x}"}`,
        `{"kty":"EC","crv":"P-256","x":"${x}","y":"not base64url!"}`,
        '"a key"',
        '[1,2]',
      ]) {
        const c = signRaw(
          csign.key,
          header,
          `{"groups":${JSON.stringify(GROUPS)},"netAccessKey":${key}}`,
        );
        expect(
          reasonOf(() => verifyConnector(crypto, jwk, c, NOW)),
          key,
        ).toBe('malformed');
      }
      const none = signRaw(csign.key, header, `{"groups":${JSON.stringify(GROUPS)}}`);
      expect(reasonOf(() => verifyConnector(crypto, jwk, none, NOW))).toBe('malformed');
      // The same for a C-sign JWK, and a point dppJwk cannot write: key.
      expect(
        reasonOf(() => verifyConnector(crypto, { ...jwk, crv: 'P-192' as never }, c0(), NOW)),
      ).toBe('malformed');
      expect(reasonOf(() => verifyConnector(crypto, { ...jwk, x: short }, c0(), NOW))).toBe(
        'malformed',
      );
      expect(reasonOf(() => jwkPoint({ ...jwk, kty: 'oct' }))).toBe('malformed');
      expect(reasonOf(() => dppJwk('P-256', nak.point.subarray(0, 33)))).toBe('key');
      expect(reasonOf(() => dppJwk('P-384', nak.point))).toBe('key');
      function c0() {
        return signConnector(crypto, csign, { groups: GROUPS, netAccessKey: nak });
      }
    });

    it('not three parts, or parts that are not base64url JSON: malformed', async () => {
      const { jwk, connector, csign, header } = await setup();
      const [h, p, s] = connector.split('.') as [string, string, string];
      for (const text of [
        '',
        `${h}.${p}`,
        `${h}.${p}.${s}.${s}`,
        `${h}.${p}.`,
        `!!.${p}.${s}`,
        'a.b.c',
      ])
        expect(
          reasonOf(() => verifyConnector(crypto, jwk, text, NOW)),
          text.slice(0, 20),
        ).toBe('malformed');
      // A signed payload that is not a JSON object.
      for (const payload of ['not json', '[1]', '"x"'])
        expect(
          reasonOf(() => verifyConnector(crypto, jwk, signRaw(csign.key, header, payload), NOW)),
        ).toBe('malformed');
    });
  });
});
