/**
 * The Configurator's side of the DPP Configuration protocol
 * (src/protocols/dpp/configuration.ts), with an Enrollee played here as hostap's dpp.c plays
 * it: the Configuration Request wrapped with ke and no associated data, the Response's
 * associated data its DPP Status attribute, the Result's the frame header and an empty vector.
 * The GAS framing of our Response is that of wpa_supplicant's recorded one; the sta-psk object
 * is hostap's legacy object. Tampered, foreign or out-of-order frames are refused.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { softwareKeyStore } from '../../src/adapters/crypto/software-key-store.js';
import { toBase64, toHex } from '../../src/core/bytes.js';
import { isAirlockError } from '../../src/core/errors.js';
import {
  DppAttributeId,
  decodeDppAttributes,
  encodeDppAttributes,
} from '../../src/protocols/dpp/attributes.js';
import type { DppSession } from '../../src/protocols/dpp/authentication.js';
import { dppFrameHeader } from '../../src/protocols/dpp/common.js';
import {
  buildConfigurationResponse,
  configurationObject,
  csrChallengePassword,
  pskConfigurationObject,
  readConfigurationRequest,
  readConfigurationResult,
  verifyEnrolleeCsr,
  type DppNetworkConfiguration,
} from '../../src/protocols/dpp/configuration.js';
import {
  csignKid,
  dppJwk,
  signConnector,
  type DppCsignKey,
} from '../../src/protocols/dpp/connector.js';
import { dppCurveParams, unwrapDppData, wrapDppData } from '../../src/protocols/dpp/crypto.js';
import { readConfigurationResponse } from '../../src/protocols/dpp/enrollment.js';
import { csrAttributes } from '../../src/protocols/est/csr.js';
import {
  DEFAULT_GAS_ADVERTISEMENT,
  DppFrameType,
  encodeDppTcpMessage,
  type DppActionFrame,
  type GasInitialRequest,
} from '../../src/protocols/dpp/frames.js';
import { buildTestCsr, ecKeyFromScalar, spkiOf } from '../support/dpp-csr.js';
import { codeOf } from '../support/errors.js';
import { readInterop } from '../support/interop.js';
import { tempDir } from '../support/wire.js';

const crypto = new NodeCrypto();
/** The Enrollee's protocol key of the exchange: its private scalar signs its CSR. */
const protocolKey = crypto.ecGenerate('P-256');
const session: DppSession = {
  curve: 'P-256',
  peerVersion: 2,
  bk: crypto.bytes(32),
  ke: crypto.bytes(32),
  enrolleeProtocolKey: protocolKey.publicKey,
  mutual: false,
};
const eNonce = crypto.bytes(16);
const CONFIG = { ssid: 'airlock-net', passphrase: 'correct horse battery' };
// The members wpa_supplicant 2.10 always puts in its Configuration Request object (default name).
const REQUEST_OBJECT = '{"name":"Test","wi-fi_tech":"infra","netRole":"sta"}';

function request(object = REQUEST_OBJECT, ke = session.ke, nonce = eNonce): GasInitialRequest {
  const clear = encodeDppAttributes([
    { id: DppAttributeId.ENROLLEE_NONCE, value: nonce },
    {
      id: DppAttributeId.CONFIGURATION_ATTRIBUTES_OBJECT,
      value: new TextEncoder().encode(object),
    },
  ]);
  return {
    kind: 'gas-initial-request',
    dialogToken: 7,
    advertisement: { ...DEFAULT_GAS_ADVERTISEMENT },
    query: [{ id: DppAttributeId.WRAPPED_DATA, value: wrapDppData(ke, [], clear) }],
  };
}

function result(status: number, nonce = eNonce): DppActionFrame {
  const clear = encodeDppAttributes([
    { id: DppAttributeId.STATUS, value: Uint8Array.of(status) },
    { id: DppAttributeId.ENROLLEE_NONCE, value: nonce },
  ]);
  const wrapped = wrapDppData(
    session.ke,
    [dppFrameHeader(DppFrameType.CONFIGURATION_RESULT), new Uint8Array(0)],
    clear,
  );
  return {
    kind: 'dpp',
    frameType: DppFrameType.CONFIGURATION_RESULT,
    attributes: [{ id: DppAttributeId.WRAPPED_DATA, value: wrapped }],
  };
}

