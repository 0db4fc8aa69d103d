/**
 * What the DPP protocol modules share (authentication.ts, initiation.ts, configuration.ts,
 * enrollment.ts, crypto.ts): their refusals (ERR_DPP_AUTH with `details.reason`, ERR_DPP_FRAME),
 * DPP Status codes, the Capabilities octet and the roles, and reading DPP frames: the frame header
 * AES-SIV takes as associated data, Wrapped Data and the attributes inside it, required
 * attributes, the expected frame, a bootstrapping key's point. Pure: no Node.
 */
import { concatBytes } from '../../core/bytes.js';
import { AirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import { DerReader, Tag } from '../x509/der.js';
import {
  DppAttributeId,
  decodeDppAttributes,
  encodeDppAttributes,
  findDppAttribute,
  type DppAttribute,
} from './attributes.js';
import { dppCurveParams, type DppCurve } from './curves.js';
import {
  DPP_CRYPTO_SUITE,
  DPP_OUI_TYPE,
  WFA_OUI,
  dppFrameTypeName,
  type DppActionFrame,
  type DppMessage,
} from './frames.js';

/** Refuses, ERR_DPP_AUTH with `details.reason`: the exchange ends with no answer. */
export function refuse(reason: string, detail: string): never {
  throw new AirlockError('ERR_DPP_AUTH', detail, { details: { reason } });
}

/** Refuses, ERR_DPP_FRAME: what a frame carries is not well-formed. */
export function malformed(detail: string): never {
  throw new AirlockError('ERR_DPP_FRAME', detail);
}

/** The first AES-SIV associated data of a DPP frame: OUI, OUI type, Crypto Suite, frame type. */
export function dppFrameHeader(frameType: number): Uint8Array {
  return concatBytes(WFA_OUI, Uint8Array.of(DPP_OUI_TYPE, DPP_CRYPTO_SUITE, frameType));
}

/** The attributes before Wrapped Data, and Wrapped Data's value; refuses a frame without it. */
export function splitWrapped(
  attributes: readonly DppAttribute[],
  what: string,
): { before: Uint8Array; wrapped: Uint8Array } {
  const last = attributes.at(-1);
  if (!last || last.id !== DppAttributeId.WRAPPED_DATA) malformed(`${what}: no Wrapped Data`);
  return { before: encodeDppAttributes(attributes.slice(0, -1)), wrapped: last.value };
}

/** Decodes the plaintext of Wrapped Data (whole attributes, nothing else). */
export function innerAttributes(plaintext: Uint8Array, what: string): DppAttribute[] {
  try {
    return decodeDppAttributes(plaintext);
  } catch (e) {
    throw new AirlockError('ERR_DPP_FRAME', `${what}: the Wrapped Data is not attributes`, {
      cause: e,
    });
  }
}

/** The value of a required attribute, of `length` octets when given. */
export function required(
  attributes: readonly DppAttribute[],
  id: number,
  what: string,
  length?: number,
): Uint8Array {
  const v = findDppAttribute(attributes, id);
  if (!v) malformed(`${what} is missing`);
  if (length !== undefined && v.length !== length)
    malformed(`${what} has ${v.length} octets, not ${length}`);
  return v;
}

/** The message, when it is a DPP frame of `frameType`; else refused, `unexpected-frame`. */
export function expectFrame(message: DppMessage, frameType: number): DppActionFrame {
  if (message.kind !== 'dpp' || message.frameType !== frameType)
    refuse(
      'unexpected-frame',
      `expected ${dppFrameTypeName(frameType)}, got ${
        message.kind === 'dpp' ? dppFrameTypeName(message.frameType) : message.kind
      }`,
    );
  return message;
}

/** DPP Status codes (Wi-Fi Easy Connect's table of them; hostap's enum dpp_status_error) this code uses. */
export const DppStatus = {
  OK: 0,
  NOT_COMPATIBLE: 1,
  AUTH_FAILURE: 2,
  /** The Configurator will not configure this Enrollee. */
  CONFIGURE_FAILURE: 5,
  /** The Enrollee cannot use the configuration it was given (its Configuration Result). */
  CONFIG_REJECTED: 9,
  /** 10 is NO_AP: the Enrollee found no AP of the network (Connection Status). */
  NO_AP: 10,
  /** The Configurator needs a certificate request (sta-dot1x): the Enrollee asks again with one. */
  CSR_NEEDED: 12,
  /** The certificate request was not valid. */
  CSR_BAD: 13,
} as const;

/** The Capabilities octet: bit 0 Enrollee, bit 1 Configurator. */
export const CAPABILITY_ENROLLEE = 0x01;
export const CAPABILITY_CONFIGURATOR = 0x02;

/** The DPP version spoken here (R2): a Responder sends it when the Initiator speaks 2 or more. */
export const DPP_VERSION = 2;

/** The role a party takes in the Configuration protocol. */
export type DppRole = 'configurator' | 'enrollee';

/** The Capabilities octet of a role. */
export function capabilityOf(role: DppRole): number {
  return role === 'configurator' ? CAPABILITY_CONFIGURATOR : CAPABILITY_ENROLLEE;
}

/** The public point of a SubjectPublicKeyInfo, uncompressed, when it is a point of `curve`. */
export function spkiPoint(
  crypto: Pick<Crypto, 'ecPoint'>,
  curve: DppCurve,
  spkiDer: Uint8Array,
): Uint8Array | undefined {
  try {
    const spki = new DerReader(spkiDer, 'ERR_DPP_URI').enter(Tag.SEQUENCE);
    spki.enter(Tag.SEQUENCE);
    const bits = spki.read(Tag.BIT_STRING).value;
    return crypto.ecPoint(dppCurveParams(curve).ecCurve, bits.subarray(1));
  } catch {
    return undefined;
  }
}
