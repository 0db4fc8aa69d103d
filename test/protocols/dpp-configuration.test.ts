/**
 * The Configurator's side of the DPP Configuration protocol
 * (src/protocols/dpp/configuration.ts), with an Enrollee played here as hostap's dpp.c plays
 * it: the Configuration Request wrapped with ke and no associated data, the Response's
 * associated data its DPP Status attribute, the Result's the frame header and an empty vector.
 * The GAS framing of our Response is that of wpa_supplicant's recorded one; the sta-psk object
 * is hostap's legacy object. Tampered, foreign or out-of-order frames are refused.
 */
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { toHex } from '../../src/core/bytes.js';
import {
  DppAttributeId,
  decodeDppAttributes,
  encodeDppAttributes,
} from '../../src/protocols/dpp/attributes.js';
import { dppFrameHeader, type DppSession } from '../../src/protocols/dpp/authentication.js';
import {
  buildConfigurationResponse,
  pskConfigurationObject,
  readConfigurationRequest,
  readConfigurationResult,
} from '../../src/protocols/dpp/configuration.js';
import { unwrapDppData, wrapDppData } from '../../src/protocols/dpp/crypto.js';
import {
  DEFAULT_GAS_ADVERTISEMENT,
  DppFrameType,
  encodeDppTcpMessage,
  type DppActionFrame,
  type GasInitialRequest,
} from '../../src/protocols/dpp/frames.js';
import { codeOf } from '../support/errors.js';
import { readInterop } from '../support/interop.js';

const crypto = new NodeCrypto();
const session: DppSession = {
  curve: 'P-256',
  peerVersion: 2,
  bk: crypto.bytes(32),
  ke: crypto.bytes(32),
  enrolleeProtocolKey: crypto.ecGenerate('P-256').publicKey,
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