describe('the Configuration exchange, as the Configurator', () => {
  it('reads the Request, answers with the sta-psk object, reads the Result', () => {
    const req = readConfigurationRequest(session, request());
    expect(req).toMatchObject({ dialogToken: 7, name: 'Test', wifiTech: 'infra', netRole: 'sta' });
    expect(toHex(req.eNonce)).toBe(toHex(eNonce));

    const resp = buildConfigurationResponse(session, req, CONFIG);
    expect(resp).toMatchObject({ dialogToken: 7, statusCode: 0, comebackDelay: 0 });
    expect(resp.query.map((a) => a.id)).toEqual([
      DppAttributeId.STATUS,
      DppAttributeId.WRAPPED_DATA,
    ]);
    expect(resp.query[0]!.value).toEqual(Uint8Array.of(0));
    const clear = decodeDppAttributes(
      unwrapDppData(session.ke, [encodeDppAttributes([resp.query[0]!])], resp.query[1]!.value),
    );
    expect(clear.map((a) => a.id)).toEqual([
      DppAttributeId.ENROLLEE_NONCE,
      DppAttributeId.CONFIGURATION_OBJECT,
    ]);
    expect(new TextDecoder().decode(clear[1]!.value)).toBe(
      '{"wi-fi_tech":"infra","discovery":{"ssid":"airlock-net"},' +
        '"cred":{"akm":"psk","pass":"correct horse battery"}}',
    );

    expect(readConfigurationResult(session, req, result(0))).toBe(0);
    expect(readConfigurationResult(session, req, result(10))).toBe(10);
  });

  it('frames the GAS Initial Response as wpa_supplicant does', () => {
    const capture = JSON.parse(readInterop('dpp', 'tcp-capture-p256-sta-psk.json')) as {
      messages: { hex: string }[];
    };
    // 0B, token, status 0000, delay 0000, the Advertisement Protocol element.
    const theirs = capture.messages[4]!.hex.slice(8, 8 + 2 * 16);
    const req = readConfigurationRequest(session, request());
    const ours = toHex(
      encodeDppTcpMessage({ ...buildConfigurationResponse(session, req, CONFIG), dialogToken: 0 }),
    ).slice(0, 2 * 16);
    expect(ours).toBe(theirs);
  });

  it('gives Configure Failure without a configuration, or to a netRole other than sta', () => {
    const req = readConfigurationRequest(session, request());
    expect(buildConfigurationResponse(session, req, undefined).query[0]!.value).toEqual(
      Uint8Array.of(5), // DPP_STATUS_CONFIGURE_FAILURE (10 would be NO_AP)
    );
    const ap = readConfigurationRequest(
      session,
      request('{"name":"x","wi-fi_tech":"infra","netRole":"ap"}'),
    );
    expect(buildConfigurationResponse(session, ap, CONFIG).query[0]!.value).toEqual(
      Uint8Array.of(5), // DPP_STATUS_CONFIGURE_FAILURE (10 would be NO_AP)
    );
  });

  it('refuses what it cannot read or open, and frames out of order', () => {
    expect(
      codeOf(() => readConfigurationRequest(session, request(undefined, crypto.bytes(32)))),
    ).toBe('ERR_DPP_AUTH');
    expect(codeOf(() => readConfigurationRequest(session, request('not json')))).toBe(
      'ERR_DPP_FRAME',
    );
    expect(codeOf(() => readConfigurationRequest(session, request('{"name":"x"}')))).toBe(
      'ERR_DPP_FRAME',
    );
    expect(codeOf(() => readConfigurationRequest(session, result(0)))).toBe('ERR_DPP_AUTH');
    const req = readConfigurationRequest(session, request());
    expect(codeOf(() => readConfigurationResult(session, req, result(0, crypto.bytes(16))))).toBe(
      'ERR_DPP_AUTH',
    );
    const tampered = result(0);
    tampered.attributes[0]!.value[3]! ^= 1;
    expect(codeOf(() => readConfigurationResult(session, req, tampered))).toBe('ERR_DPP_AUTH');
    expect(codeOf(() => readConfigurationResult(session, req, request()))).toBe('ERR_DPP_AUTH');
  });

  it('refuses a configuration the Enrollee would refuse', () => {
    expect(codeOf(() => pskConfigurationObject({ ssid: '', passphrase: 'long enough' }))).toBe(
      'ERR_CONFIG',
    );
    expect(
      codeOf(() => pskConfigurationObject({ ssid: 'x'.repeat(33), passphrase: 'long enough' })),
    ).toBe('ERR_CONFIG');
    expect(codeOf(() => pskConfigurationObject({ ssid: 'net', passphrase: 'short' }))).toBe(
      'ERR_CONFIG',
    );
  });
});

/** The code and details.reason an operation fails with; 'OK' when it does not fail. */
function failure(fn: () => unknown): { code: string; reason?: unknown } {
  try {
    fn();
  } catch (e) {
    if (isAirlockError(e)) return { code: e.code, reason: e.details.reason };
    throw e;
  }
  return { code: 'OK' };
}

