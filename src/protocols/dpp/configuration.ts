/**
 * The Configurator's side of the DPP Configuration protocol (Wi-Fi Easy Connect v2, section
 * 6.4) over TCP, after authentication (authentication.ts gives ke):
 *
 * - Configuration Request, a GAS Initial Request whose query is Wrapped Data {E-nonce,
 *   Configuration Request object (JSON)}ke, with no associated data.
 * - Configuration Response, a GAS Initial Response (Status Code 0, no comeback) whose query
 *   is DPP Status, then Wrapped Data {E-nonce, Configuration Object}ke; the associated data
 *   is the DPP Status attribute.
 * - Configuration Result, DPP frame type 11: Wrapped Data {DPP Status, E-nonce}ke; the
 *   associated data are the frame header (OUI to frame type) and the attributes before the
 *   Wrapped Data (none: an empty vector).
 *
 * As hostap's dpp.c (dpp_conf_req_rx, dpp_build_conf_resp, dpp_conf_result_rx) has it. The
 * Configuration Objects are written as hostap writes them (dpp_build_conf_obj_legacy,
 * dpp_build_conf_obj_dpp): `sta-psk` and `sta-sae` (a passphrase), `sta-dpp` (a Connector
 * signed by the C-sign key, connector.ts, with the C-sign key and ppKey JWKs) and `sta-dot1x`
 * (entCreds: the certBag, PKCS#7 certs-only, and caCert; and a Connector, as hostap requires).
 * sta-dot1x takes two Configuration Requests: the first is answered CSR Needed with the CSR
 * Attributes, the second carries the Enrollee's certificate request (`pkcs10`), verified by
 * verifyEnrolleeCsr: bound to this exchange by its challengePassword (HKDF-Expand of bk, as
 * hostap's dpp_build_csr and dpp_validate_csr) and to the Enrollee's protocol key.
 *
 * Refusals: ERR_DPP_FRAME (attributes or JSON not well-formed), ERR_DPP_AUTH (Wrapped Data
 * that does not open, a nonce that does not match). No message carries the passphrase or ke.
 */
import { equalBytes, fromBase64, toBase64 } from '../../core/bytes.js';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import { verifyCsr, type VerifiedCsr } from '../est/csr.js';
import { DerReader, Tag } from '../x509/der.js';
import type { DppJwk } from './connector.js';
import { DppAttributeId, encodeDppAttributes, type DppAttribute } from './attributes.js';
import type { DppSession } from './authentication.js';
import {
  DppStatus,
  dppFrameHeader,
  innerAttributes,
  malformed,
  refuse,
  required,
  splitWrapped,
} from './common.js';
import { dppCurveParams, unwrapDppData, wrapDppData } from './crypto.js';
import {
  DEFAULT_GAS_ADVERTISEMENT,
  DppFrameType,
  dppFrameTypeName,
  type DppMessage,
  type GasInitialResponse,
} from './frames.js';

/** What the Enrollee asked for (its Configuration Request object). */
export interface DppConfigurationRequest {
  dialogToken: number;
  /** The Enrollee nonce: the Response and the Result carry it back. */
  eNonce: Uint8Array;
  name: string;
  wifiTech: string;
  /** 'sta', 'ap' or 'configurator'. */
  netRole: string;
  /** Other members of the object (mudurl, bandSupport, pkcs10...), as received. */
  other: Record<string, unknown>;
}

/** A WPA2-Personal network: what the `sta-psk` Configuration Object carries. */
export interface DppPskConfiguration {
  ssid: string;
  passphrase: string;
}

