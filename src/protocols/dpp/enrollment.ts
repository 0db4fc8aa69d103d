/**
 * The Enrollee's side of the DPP Configuration protocol (Wi-Fi Easy Connect v2, section 6.4)
 * over TCP, after authentication (initiation.ts gives ke): the mirror of configuration.ts.
 *
 * - `buildConfigurationRequest`: a GAS Initial Request (the DPP Advertisement Protocol element)
 *   whose query is Wrapped Data {E-nonce, Configuration Request object}ke, no associated data.
 *   The object is {"name":...,"wi-fi_tech":"infra","netRole":"sta"}.
 * - `readConfigurationResponse`: a GAS Initial Response, Status Code 0, no comeback; DPP
 *   Status, then Wrapped Data {E-nonce, Configuration Object(s)}ke, the attributes before it as
 *   associated data. The E-nonce must be ours. A `psk` object (WPA2-Personal: hostap's
 *   `sta-psk`) gives its SSID and passphrase or PSK; any other AKM is kept as received and
 *   marked unsupported.
 * - `buildConfigurationResult`: DPP frame type 11, Wrapped Data {DPP Status, E-nonce}ke; the
 *   associated data the frame header and an empty vector.
 *
 * As hostap's dpp.c (dpp_build_conf_req, dpp_conf_resp_rx, dpp_build_conf_result) has it.
 * Refusals: ERR_DPP_FRAME (attributes or JSON not well-formed), ERR_DPP_AUTH (Wrapped Data that
 * does not open, another E-nonce, a GAS failure or comeback). No message carries the passphrase.
 */