async function csignKey(): Promise<DppCsignKey> {
  const key = await softwareKeyStore.generateP256();
  const publicKey = key.spki.subarray(key.spki.length - 65);
  return { key, publicKey, kid: csignKid(crypto, publicKey) };
}

/** A Connector credential for `point` (default the session's protocol key), signed by `csign`. */
function connectorFor(csign: DppCsignKey, ppKey: DppCsignKey, point = protocolKey.publicKey) {
  return {
    signedConnector: signConnector(crypto, csign, {
      groups: [{ groupId: '*', netRole: 'sta' }],
      netAccessKey: { curve: 'P-256', point },
    }),
    csign: dppJwk('P-256', csign.publicKey, csign.kid),
    ppKey: dppJwk('P-256', ppKey.publicKey),
  };
}

/** The clear attributes of a Configuration Response, opened with ke and its Status as AD. */
function opened(resp: ReturnType<typeof buildConfigurationResponse>) {
  return decodeDppAttributes(
    unwrapDppData(session.ke, [encodeDppAttributes([resp.query[0]!])], resp.query[1]!.value),
  );
}

const ENROLLMENT = { dialogToken: 7, eNonce };
const CHECK = { crypto, now: new Date() };

describe('Configuration Objects for each AKM, as hostap writes and reads them', () => {
  const certBag = crypto.bytes(300);
  const caCert = crypto.bytes(200);

  it('psk and sae: the legacy object, members in hostap order', () => {
    for (const akm of ['psk', 'sae', 'psk+sae'] as const) {
      const text = configurationObject({
        ssid: 'net-é',
        credential: { akm, passphrase: 'a "quoted" pass' },
      });
      expect(text).toBe(
        `{"wi-fi_tech":"infra","discovery":{"ssid":"net-é"},"cred":{"akm":"${akm}","pass":"a \\"quoted\\" pass"}}`,
      );
      const o = JSON.parse(text) as Record<string, Record<string, unknown>>;
      expect(Object.keys(o)).toEqual(['wi-fi_tech', 'discovery', 'cred']);
      expect(o.cred).toEqual({ akm, pass: 'a "quoted" pass' });
    }
  });

  it('dpp: signedConnector, then csign (with kid), then ppKey; dot1x: entCreds first', async () => {
    const csign = await csignKey();
    const pp = await csignKey();
    const connector = connectorFor(csign, pp);
    const dpp = JSON.parse(
      configurationObject({ ssid: 'net', credential: { akm: 'dpp', connector } }),
    ) as Record<string, Record<string, Record<string, unknown>>>;
    expect(Object.keys(dpp)).toEqual(['wi-fi_tech', 'discovery', 'cred']);
    expect(dpp['wi-fi_tech']).toBe('infra');
    expect(dpp.discovery).toEqual({ ssid: 'net' });
    expect(Object.keys(dpp.cred!)).toEqual(['akm', 'signedConnector', 'csign', 'ppKey']);
    expect(dpp.cred!.signedConnector).toBe(connector.signedConnector);
    expect(Object.keys(dpp.cred!.csign!)).toEqual(['kty', 'crv', 'x', 'y', 'kid']);
    expect(dpp.cred!.csign!.kid).toBe(
      createHash('sha256').update(csign.publicKey).digest('base64url'),
    );
    expect(Buffer.from(dpp.cred!.csign!.x as string, 'base64url')).toEqual(
      Buffer.from(csign.publicKey.subarray(1, 33)),
    );
    expect(Object.keys(dpp.cred!.ppKey!)).toEqual(['kty', 'crv', 'x', 'y']);

    const dot1x = JSON.parse(
      configurationObject({
        ssid: 'net',
        credential: {
          akm: 'dot1x',
          connector,
          certBag,
          caCert,
          trustedEapServerName: 'radius.lan',
        },
      }),
    ) as Record<string, Record<string, Record<string, unknown>>>;
    expect(Object.keys(dot1x)).toEqual(['wi-fi_tech', 'discovery', 'cred']);
    expect(Object.keys(dot1x.cred!)).toEqual([
      'akm',
      'entCreds',
      'signedConnector',
      'csign',
      'ppKey',
    ]);
    expect(dot1x.cred!.akm).toBe('dot1x');
    const ent = dot1x.cred!.entCreds!;
    expect(Object.keys(ent)).toEqual(['certBag', 'caCert', 'trustedEapServerName', 'eapMethods']);
    expect(Buffer.from(ent.certBag as string, 'base64')).toEqual(Buffer.from(certBag));
    expect(Buffer.from(ent.caCert as string, 'base64')).toEqual(Buffer.from(caCert));
    expect(ent.certBag).toMatch(/^[A-Za-z0-9+/]+=*$/); // base64, not base64url
    expect(ent.eapMethods).toEqual([13]); // EAP-TLS
    expect(ent.trustedEapServerName).toBe('radius.lan');
    // Without a CA certificate or a server name, neither member is written.
    const bare = JSON.parse(
      configurationObject({ ssid: 'net', credential: { akm: 'dot1x', connector, certBag } }),
    ) as { cred: { entCreds: Record<string, unknown> } };
    expect(Object.keys(bare.cred.entCreds)).toEqual(['certBag', 'eapMethods']);
  });

  it('an SSID of 0 or more than 32 octets, a passphrase out of 8 to 63 printable: ERR_CONFIG', async () => {
    const csign = await csignKey();
    const connector = connectorFor(csign, csign);
    const bad: DppNetworkConfiguration[] = [
      { ssid: '', credential: { akm: 'psk', passphrase: 'long enough' } },
      { ssid: 'x'.repeat(33), credential: { akm: 'sae', passphrase: 'long enough' } },
      // 11 characters, 33 octets of UTF-8: the limit is in octets.
      { ssid: '€'.repeat(11), credential: { akm: 'psk', passphrase: 'long enough' } },
      { ssid: 'net', credential: { akm: 'sae', passphrase: 'short' } },
      { ssid: 'net', credential: { akm: 'psk', passphrase: 'x'.repeat(64) } },
      { ssid: 'net', credential: { akm: 'psk+sae', passphrase: 'tab\there ok' } },
      { ssid: 'net', credential: { akm: 'sae', passphrase: 'non-ascii é pass' } },
      { ssid: '', credential: { akm: 'dpp', connector } },
      { ssid: 'y'.repeat(33), credential: { akm: 'dot1x', connector, certBag } },
    ];
    for (const c of bad)
      expect(
        codeOf(() => configurationObject(c)),
        c.ssid,
      ).toBe('ERR_CONFIG');
    // At the limits: accepted.
    expect(
      codeOf(() =>
        configurationObject({
          ssid: '€'.repeat(10) + 'ab',
          credential: { akm: 'sae', passphrase: 'x'.repeat(63) },
        }),
      ),
    ).toBe('OK');
    expect(
      codeOf(() =>
        configurationObject({
          ssid: 'x'.repeat(32),
          credential: { akm: 'psk', passphrase: '8chars!!' },
        }),
      ),
    ).toBe('OK');
    // buildConfigurationResponse refuses them too, before anything is wrapped.
    const req = readConfigurationRequest(session, request());
    expect(codeOf(() => buildConfigurationResponse(session, req, bad[0]))).toBe('ERR_CONFIG');
  });
});

