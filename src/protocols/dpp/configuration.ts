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
 * only Configuration Object built here is the legacy PSK one (`sta-psk`), written as hostap's
 * dpp_build_conf_obj_legacy writes it:
 * {"wi-fi_tech":"infra","discovery":{"ssid":"..."},"cred":{"akm":"psk","pass":"..."}}.
 *
 * Refusals: ERR_DPP_FRAME (attributes or JSON not well-formed), ERR_DPP_AUTH (Wrapped Data
 * that does not open, a nonce that does not match). No message carries the passphrase or ke.
 */
import { equalBytes } from '../../core/bytes.js';
import { AirlockError } from '../../core/errors.js';
import { DppAttributeId, encodeDppAttributes, type DppAttribute } from './attributes.js';
import {
  DppStatus,
  dppFrameHeader,
  innerAttributes,
  required,
  splitWrapped,
  type DppSession,
} from './authentication.js';
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

function malformed(detail: string): never {
  throw new AirlockError('ERR_DPP_FRAME', detail);
}

function refuse(reason: string, detail: string): never {
  throw new AirlockError('ERR_DPP_AUTH', detail, { details: { reason } });
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

/**
 * The `sta-psk` Configuration Object, as hostap writes it. The SSID is 1 to 32 octets of
 * UTF-8, the passphrase 8 to 63 printable ASCII characters (what the Enrollee accepts).
 */
export function pskConfigurationObject(config: DppPskConfiguration): string {
  const ssidLength = UTF8.encode(config.ssid).length;
  if (ssidLength < 1 || ssidLength > 32)
    throw new AirlockError('ERR_CONFIG', `the SSID has ${ssidLength} octets, not 1 to 32`);
  if (!/^[\x20-\x7e]{8,63}$/.test(config.passphrase))
    throw new AirlockError(
      'ERR_CONFIG',
      'the passphrase is not 8 to 63 printable ASCII characters',
    );
  return (
    `{"wi-fi_tech":"infra","discovery":{"ssid":${JSON.stringify(config.ssid)}},` +
    `"cred":{"akm":"psk","pass":${JSON.stringify(config.passphrase)}}}`
  );
}

/**
 * The Configuration Response to `request`: with `config`, Status OK and the `sta-psk`
 * object; without (nothing to give this Enrollee, or a netRole other than `sta`), Status
 * Configure Failure and only E-nonce.
 */
export function buildConfigurationResponse(
  session: DppSession,
  request: DppConfigurationRequest,
  config: DppPskConfiguration | undefined,
): GasInitialResponse {
  const give = config !== undefined && request.netRole === 'sta' && request.wifiTech === 'infra';
  const status = give ? DppStatus.OK : DppStatus.CONFIGURE_FAILURE;
  const clear: DppAttribute[] = [{ id: DppAttributeId.ENROLLEE_NONCE, value: request.eNonce }];
  if (give)
    clear.push({
      id: DppAttributeId.CONFIGURATION_OBJECT,
      value: UTF8.encode(pskConfigurationObject(config)),
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