import { equalBytes as equal, fromBase64, fromBase64Url } from '../../core/bytes.js';
import { AirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import { DppAttributeId, encodeDppAttributes } from './attributes.js';
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
import { jwkPoint, verifyConnector, type DppConnectorPayload, type DppJwk } from './connector.js';
import { dppCurveParams, unwrapDppData, wrapDppData } from './crypto.js';
import {
  DEFAULT_GAS_ADVERTISEMENT,
  DppFrameType,
  dppFrameTypeName,
  type DppActionFrame,
  type DppMessage,
  type GasInitialRequest,
} from './frames.js';

const UTF8 = new TextEncoder();

export interface EnrolleeRequestOptions {
  /** The device name the Configurator sees. */
  name: string;
  /** E-nonce; by default random from the port (tests set it). */
  eNonce?: Uint8Array;
  /** GAS Dialog Token, 0 to 255; by default random. */
  dialogToken?: number;
}

/** What the Enrollee keeps between the Configuration Request and Response. */
export interface DppEnrollment {
  readonly dialogToken: number;
  readonly eNonce: Uint8Array;
}

/** A network the Configurator gave: WPA2-Personal with a passphrase or a raw PSK. Secret. */
export interface DppPskNetwork {
  kind: 'sta-psk';
  /** The SSID's octets, and as UTF-8 text (replacement characters where it is not UTF-8). */
  ssidBytes: Uint8Array;
  ssid: string;
  /** The AKM as the object names it: `psk`, or `psk+sae` / `sae` when a passphrase comes too. */
  akm: string;
  passphrase?: string;
  /** The PSK, 64 hex digits, when the object gives one instead of a passphrase. */
  pskHex?: string;
}

/** A WPA3-Personal network (`sae`): SAE with a passphrase. Secret. */
export interface DppSaeNetwork {
  kind: 'sta-sae';
  ssidBytes: Uint8Array;
  ssid: string;
  akm: string;
  passphrase: string;
}

/**
 * A DPP network (`dpp`): the Connector, verified with the C-sign key the object carries and
 * naming our protocol key as its netAccessKey (whose private scalar the session holds), and
 * the C-sign key and ppKey to keep. Secret only through the netAccessKey.
 */
export interface DppConnectorNetwork {
  kind: 'sta-dpp';
  ssidBytes: Uint8Array;
  ssid: string;
  akm: string;
  signedConnector: string;
  connector: DppConnectorPayload;
  csign: DppJwk;
  ppKey?: DppJwk;
}

/** An 802.1X network (`dot1x`): a certificate bag for EAP-TLS, with a Connector. */
export interface DppDot1xNetwork extends Omit<DppConnectorNetwork, 'kind'> {
  kind: 'sta-dot1x';
  /** PKCS#7 certs-only, DER. */
  certBag: Uint8Array;
  caCert?: Uint8Array;
  trustedEapServerName?: string;
}

/** A Configuration Object this Enrollee cannot use (another AKM, or a Connector it cannot check). */
export interface DppUnsupportedObject {
  kind: 'unsupported';
  akm: string;
  /** The object as received. */
  json: string;
}

export type DppConfigurationObject =
  DppPskNetwork | DppSaeNetwork | DppConnectorNetwork | DppDot1xNetwork | DppUnsupportedObject;

export interface DppConfigurationReceived {
  /** The DPP Status of the Response: 0 when the Configurator gave a configuration. */
  status: number;
  objects: DppConfigurationObject[];
  /** With status CSR Needed: the CSR Attributes the Configurator asks for (DER CsrAttrs). */
  csrAttributes?: Uint8Array;
}

/** What checking a Connector needs: without it, Connector objects are `unsupported`. */
export interface ConnectorCheck {
  crypto: Pick<Crypto, 'verifyEs256' | 'ecPoint' | 'sha256'>;
  now: Date;
}

/** The Configuration Request: GAS Initial Request, {E-nonce, request object}ke. */
export function buildConfigurationRequest(
  crypto: Pick<Crypto, 'bytes'>,
  session: DppSession,
  options: EnrolleeRequestOptions,
): { request: GasInitialRequest; enrollment: DppEnrollment } {
  const { nonceLength } = dppCurveParams(session.curve);
  const eNonce = options.eNonce ?? crypto.bytes(nonceLength);
  if (eNonce.length !== nonceLength)
    refuse('nonce', `E-nonce has ${eNonce.length} octets, not ${nonceLength}`);
  const dialogToken = options.dialogToken ?? crypto.bytes(1)[0]!;
  if (!Number.isInteger(dialogToken) || dialogToken < 0 || dialogToken > 255)
    malformed(`the Dialog Token ${dialogToken} is not 0 to 255`);
  const object = JSON.stringify({ name: options.name, 'wi-fi_tech': 'infra', netRole: 'sta' });
  const wrapped = wrapDppData(
    session.ke,
    [],
    encodeDppAttributes([
      { id: DppAttributeId.ENROLLEE_NONCE, value: eNonce },
      { id: DppAttributeId.CONFIGURATION_ATTRIBUTES_OBJECT, value: UTF8.encode(object) },
    ]),
  );
  return {
    request: {
      kind: 'gas-initial-request',
      dialogToken,
      advertisement: { ...DEFAULT_GAS_ADVERTISEMENT },
      query: [{ id: DppAttributeId.WRAPPED_DATA, value: wrapped }],
    },
    enrollment: { dialogToken, eNonce },
  };
}

function parseObject(
  raw: Uint8Array,
  session: DppSession,
  check: ConnectorCheck | undefined,
): DppConfigurationObject {
  let text: string;
  let json: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    json = JSON.parse(text);
  } catch {
    malformed('a Configuration Object is not JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    malformed('a Configuration Object is not a JSON object');
  const o = json as Record<string, unknown>;
  const cred = o.cred as Record<string, unknown> | undefined;
  if (typeof cred !== 'object' || cred === null || Array.isArray(cred))
    malformed('a Configuration Object has no cred');
  const akm = cred.akm;
  if (typeof akm !== 'string') malformed('a Configuration Object has no cred.akm');
  const akms = akm.split('+');
  const kind = akms.includes('dot1x')
    ? 'sta-dot1x'
    : akms.includes('dpp')
      ? 'sta-dpp'
      : akms.includes('psk')
        ? 'sta-psk'
        : akms.includes('sae')
          ? 'sta-sae'
          : undefined;
  const unsupported = { kind: 'unsupported' as const, akm, json: text };
  if (!kind || o['wi-fi_tech'] !== 'infra') return unsupported;
  const discovery = o.discovery as Record<string, unknown> | undefined;
  if (typeof discovery !== 'object' || discovery === null || Array.isArray(discovery))
    malformed('a Configuration Object has no discovery');
  let ssidBytes: Uint8Array | undefined;
  if (typeof discovery.ssid === 'string') ssidBytes = UTF8.encode(discovery.ssid);
  else if (typeof discovery.ssid64 === 'string') ssidBytes = fromBase64Url(discovery.ssid64);
  if (!ssidBytes || ssidBytes.length < 1 || ssidBytes.length > 32)
    malformed('a Configuration Object has no SSID of 1 to 32 octets');
  const ssid = new TextDecoder('utf-8').decode(ssidBytes);
  if (kind === 'sta-dpp' || kind === 'sta-dot1x') {
    if (!check) return unsupported;
    const connector = readConnector(cred, session, check);
    if (kind === 'sta-dpp') return { kind, ssidBytes, ssid, akm, ...connector };
    const ent = cred.entCreds as Record<string, unknown> | undefined;
    if (typeof ent !== 'object' || ent === null || Array.isArray(ent))
      malformed('a dot1x Configuration Object has no entCreds');
    const certBag = typeof ent.certBag === 'string' ? fromBase64(ent.certBag) : undefined;
    if (!certBag || certBag.length === 0) malformed('a dot1x Configuration Object has no certBag');
    const caCert = typeof ent.caCert === 'string' ? fromBase64(ent.caCert) : undefined;
    if (ent.caCert !== undefined && !caCert) malformed('caCert is not base64');
    const name = ent.trustedEapServerName;
    if (name !== undefined && (typeof name !== 'string' || !/^[\x20-\x7e]*$/.test(name)))
      malformed('trustedEapServerName is not printable text');
    return {
      kind,
      ssidBytes,
      ssid,
      akm,
      ...connector,
      certBag,
      ...(caCert ? { caCert } : {}),
      ...(name !== undefined ? { trustedEapServerName: name } : {}),
    };
  }
  let passphrase: string | undefined;
  let pskHex: string | undefined;
  if (typeof cred.pass === 'string') {
    if (!/^[\x20-\x7e]{8,63}$/.test(cred.pass))
      malformed('the passphrase is not 8 to 63 printable ASCII characters');
    passphrase = cred.pass;
  } else if (typeof cred.psk_hex === 'string' && kind === 'sta-psk') {
    if (!/^[0-9a-fA-F]{64}$/.test(cred.psk_hex)) malformed('psk_hex is not 64 hex digits');
    pskHex = cred.psk_hex.toLowerCase();
  } else
    malformed(
      kind === 'sta-sae'
        ? 'a sae Configuration Object has no pass'
        : 'a psk Configuration Object has neither pass nor psk_hex',
    );
  if (kind === 'sta-sae') return { kind, ssidBytes, ssid, akm, passphrase: passphrase! };
  return {
    kind,
    ssidBytes,
    ssid,
    akm,
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(pskHex !== undefined ? { pskHex } : {}),
  };
}

/**
 * The Connector of a `dpp` or `dot1x` credential, as hostap's dpp_parse_cred_dpp checks it:
 * the C-sign key a P-256 JWK on its curve, the ppKey (if any) on the same curve, the Connector
 * verified with the C-sign key and not expired, and its netAccessKey our protocol key.
 */
function readConnector(
  cred: Record<string, unknown>,
  session: DppSession,
  check: ConnectorCheck,
): Pick<DppConnectorNetwork, 'signedConnector' | 'connector' | 'csign' | 'ppKey'> {
  const csign = cred.csign as DppJwk;
  const c = jwkPoint(csign);
  if (!check.crypto.ecPoint(dppCurveParams(c.curve).ecCurve, c.point))
    throw new AirlockError('ERR_DPP_CONNECTOR', 'the C-sign key is not on its curve', {
      details: { reason: 'key' },
    });
  let ppKey: DppJwk | undefined;
  if (cred.ppKey !== undefined) {
    ppKey = cred.ppKey as DppJwk;
    if (jwkPoint(ppKey).curve !== c.curve)
      throw new AirlockError('ERR_DPP_CONNECTOR', "the ppKey is not on the C-sign key's curve", {
        details: { reason: 'key' },
      });
  }
  const signedConnector = cred.signedConnector;
  if (typeof signedConnector !== 'string' || /["\n]/.test(signedConnector))
    malformed('the credential has no signedConnector');
  const connector = verifyConnector(check.crypto, csign, signedConnector, check.now);
  if (
    connector.netAccessKey.curve !== session.curve ||
    !equal(connector.netAccessKey.point, session.enrolleeProtocolKey)
  )
    throw new AirlockError(
      'ERR_DPP_CONNECTOR',
      "the Connector's netAccessKey is not this Enrollee's protocol key",
      { details: { reason: 'key' } },
    );
  return {
    signedConnector,
    connector,
    csign: { ...jwkFields(csign) },
    ...(ppKey ? { ppKey: jwkFields(ppKey) } : {}),
  };
}

/** The members of a JWK that DPP uses, nothing else. */
function jwkFields(jwk: DppJwk): DppJwk {
  return {
    kty: jwk.kty,
    crv: jwk.crv,
    x: jwk.x,
    y: jwk.y,
    ...(typeof jwk.kid === 'string' ? { kid: jwk.kid } : {}),
  };
}

/**
 * Reads the Configuration Response. Refused: another frame (`unexpected-frame`), another
 * Dialog Token, a GAS status other than 0 (`gas-status`), a comeback (`comeback`, not
 * supported), Wrapped Data that does not open (`wrapped-data`), another E-nonce (`nonce`).
 * A DPP Status other than OK is returned with no objects.
 */
export function readConfigurationResponse(
  session: DppSession,
  enrollment: DppEnrollment,
  message: DppMessage,
  check?: ConnectorCheck,
): DppConfigurationReceived {
  if (message.kind !== 'gas-initial-response')
    refuse(
      'unexpected-frame',
      `expected a GAS Initial Response, got ${
        message.kind === 'dpp' ? dppFrameTypeName(message.frameType) : message.kind
      }`,
    );
  if (message.dialogToken !== enrollment.dialogToken)
    refuse('unexpected-frame', 'the GAS Initial Response has another Dialog Token');
  if (message.statusCode !== 0)
    refuse('gas-status', `the GAS Initial Response has status code ${message.statusCode}`);
  if (message.comebackDelay !== 0 || message.query.length === 0)
    refuse('comeback', 'the Configurator asks to come back later: not supported');
  const status = required(message.query, DppAttributeId.STATUS, 'the DPP Status', 1)[0]!;
  const { before, wrapped } = splitWrapped(message.query, 'the Configuration Response');
  const inner = innerAttributes(
    unwrapDppData(session.ke, [before], wrapped),
    'the Configuration Response',
  );
  const eNonce = required(
    inner,
    DppAttributeId.ENROLLEE_NONCE,
    'E-nonce',
    enrollment.eNonce.length,
  );
  if (!equal(eNonce, enrollment.eNonce))
    refuse('nonce', 'the Configuration Response carries another E-nonce');
  if (status === DppStatus.CSR_NEEDED) {
    const b64 = required(
      inner,
      DppAttributeId.CSR_ATTRIBUTES_REQUEST,
      'the CSR Attributes Request',
    );
    const csrAttributes = fromBase64(new TextDecoder().decode(b64));
    if (!csrAttributes) malformed('the CSR Attributes Request is not base64');
    return { status, objects: [], csrAttributes };
  }
  if (status !== DppStatus.OK) return { status, objects: [] };
  const objects = inner
    .filter((a) => a.id === DppAttributeId.CONFIGURATION_OBJECT)
    .map((a) => parseObject(a.value, session, check));
  if (objects.length === 0)
    malformed('the Configuration Response has Status OK and no Configuration Object');
  return { status, objects };
}

/** The Configuration Result: {DPP Status, E-nonce}ke, 0 when we took the configuration. */
export function buildConfigurationResult(
  session: DppSession,
  enrollment: DppEnrollment,
  status: number,
): DppActionFrame {
  const wrapped = wrapDppData(
    session.ke,
    [dppFrameHeader(DppFrameType.CONFIGURATION_RESULT), new Uint8Array(0)],
    encodeDppAttributes([
      { id: DppAttributeId.STATUS, value: Uint8Array.of(status) },
      { id: DppAttributeId.ENROLLEE_NONCE, value: enrollment.eNonce },
    ]),
  );
  return {
    kind: 'dpp',
    frameType: DppFrameType.CONFIGURATION_RESULT,
    attributes: [{ id: DppAttributeId.WRAPPED_DATA, value: wrapped }],
  };
}