describe('Configuration Responses for each answer, read back by the Enrollee', () => {
  it('csr-needed: status 12, E-nonce and the CSR Attributes Request (0x101F), base64 of the CsrAttrs', () => {
    const req = readConfigurationRequest(session, request());
    const attrs = csrAttributes();
    const resp = buildConfigurationResponse(session, req, {
      status: 'csr-needed',
      csrAttributes: attrs,
    });
    expect(resp.query[0]).toEqual({ id: DppAttributeId.STATUS, value: Uint8Array.of(12) });
    const clear = opened(resp);
    expect(clear.map((a) => a.id)).toEqual([DppAttributeId.ENROLLEE_NONCE, 0x101f]);
    expect(toHex(clear[0]!.value)).toBe(toHex(eNonce));
    expect(new TextDecoder().decode(clear[1]!.value)).toBe(Buffer.from(attrs).toString('base64'));
    // The Enrollee reads it: the status and the CsrAttrs, no object.
    const read = readConfigurationResponse(session, ENROLLMENT, resp);
    expect(read.status).toBe(12);
    expect(read.objects).toEqual([]);
    expect(toHex(read.csrAttributes!)).toBe(toHex(attrs));
    // OpenSSL reads the CsrAttrs as DER: ecdsa-with-SHA256, id-ecPublicKey with two curves, RSA.
    const dir = tempDir('airlock-csrattrs-');
    const file = path.join(dir, 'csrattrs.der');
    fs.writeFileSync(file, read.csrAttributes!);
    const parsed = execFileSync('openssl', ['asn1parse', '-inform', 'DER', '-in', file], {
      encoding: 'utf8',
    });
    expect(parsed).toContain('ecdsa-with-SHA256');
    expect(parsed).toContain('id-ecPublicKey');
    expect(parsed).toContain('secp384r1');
    expect(parsed).toContain('prime256v1');
    expect(parsed).toContain('rsaEncryption');
  });

  it('csr-bad: status 13 with only the E-nonce; configure-failure: status 5 with only the E-nonce', () => {
    const req = readConfigurationRequest(session, request());
    for (const [answer, status] of [
      [{ status: 'csr-bad' }, 13],
      [{ status: 'configure-failure' }, 5],
    ] as const) {
      const resp = buildConfigurationResponse(session, req, answer);
      expect(resp.query[0]!.value).toEqual(Uint8Array.of(status));
      const clear = opened(resp);
      expect(clear.map((a) => a.id)).toEqual([DppAttributeId.ENROLLEE_NONCE]);
      expect(toHex(clear[0]!.value)).toBe(toHex(eNonce));
      const read = readConfigurationResponse(session, ENROLLMENT, resp);
      expect(read).toEqual({ status, objects: [] });
    }
  });

  it('a netRole other than sta, or wi-fi_tech other than infra, gets Configure Failure whatever it is given', async () => {
    const csign = await csignKey();
    const connector = connectorFor(csign, csign);
    for (const object of [
      '{"name":"x","wi-fi_tech":"infra","netRole":"ap"}',
      '{"name":"x","wi-fi_tech":"infra","netRole":"configurator"}',
      '{"name":"x","wi-fi_tech":"mesh","netRole":"sta"}',
    ]) {
      const req = readConfigurationRequest(session, request(object));
      for (const given of [
        CONFIG,
        { ssid: 'net', credential: { akm: 'dpp' as const, connector } },
        { status: 'csr-needed' as const, csrAttributes: csrAttributes() },
        { status: 'csr-bad' as const },
      ]) {
        const resp = buildConfigurationResponse(session, req, given);
        expect(resp.query[0]!.value, object).toEqual(Uint8Array.of(5));
        expect(opened(resp).map((a) => a.id)).toEqual([DppAttributeId.ENROLLEE_NONCE]);
      }
    }
  });

  it('psk, sae, dpp and dot1x objects are read back; the Connectors verified with the C-sign key', async () => {
    const csign = await csignKey();
    const pp = await csignKey();
    const connector = connectorFor(csign, pp);
    const certBag = crypto.bytes(120);
    const caCert = crypto.bytes(80);
    const req = readConfigurationRequest(session, request());
    const back = (credential: DppNetworkConfiguration['credential'], check = CHECK) =>
      readConfigurationResponse(
        session,
        ENROLLMENT,
        buildConfigurationResponse(session, req, { ssid: 'airlock-net', credential }),
        check,
      );
    expect(back({ akm: 'psk', passphrase: 'psk passphrase' })).toMatchObject({
      status: 0,
      objects: [{ kind: 'sta-psk', ssid: 'airlock-net', akm: 'psk', passphrase: 'psk passphrase' }],
    });
    expect(back({ akm: 'sae', passphrase: 'sae passphrase' })).toMatchObject({
      objects: [{ kind: 'sta-sae', ssid: 'airlock-net', akm: 'sae', passphrase: 'sae passphrase' }],
    });
    const dpp = back({ akm: 'dpp', connector }).objects[0]!;
    expect(dpp).toMatchObject({
      kind: 'sta-dpp',
      ssid: 'airlock-net',
      akm: 'dpp',
      signedConnector: connector.signedConnector,
      csign: connector.csign,
      ppKey: connector.ppKey,
    });
    if (dpp.kind !== 'sta-dpp') throw new Error('not sta-dpp');
    expect(dpp.connector.groups).toEqual([{ groupId: '*', netRole: 'sta' }]);
    expect(toHex(dpp.connector.netAccessKey.point)).toBe(toHex(protocolKey.publicKey));
    const dot1x = back({ akm: 'dot1x', connector, certBag, caCert }).objects[0]!;
    if (dot1x.kind !== 'sta-dot1x') throw new Error(`not sta-dot1x: ${dot1x.kind}`);
    expect(toHex(dot1x.certBag)).toBe(toHex(certBag));
    expect(toHex(dot1x.caCert!)).toBe(toHex(caCert));
    expect(dot1x.signedConnector).toBe(connector.signedConnector);
    expect(toHex(dot1x.connector.netAccessKey.point)).toBe(toHex(protocolKey.publicKey));

    // Without a ConnectorCheck, a Connector object cannot be used: unsupported, as received.
    for (const credential of [
      { akm: 'dpp' as const, connector },
      { akm: 'dot1x' as const, connector, certBag },
    ]) {
      const read = readConfigurationResponse(
        session,
        ENROLLMENT,
        buildConfigurationResponse(session, req, { ssid: 'airlock-net', credential }),
      );
      expect(read.objects).toHaveLength(1);
      expect(read.objects[0]).toMatchObject({ kind: 'unsupported', akm: credential.akm });
      if (read.objects[0]!.kind !== 'unsupported') throw new Error('not unsupported');
      expect(read.objects[0]!.json).toBe(configurationObject({ ssid: 'airlock-net', credential }));
    }
  });

  it('a Connector for another key than our protocol key, or signed by another C-sign key: ERR_DPP_CONNECTOR', async () => {
    const csign = await csignKey();
    const other = await csignKey();
    const req = readConfigurationRequest(session, request());
    const back =
      (credential: DppNetworkConfiguration['credential'], check = CHECK) =>
      () =>
        readConfigurationResponse(
          session,
          ENROLLMENT,
          buildConfigurationResponse(session, req, { ssid: 'airlock-net', credential }),
          check,
        );
    const certBag = crypto.bytes(64);
    // The netAccessKey of another key (a valid point): key.
    const foreign = connectorFor(csign, csign, crypto.ecGenerate('P-256').publicKey);
    expect(failure(back({ akm: 'dpp', connector: foreign }))).toEqual({
      code: 'ERR_DPP_CONNECTOR',
      reason: 'key',
    });
    expect(failure(back({ akm: 'dot1x', connector: foreign, certBag }))).toEqual({
      code: 'ERR_DPP_CONNECTOR',
      reason: 'key',
    });
    // Signed by another key, the object naming our C-sign key: key (kid), or signature (kid forged).
    const theirs = connectorFor(other, other);
    expect(
      failure(
        back({
          akm: 'dpp',
          connector: { ...theirs, csign: dppJwk('P-256', csign.publicKey, csign.kid) },
        }),
      ),
    ).toEqual({ code: 'ERR_DPP_CONNECTOR', reason: 'key' });
    const forged = connectorFor({ ...other, kid: csign.kid }, other);
    expect(
      failure(
        back({
          akm: 'dot1x',
          connector: { ...forged, csign: dppJwk('P-256', csign.publicKey, csign.kid) },
          certBag,
        }),
      ),
    ).toEqual({ code: 'ERR_DPP_CONNECTOR', reason: 'signature' });
    // Expired at the Enrollee's clock.
    const expired = {
      ...connectorFor(csign, csign),
      signedConnector: signConnector(crypto, csign, {
        groups: [{ groupId: '*', netRole: 'sta' }],
        netAccessKey: { curve: 'P-256', point: protocolKey.publicKey },
        expiry: new Date(Date.now() - 60_000),
      }),
    };
    expect(failure(back({ akm: 'dpp', connector: expired }))).toEqual({
      code: 'ERR_DPP_CONNECTOR',
      reason: 'expired',
    });
    // A C-sign key that is not a point of P-256: key.
    const offCurve = {
      ...connectorFor(csign, csign),
      csign: { ...dppJwk('P-256', csign.publicKey), y: Buffer.alloc(32, 1).toString('base64url') },
    };
    expect(failure(back({ akm: 'dpp', connector: offCurve }))).toEqual({
      code: 'ERR_DPP_CONNECTOR',
      reason: 'key',
    });
    // A ppKey on another curve than the C-sign key: key.
    const ppOther = {
      ...connectorFor(csign, csign),
      ppKey: dppJwk('P-384', crypto.ecGenerate('P-384').publicKey),
    };
    expect(failure(back({ akm: 'dpp', connector: ppOther }))).toEqual({
      code: 'ERR_DPP_CONNECTOR',
      reason: 'key',
    });
  });
});