/** Reads the Configuration Request: a GAS Initial Request with {E-nonce, request object}ke. */
export function readConfigurationRequest(
  session: DppSession,
  message: DppMessage,
): DppConfigurationRequest {
  if (message.kind !== 'gas-initial-request')
    refuse(
      'unexpected-frame',
      `expected a GAS Initial Request, got ${
        message.kind === 'dpp' ? dppFrameTypeName(message.frameType) : message.kind
      }`,
    );
  const { wrapped } = splitWrapped(message.query, 'the Configuration Request');
  if (message.query.length !== 1)
    malformed('the Configuration Request holds more than Wrapped Data');
  const inner = innerAttributes(
    unwrapDppData(session.ke, [], wrapped),
    'the Configuration Request',
  );
  const { nonceLength } = dppCurveParams(session.curve);
  const eNonce = required(inner, DppAttributeId.ENROLLEE_NONCE, 'E-nonce', nonceLength);
  const raw = required(
    inner,
    DppAttributeId.CONFIGURATION_ATTRIBUTES_OBJECT,
    'the Configuration Request object',
  );
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    malformed('the Configuration Request object is not JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    malformed('the Configuration Request object is not a JSON object');
  const { name, 'wi-fi_tech': wifiTech, netRole, ...other } = json as Record<string, unknown>;
  if (typeof name !== 'string') malformed('the Configuration Request has no name');
  if (typeof wifiTech !== 'string') malformed('the Configuration Request has no wi-fi_tech');
  if (typeof netRole !== 'string') malformed('the Configuration Request has no netRole');
  return { dialogToken: message.dialogToken, eNonce, name, wifiTech, netRole, other };
}

const UTF8 = new TextEncoder();

/** A Connector credential: the signed Connector, the C-sign key's JWK, the ppKey's. */
export interface DppConnectorCredential {
  signedConnector: string;
  csign: DppJwk;
  ppKey?: DppJwk;
}

/**
 * The credential of a Configuration Object, by AKM, as hostap names them: `psk` (sta-psk),
 * `sae` (sta-sae), `dpp` (sta-dpp: a Connector), `dot1x` (sta-dot1x: a certificate bag for
 * EAP-TLS, and a Connector as hostap requires with it).
 */
export type DppCredential =
  | { akm: 'psk'; passphrase: string }
  | { akm: 'sae'; passphrase: string }
  | { akm: 'psk+sae'; passphrase: string }
  | { akm: 'dpp'; connector: DppConnectorCredential }
  | {
      akm: 'dot1x';
      connector: DppConnectorCredential;
      /** PKCS#7 certs-only (DER): the device's certificate and its CA's. */
      certBag: Uint8Array;
      /** DER certificate of the CA that signed the EAP server's certificate. */
      caCert?: Uint8Array;
      /** The EAP server's name the device should expect. */
      trustedEapServerName?: string;
    };

/** A network to give an Enrollee: its SSID and credential. */
export interface DppNetworkConfiguration {
  ssid: string;
  credential: DppCredential;
}

/**
 * The Configurator's answer to a Configuration Request: a configuration; a request for a
 * certificate request (CSR Needed, with the CSR Attributes the Enrollee should follow, DER
 * CsrAttrs of RFC 7030); a refusal of the CSR received (CSR Bad); or nothing (Configure
 * Failure).
 */
export type DppConfigurationAnswer =
  | { status: 'ok'; configuration: DppNetworkConfiguration }
  | { status: 'csr-needed'; csrAttributes: Uint8Array }
  | { status: 'csr-bad' }
  | { status: 'configure-failure' };

/** What a Configurator callback may give: an answer, a PSK network (shorthand), or nothing. */
export type DppConfigurationGiven =
  DppConfigurationAnswer | DppNetworkConfiguration | DppPskConfiguration | undefined;

/** The answer a callback's value means. */
export function configurationAnswer(given: DppConfigurationGiven): DppConfigurationAnswer {
  if (given === undefined) return { status: 'configure-failure' };
  if ('status' in given) return given;
  if ('credential' in given) return { status: 'ok', configuration: given };
  return {
    status: 'ok',
    configuration: { ssid: given.ssid, credential: { akm: 'psk', passphrase: given.passphrase } },
  };
}

const SSID_AND_PASS = (ssid: string, passphrase?: string) => {
  const ssidLength = UTF8.encode(ssid).length;
  if (ssidLength < 1 || ssidLength > 32)
    throw new AirlockError('ERR_CONFIG', `the SSID has ${ssidLength} octets, not 1 to 32`);
  if (passphrase !== undefined && !/^[\x20-\x7e]{8,63}$/.test(passphrase))
    throw new AirlockError(
      'ERR_CONFIG',
      'the passphrase is not 8 to 63 printable ASCII characters',
    );
};

/**
 * The `sta-psk` Configuration Object, as hostap writes it. The SSID is 1 to 32 octets of
 * UTF-8, the passphrase 8 to 63 printable ASCII characters (what the Enrollee accepts).
 */
export function pskConfigurationObject(config: DppPskConfiguration): string {
  return configurationObject({
    ssid: config.ssid,
    credential: { akm: 'psk', passphrase: config.passphrase },
  });
}

/**
 * A Configuration Object, written as hostap's dpp_build_conf_obj_legacy and
 * dpp_build_conf_obj_dpp write them: members in their order, the JWKs with kty, crv, x, y
 * (and the C-sign key's kid), the certificate bag and CA certificate in base64.
 */
export function configurationObject(config: DppNetworkConfiguration): string {
  const { credential: c } = config;
  const head = `{"wi-fi_tech":"infra","discovery":{"ssid":${JSON.stringify(config.ssid)}},`;
  if (c.akm === 'psk' || c.akm === 'sae' || c.akm === 'psk+sae') {
    SSID_AND_PASS(config.ssid, c.passphrase);
    return `${head}"cred":{"akm":"${c.akm}","pass":${JSON.stringify(c.passphrase)}}}`;
  }
  SSID_AND_PASS(config.ssid);
  const connector =
    `"signedConnector":${JSON.stringify(c.connector.signedConnector)},` +
    `"csign":${JSON.stringify(c.connector.csign)}` +
    (c.connector.ppKey ? `,"ppKey":${JSON.stringify(c.connector.ppKey)}` : '');
  if (c.akm === 'dpp') return `${head}"cred":{"akm":"dpp",${connector}}}`;
  const ent = {
    certBag: toBase64(c.certBag),
    ...(c.caCert ? { caCert: toBase64(c.caCert) } : {}),
    ...(c.trustedEapServerName !== undefined
      ? { trustedEapServerName: c.trustedEapServerName }
      : {}),
    eapMethods: [13],
  };
  return `${head}"cred":{"akm":"dot1x","entCreds":${JSON.stringify(ent)},${connector}}}`;
}

const STATUS_OF = {
  ok: DppStatus.OK,
  'csr-needed': DppStatus.CSR_NEEDED,
  'csr-bad': DppStatus.CSR_BAD,
  'configure-failure': DppStatus.CONFIGURE_FAILURE,
} as const;

/**
 * The Configuration Response to `request`. A configuration is given only to a `sta` Enrollee
 * of `infra` (anything else is Configure Failure): Status OK, E-nonce and the object. CSR
 * Needed carries E-nonce and the CSR Attributes Request (base64 of the DER CsrAttrs); CSR Bad
 * and Configure Failure only E-nonce.
 */
export function buildConfigurationResponse(
  session: DppSession,
  request: DppConfigurationRequest,
  given: DppConfigurationGiven,
): GasInitialResponse {
  let answer = configurationAnswer(given);
  if (
    answer.status !== 'configure-failure' &&
    (request.netRole !== 'sta' || request.wifiTech !== 'infra')
  )
    answer = { status: 'configure-failure' };
  const status = STATUS_OF[answer.status];
  const clear: DppAttribute[] = [{ id: DppAttributeId.ENROLLEE_NONCE, value: request.eNonce }];
  if (answer.status === 'ok')
    clear.push({
      id: DppAttributeId.CONFIGURATION_OBJECT,
      value: UTF8.encode(configurationObject(answer.configuration)),
    });
  if (answer.status === 'csr-needed')
    clear.push({
      id: DppAttributeId.CSR_ATTRIBUTES_REQUEST,
      value: UTF8.encode(toBase64(answer.csrAttributes)),
    });
  const statusAttribute: DppAttribute = { id: DppAttributeId.STATUS, value: Uint8Array.of(status) };
  const wrapped = wrapDppData(
    session.ke,
    [encodeDppAttributes([statusAttribute])],
    encodeDppAttributes(clear),
  );
  return {
    kind: 'gas-initial-response',
    dialogToken: request.dialogToken,
    statusCode: 0,
    comebackDelay: 0,
    advertisement: { ...DEFAULT_GAS_ADVERTISEMENT },
    query: [statusAttribute, { id: DppAttributeId.WRAPPED_DATA, value: wrapped }],
  };
}

/** The CSR challengePassword of an exchange: base64 of HKDF-Expand(bk, "CSR challengePassword", 64). */
export function csrChallengePassword(
  crypto: Pick<Crypto, 'hkdfExpand'>,
  session: Pick<DppSession, 'curve' | 'bk'>,
): string {
  const { hash } = dppCurveParams(session.curve);
  return toBase64(crypto.hkdfExpand(hash, session.bk, UTF8.encode('CSR challengePassword'), 64));
}

function csrRefuse(reason: string, detail: string): never {
  throw new AirlockError('ERR_DPP_CSR', detail, { details: { reason } });
}

/**
 * The certificate request a Configuration Request carries (`pkcs10`, base64 DER PKCS#10), if
 * any, verified: its signature (proof of possession), a key type the domain CA certifies, the
 * challengePassword of this exchange (it was made by the party that authenticated, for this
 * exchange: hostap's dpp_validate_csr), and its key the Enrollee's protocol key (the key the
 * authentication bound to the Enrollee; hostap's Enrollee always certifies that key). Refused
 * with ERR_DPP_CSR: `malformed`, `signature`, `key`, `challenge-password`.
 */
export function verifyEnrolleeCsr(
  crypto: Crypto,
  session: DppSession,
  request: DppConfigurationRequest,
): VerifiedCsr | undefined {
  const b64 = request.other.pkcs10;
  if (b64 === undefined) return undefined;
  const der = typeof b64 === 'string' ? fromBase64(b64) : undefined;
  if (!der) csrRefuse('malformed', 'pkcs10 is not base64');
  let csr: VerifiedCsr;
  try {
    csr = verifyCsr(crypto, der);
  } catch (e) {
    if (isAirlockError(e) && e.code === 'ERR_CSR_SIGNATURE')
      csrRefuse('signature', 'the certificate request does not verify');
    if (isAirlockError(e) && e.code === 'ERR_CSR_KEY')
      csrRefuse('key', 'the certificate request is for a key the CA does not certify');
    csrRefuse('malformed', 'the certificate request is not well-formed');
  }
  const expected = csrChallengePassword(crypto, session);
  if (
    csr.challengePassword === undefined ||
    !equalBytes(UTF8.encode(csr.challengePassword), UTF8.encode(expected))
  )
    csrRefuse('challenge-password', "the challengePassword is not this exchange's");
  const { ecCurve } = dppCurveParams(session.curve);
  const point = csr.keyType === ecCurve ? crypto.ecPoint(ecCurve, spkiPoint(csr.spki)) : undefined;
  if (!point || !equalBytes(point, session.enrolleeProtocolKey))
    csrRefuse('key', "the certificate request is not for the Enrollee's protocol key");
  return csr;
}

/** The subjectPublicKey octets of a SubjectPublicKeyInfo. */
function spkiPoint(spkiDer: Uint8Array): Uint8Array {
  const spki = new DerReader(spkiDer, 'ERR_DPP_CSR').enter(Tag.SEQUENCE);
  spki.enter(Tag.SEQUENCE);
  return spki.read(Tag.BIT_STRING).value.subarray(1);
}

/**
 * Reads the Configuration Result (DPP frame type 11): the DPP Status the Enrollee reports,
 * 0 when it took the configuration. Refused: another frame, Wrapped Data that does not open
 * with ke, an E-nonce other than the request's (`nonce`).
 */
export function readConfigurationResult(
  session: DppSession,
  request: Pick<DppConfigurationRequest, 'eNonce'>,
  message: DppMessage,
): number {
  if (message.kind !== 'dpp' || message.frameType !== DppFrameType.CONFIGURATION_RESULT)
    refuse(
      'unexpected-frame',
      `expected a Configuration Result, got ${
        message.kind === 'dpp' ? dppFrameTypeName(message.frameType) : message.kind
      }`,
    );
  const { before, wrapped } = splitWrapped(message.attributes, 'the Configuration Result');
  const inner = innerAttributes(
    unwrapDppData(session.ke, [dppFrameHeader(DppFrameType.CONFIGURATION_RESULT), before], wrapped),
    'the Configuration Result',
  );
  const eNonce = required(inner, DppAttributeId.ENROLLEE_NONCE, 'E-nonce', request.eNonce.length);
  if (!equalBytes(eNonce, request.eNonce))
    refuse('nonce', 'the Configuration Result carries another E-nonce');
  return required(inner, DppAttributeId.STATUS, 'the DPP Status', 1)[0]!;
}