describe('the Enrollee’s certificate request (verifyEnrolleeCsr)', () => {
  const ownKey = ecKeyFromScalar('P-256', protocolKey.privateKey, protocolKey.publicKey);
  const password = csrChallengePassword(crypto, session);
  const withCsr = (pkcs10: unknown, s: DppSession = session) =>
    readConfigurationRequest(
      s,
      request(
        JSON.stringify({ name: 'Test', 'wi-fi_tech': 'infra', netRole: 'sta', pkcs10 }),
        s.ke,
      ),
    );
  const csrFailure = (pkcs10: unknown, s: DppSession = session) =>
    failure(() => verifyEnrolleeCsr(crypto, s, withCsr(pkcs10, s)));
  const b64 = (der: Uint8Array) => toBase64(der);

  it("the challengePassword is base64 of HKDF-Expand(bk, 'CSR challengePassword', 64), the curve's hash", () => {
    // HKDF-Expand of RFC 5869 computed here with node:crypto's HMAC (one hash: 64 octets need two blocks on SHA-256).
    const expand = (hash: string, prk: Uint8Array, length: number) => {
      const info = Buffer.from('CSR challengePassword');
      let t = Buffer.alloc(0);
      const out: Buffer[] = [];
      for (let i = 1; Buffer.concat(out).length < length; i++) {
        t = createHmac(hash, prk)
          .update(Buffer.concat([t, info, Buffer.of(i)]))
          .digest();
        out.push(t);
      }
      return Buffer.concat(out).subarray(0, length).toString('base64');
    };
    expect(password).toBe(expand('sha256', session.bk, 64));
    expect(Buffer.from(password, 'base64')).toHaveLength(64);
    const p384 = { curve: 'P-384' as const, bk: crypto.bytes(48) };
    expect(csrChallengePassword(crypto, p384)).toBe(expand('sha384', p384.bk, 64));
    // Another bk, another password.
    expect(csrChallengePassword(crypto, { ...session, bk: crypto.bytes(32) })).not.toBe(password);
  });

  it('a CSR for the protocol key, with this exchange’s challengePassword, is accepted', () => {
    expect(verifyEnrolleeCsr(crypto, session, readConfigurationRequest(session, request()))).toBe(
      undefined,
    );
    const der = buildTestCsr({ signer: ownKey, challengePassword: password });
    const csr = verifyEnrolleeCsr(crypto, session, withCsr(b64(der)))!;
    expect(csr.keyType).toBe('P-256');
    expect(csr.challengePassword).toBe(password);
    expect(toHex(csr.spki)).toBe(toHex(spkiOf(ownKey)));
    expect(toHex(csr.spki).endsWith(toHex(protocolKey.publicKey))).toBe(true);
  });

  it('on P-384: a CSR for the P-384 protocol key, signed with SHA-384, is accepted', () => {
    const pair = crypto.ecGenerate('P-384');
    const s384: DppSession = {
      ...session,
      curve: 'P-384',
      bk: crypto.bytes(48),
      ke: crypto.bytes(48),
      enrolleeProtocolKey: pair.publicKey,
    };
    const signer = ecKeyFromScalar('P-384', pair.privateKey, pair.publicKey);
    const good = buildTestCsr({
      signer,
      hash: 'sha384',
      challengePassword: csrChallengePassword(crypto, s384),
    });
    const clear = encodeDppAttributes([
      {
        id: DppAttributeId.ENROLLEE_NONCE,
        value: crypto.bytes(dppCurveParams('P-384').nonceLength),
      },
      {
        id: DppAttributeId.CONFIGURATION_ATTRIBUTES_OBJECT,
        value: new TextEncoder().encode(
          JSON.stringify({ name: 'x', 'wi-fi_tech': 'infra', netRole: 'sta', pkcs10: b64(good) }),
        ),
      },
    ]);
    const req = readConfigurationRequest(s384, {
      kind: 'gas-initial-request',
      dialogToken: 1,
      advertisement: { ...DEFAULT_GAS_ADVERTISEMENT },
      query: [{ id: DppAttributeId.WRAPPED_DATA, value: wrapDppData(s384.ke, [], clear) }],
    });
    expect(verifyEnrolleeCsr(crypto, s384, req)?.keyType).toBe('P-384');
    // The P-256 password (the wrong hash's) on a P-384 exchange is not this exchange's.
    const wrongHash = buildTestCsr({
      signer,
      hash: 'sha384',
      challengePassword: csrChallengePassword(crypto, { curve: 'P-256', bk: s384.bk }),
    });
    expect(
      failure(() => verifyEnrolleeCsr(crypto, s384, { ...req, other: { pkcs10: b64(wrongHash) } })),
    ).toEqual({ code: 'ERR_DPP_CSR', reason: 'challenge-password' });
  });

  it('a CSR for another key than the protocol key, with the right challengePassword: key', () => {
    const foreign = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    expect(csrFailure(b64(buildTestCsr({ signer: foreign, challengePassword: password })))).toEqual(
      { code: 'ERR_DPP_CSR', reason: 'key' },
    );
    // A P-384 key, which the domain CA would certify, on a P-256 exchange: key.
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
    expect(
      csrFailure(b64(buildTestCsr({ signer: p384, hash: 'sha384', challengePassword: password }))),
    ).toEqual({ code: 'ERR_DPP_CSR', reason: 'key' });
  });

  it('a challengePassword that is wrong, of another exchange, or missing: challenge-password', () => {
    for (const challengePassword of [
      undefined,
      '',
      'password',
      csrChallengePassword(crypto, { ...session, bk: crypto.bytes(32) }),
      password.slice(0, -4),
      password.toLowerCase(),
    ])
      expect(
        csrFailure(b64(buildTestCsr({ signer: ownKey, challengePassword }))),
        String(challengePassword),
      ).toEqual({ code: 'ERR_DPP_CSR', reason: 'challenge-password' });
  });

  it('a bad signature: signature', () => {
    // Signed by another key while naming the protocol key.
    const foreign = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const lying = buildTestCsr({
      signer: foreign,
      spki: spkiOf(ownKey),
      challengePassword: password,
    });
    expect(csrFailure(b64(lying))).toEqual({ code: 'ERR_DPP_CSR', reason: 'signature' });
    // The right CSR with one octet of the signed part changed (in the subject's CN).
    const good = buildTestCsr({
      signer: ownKey,
      challengePassword: password,
      commonName: 'abcdef',
    });
    const at = Buffer.from(good).indexOf(Buffer.from('abcdef'));
    expect(at).toBeGreaterThan(0);
    const changed = Uint8Array.from(good);
    changed[at] = 'z'.charCodeAt(0);
    expect(csrFailure(b64(changed))).toEqual({ code: 'ERR_DPP_CSR', reason: 'signature' });
    expect(csrFailure(b64(good))).toEqual({ code: 'OK' });
  });

  it('pkcs10 not base64, or not DER: malformed', () => {
    const good = buildTestCsr({ signer: ownKey, challengePassword: password });
    for (const pkcs10 of [
      'not base64!',
      '%%%%',
      42,
      null,
      { der: b64(good) },
      '',
      Buffer.from('hello').toString('base64'),
      b64(good.subarray(0, good.length - 1)),
      b64(Uint8Array.from([...good, 0])),
    ])
      expect(csrFailure(pkcs10), String(pkcs10).slice(0, 20)).toEqual({
        code: 'ERR_DPP_CSR',
        reason: 'malformed',
      });
  });

  it('a key on a curve the domain CA does not certify (P-521, brainpoolP256r1): key', () => {
    const p521 = crypto.ecGenerate('P-521');
    const signer = ecKeyFromScalar('P-521', p521.privateKey, p521.publicKey);
    expect(
      csrFailure(b64(buildTestCsr({ signer, hash: 'sha512', challengePassword: password }))),
    ).toEqual({ code: 'ERR_DPP_CSR', reason: 'key' });
    const bp = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey;
    expect(csrFailure(b64(buildTestCsr({ signer: bp, challengePassword: password })))).toEqual({
      code: 'ERR_DPP_CSR',
      reason: 'key',
    });
  });

  it('OpenSSL reads the test CSR, verifies its self-signature and sees the challengePassword', () => {
    const der = buildTestCsr({ signer: ownKey, challengePassword: password, commonName: 'dev-1' });
    const dir = tempDir('airlock-dpp-csr-');
    const file = path.join(dir, 'req.der');
    fs.writeFileSync(file, der);
    const out = execFileSync(
      'openssl',
      ['req', '-inform', 'DER', '-in', file, '-verify', '-noout', '-text'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(out).toContain('CN = dev-1');
    expect(out).toMatch(/challengePassword\s*:\s*(\S+)/);
    expect(/challengePassword\s*:\s*(\S+)/.exec(out)![1]).toBe(password);
    expect(out).toContain('ASN1 OID: prime256v1');
    // OpenSSL's verdict (on stderr in OpenSSL 3): the request is signed by its key.
    const verdict = execFileSync(
      'sh',
      ['-c', `openssl req -inform DER -in "${file}" -verify -noout 2>&1`],
      { encoding: 'utf8' },
    );
    expect(verdict).toMatch(/verify OK/);
    // Its public key is the protocol key.
    const pub = execFileSync(
      'openssl',
      ['req', '-inform', 'DER', '-in', file, '-pubkey', '-noout'],
      { encoding: 'utf8' },
    );
    const pubDer = Buffer.from(pub.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    expect(toHex(pubDer)).toBe(toHex(spkiOf(ownKey)));
    expect(toHex(pubDer).endsWith(toHex(protocolKey.publicKey))).toBe(true);
    // One octet of the signature changed: OpenSSL refuses it too.
    const bad = Uint8Array.from(der);
    bad[bad.length - 3]! ^= 0x01;
    fs.writeFileSync(file, bad);
    const refused = execFileSync(
      'sh',
      ['-c', `openssl req -inform DER -in "${file}" -verify -noout 2>&1 || true`],
      { encoding: 'utf8' },
    );
    expect(refused).not.toMatch(/verify OK/);
    expect(refused).toMatch(/verify failure/);
  });
});
