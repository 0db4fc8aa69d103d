/**
 * The Responder's side of the DPP Authentication protocol (Wi-Fi Easy Connect v2, section
 * 6.3). Responder-only authentication: the Initiator proves it scanned our bootstrapping key.
 * Mutual, when the Request's Initiator Bootstrapping Key Hash names a key we were given (we
 * scanned its URI): L.x joins the key schedule, and the Initiator proves it holds that key too.
 * An I-BKH we do not know is handed back to the caller, unverified. The Responder is the
 * Configurator (by default: an Initiator that offers to be the Enrollee) or, with `role:
 * 'enrollee'`, the Enrollee (an Initiator that offers to configure), as hostap's dpp_auth_req_rx
 * chooses: I-capabilities Enrollee gives R-capabilities Configurator and the reverse; both
 * bits, the role we were given. A role we cannot take is NOT_COMPATIBLE (`answerAuthRequest`
 * builds hostap's Response with that Status; `respondToAuthRequest` refuses, `roles`).
 *
 * Two steps, each a pure function: `respondToAuthRequest` reads the Authentication Request
 * and builds the Authentication Response; `checkAuthConfirm` reads the Authentication Confirm
 * and gives the keys of the session (ke, for the Configuration protocol). The attributes, their
 * order and the AES-SIV associated data are those of hostap's dpp_auth.c as wpa_supplicant 2.10
 * writes and reads them (checked against its frames in test/protocols/dpp-authentication.test.ts):
 *
 * - Request: R-BKH, I-BKH, PI, [Protocol Version], [Channel], Wrapped Data {I-nonce,
 *   I-capabilities}k1.
 * - Response: Status, R-BKH, [I-BKH, when mutual], PR, [Protocol Version, when the Initiator sent one of 2 or more],
 *   Wrapped Data {R-nonce, I-nonce, R-capabilities, Wrapped Data {R-auth}ke}k2.
 * - Confirm: Status, R-BKH, [I-BKH], Wrapped Data {I-auth}ke.
 *
 * Every refusal is ERR_DPP_AUTH (`details.reason`), or ERR_DPP_FRAME for attributes that are
 * not well-formed; the exchange then ends, with no answer. No message carries a key or nonce.
 */
import { equalBytes as equal } from '../../core/bytes.js';
import type { Crypto, EcKeyPair } from '../../core/ports.js';
import {
  DppAttributeId,
  encodeDppAttributes,
  findDppAttribute,
  type DppAttribute,
} from './attributes.js';
import { bootstrappingKeyHash, type DppCurve } from './bootstrapping-key.js';
import {
  CAPABILITY_CONFIGURATOR,
  CAPABILITY_ENROLLEE,
  DPP_VERSION,
  DppStatus,
  capabilityOf,
  dppFrameHeader,
  expectFrame,
  innerAttributes,
  malformed,
  refuse,
  required,
  spkiPoint,
  splitWrapped,
  type DppRole,
} from './common.js';
import {
  deriveK1,
  deriveK2,
  deriveKe,
  deriveLResponder,
  dppCurveParams,
  dppEcdh,
  initiatorAuthTag,
  protocolKeyPoint,
  responderAuthTag,
  unwrapDppData,
  wrapDppData,
} from './crypto.js';
import { DppFrameType, type DppActionFrame, type DppMessage } from './frames.js';

/** Our bootstrapping key: the one our URI carries, with its private scalar. */
export interface DppOwnBootstrap {
  curve: DppCurve;
  /** The private scalar, big-endian (as EcKeyPair has it). */
  privateKey: Uint8Array;
  /** The public point, uncompressed SEC1. */
  publicKey: Uint8Array;
  /** The DER SubjectPublicKeyInfo in our URI: its SHA-256 is the key hash Initiators send. */
  spkiDer: Uint8Array;
}

/** A peer's bootstrapping key we know (we scanned its URI): for mutual authentication. */
export interface DppPeerBootstrap {
  /** The DER SubjectPublicKeyInfo of its URI. */
  spkiDer: Uint8Array;
}

/** What the Responder keeps between the Response and the Confirm. Holds secrets: never log it. */
export interface DppAuthPending {
  readonly curve: DppCurve;
  readonly peerVersion: number;
  readonly ownHash: Uint8Array;
  readonly initiatorBootstrapHash?: Uint8Array;
  readonly iNonce: Uint8Array;
  readonly rNonce: Uint8Array;
  readonly PI: Uint8Array;
  readonly PR: Uint8Array;
  readonly BR: Uint8Array;
  /** The Initiator's bootstrapping key, uncompressed, when mutual. */
  readonly BI?: Uint8Array;
  readonly bk: Uint8Array;
  readonly ke: Uint8Array;
  /** Our role; absent: the Configurator. */
  readonly role?: DppRole;
  /** Our protocol key's private scalar, kept only when we are the Enrollee (its netAccessKey). */
  readonly pR?: Uint8Array;
}

/** An authenticated session: the Configurator's side of the Configuration protocol. Secret. */
export interface DppSession {
  readonly curve: DppCurve;
  readonly peerVersion: number;
  /** The key from which ke was expanded: the CSR challengePassword is expanded from it too. */
  readonly bk: Uint8Array;
  readonly ke: Uint8Array;
  /** The Enrollee's protocol key, uncompressed: the netAccessKey a Connector names. */
  readonly enrolleeProtocolKey: Uint8Array;
  /** Its private scalar: on the Enrollee's side only (its netAccessKey, the key of its CSR). */
  readonly enrolleeProtocolPrivateKey?: Uint8Array;
  /** The hash the Initiator sent of its own bootstrapping key; verified only when `mutual`. */
  readonly initiatorBootstrapHash?: Uint8Array;
  /** Mutual authentication: the Initiator proved it holds the key `initiatorBootstrapHash` names. */
  readonly mutual: boolean;
}

export interface AuthRequestOptions {
  /** Our protocol key for this exchange; by default a fresh one from the port (tests set it). */
  protocolKey?: EcKeyPair;
  /** R-nonce; by default random from the port (tests set it). */
  rNonce?: Uint8Array;
  /** Initiators' bootstrapping keys we know: one the Request names makes it mutual. */
  peers?: readonly DppPeerBootstrap[];
  /**
   * Answer only an Initiator whose I-BKH names one of `peers` (mutual authentication only):
   * any other is refused (`unknown-enrollee`), with no answer.
   */
  requirePeer?: boolean;
  /** Our role: the Configurator (default) or the Enrollee. */
  role?: DppRole;
}

/**
 * What an Authentication Request gets: the Response (then the Confirm is awaited), or, when the
 * Initiator asks for the role we take ourselves, hostap's Response with Status NOT_COMPATIBLE
 * (Status, R-BKH, [I-BKH], [Protocol Version], Wrapped Data {I-nonce, R-capabilities}k1), after
 * which the exchange ends.
 */
export type DppAuthAnswer =
  | { kind: 'response'; response: DppActionFrame; pending: DppAuthPending }
  | { kind: 'not-compatible'; response: DppActionFrame; initiatorCapabilities: number };

/**
 * Reads an Authentication Request addressed to `own` and builds our Authentication Response
 * (mutual when its I-BKH names one of `options.peers`).
 * Refused: another frame (`unexpected-frame`), a Responder Bootstrapping Key Hash that is not
 * ours (`not-for-us`), with `requirePeer`, an I-BKH that names none of `options.peers`
 * (`unknown-enrollee`; `unknown-configurator` when we are the Enrollee), a protocol key not on
 * our curve (`point`), Wrapped Data that does not open with k1 (`wrapped-data`), an Initiator
 * that does not offer the role we do not take: the Enrollee when we configure (the default),
 * the Configurator with `role: 'enrollee'` (`roles`).
 */
export function respondToAuthRequest(
  crypto: ResponderCrypto,
  own: DppOwnBootstrap,
  message: DppMessage,
  options: AuthRequestOptions = {},
): { response: DppActionFrame; pending: DppAuthPending } {
  const answer = answerAuthRequest(crypto, own, message, options);
  if (answer.kind === 'not-compatible')
    refuse(
      'roles',
      (options.role ?? 'configurator') === 'configurator'
        ? 'the Initiator does not offer to be the Enrollee; this Responder configures'
        : 'the Initiator does not offer to configure; this Responder is an Enrollee',
    );
  return answer;
}

type ResponderCrypto = Pick<
  Crypto,
  'ecdh' | 'ecGenerate' | 'ecPoint' | 'hkdfExtract' | 'hkdfExpand' | 'digest' | 'bytes' | 'sha256'
>;

/**
 * Reads an Authentication Request as `respondToAuthRequest` does, and answers a role we cannot
 * take with hostap's NOT_COMPATIBLE Response instead of refusing it. I-capabilities with
 * neither role bit are refused (`roles`), with no answer, as hostap does.
 */
export function answerAuthRequest(
  crypto: ResponderCrypto,
  own: DppOwnBootstrap,
  message: DppMessage,
  options: AuthRequestOptions = {},
): DppAuthAnswer {
  const role = options.role ?? 'configurator';
  const frame = expectFrame(message, DppFrameType.AUTHENTICATION_REQUEST);
  const { curve } = own;
  const params = dppCurveParams(curve);
  const attrs = frame.attributes;
  const ownHash = bootstrappingKeyHash(crypto, own.spkiDer);
  const rHash = required(attrs, DppAttributeId.RESPONDER_BOOTSTRAPPING_KEY_HASH, 'R-BKH', 32);
  if (!equal(rHash, ownHash))
    refuse('not-for-us', 'the Request names another Responder bootstrapping key');
  const iHash = findDppAttribute(attrs, DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH);
  if (iHash && iHash.length !== 32) malformed(`I-BKH has ${iHash.length} octets, not 32`);
  const peer = iHash
    ? options.peers?.find((p) => equal(bootstrappingKeyHash(crypto, p.spkiDer), iHash))
    : undefined;
  if (options.requirePeer && !peer)
    refuse(
      role === 'configurator' ? 'unknown-enrollee' : 'unknown-configurator',
      iHash
        ? `the Initiator bootstrapping key is not one this ${role === 'configurator' ? 'Configurator' : 'Enrollee'} was given`
        : 'the Initiator did not name its bootstrapping key (mutual authentication is required)',
    );
  const BI = peer ? spkiPoint(crypto, curve, peer.spkiDer) : undefined;
  if (peer && !BI) refuse('point', `the Initiator's known bootstrapping key is not on ${curve}`);
  const PI = protocolKeyPoint(
    curve,
    required(attrs, DppAttributeId.INITIATOR_PROTOCOL_KEY, 'the Initiator Protocol Key'),
  );
  const version = findDppAttribute(attrs, DppAttributeId.PROTOCOL_VERSION);
  if (version && (version.length !== 1 || version[0] === 0))
    malformed('the Protocol Version is not one octet of 1 or more');
  const peerVersion = version ? version[0]! : 1;

  // M = bR * PI; k1; {I-nonce, I-capabilities}k1.
  const { before, wrapped } = splitWrapped(attrs, 'the Authentication Request');
  const mx = dppEcdh(crypto, curve, own.privateKey, PI);
  const k1 = deriveK1(crypto, curve, mx);
  const inner = innerAttributes(
    unwrapDppData(k1, [dppFrameHeader(DppFrameType.AUTHENTICATION_REQUEST), before], wrapped),
    'the Authentication Request',
  );
  const iNonce = required(inner, DppAttributeId.INITIATOR_NONCE, 'I-nonce', params.nonceLength);
  const iCaps = required(inner, DppAttributeId.INITIATOR_CAPABILITIES, 'I-capabilities', 1)[0]!;
  const offered = iCaps & (CAPABILITY_ENROLLEE | CAPABILITY_CONFIGURATOR);
  if (offered === 0) refuse('roles', 'the I-capabilities name no role');
  // The Initiator must offer the role we do not take (both bits: it takes the other one).
  const peerRole = role === 'configurator' ? CAPABILITY_ENROLLEE : CAPABILITY_CONFIGURATOR;
  if ((offered & peerRole) === 0) {
    const head: DppAttribute[] = [
      { id: DppAttributeId.STATUS, value: Uint8Array.of(DppStatus.NOT_COMPATIBLE) },
      { id: DppAttributeId.RESPONDER_BOOTSTRAPPING_KEY_HASH, value: ownHash },
      ...(peer && iHash
        ? [{ id: DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH, value: iHash }]
        : []),
    ];
    if (peerVersion >= 2)
      head.push({ id: DppAttributeId.PROTOCOL_VERSION, value: Uint8Array.of(DPP_VERSION) });
    const wrappedStatus = wrapDppData(
      k1,
      [dppFrameHeader(DppFrameType.AUTHENTICATION_RESPONSE), encodeDppAttributes(head)],
      encodeDppAttributes([
        { id: DppAttributeId.INITIATOR_NONCE, value: iNonce },
        { id: DppAttributeId.RESPONDER_CAPABILITIES, value: Uint8Array.of(capabilityOf(role)) },
      ]),
    );
    return {
      kind: 'not-compatible',
      response: {
        kind: 'dpp',
        frameType: DppFrameType.AUTHENTICATION_RESPONSE,
        attributes: [...head, { id: DppAttributeId.WRAPPED_DATA, value: wrappedStatus }],
      },
      initiatorCapabilities: iCaps,
    };
  }

  // Our protocol key, N = pR * PI, k2, R-nonce, bk and ke, R-auth.
  const key = options.protocolKey ?? crypto.ecGenerate(params.ecCurve);
  if (key.curve !== params.ecCurve) refuse('point', `the protocol key is not on ${curve}`);
  const PR = key.publicKey;
  const nx = dppEcdh(crypto, curve, key.privateKey, PI);
  const k2 = deriveK2(crypto, curve, nx);
  const rNonce = options.rNonce ?? crypto.bytes(params.nonceLength);
  const lx = BI
    ? deriveLResponder(crypto, curve, { bR: own.privateKey, pR: key.privateKey, BI })
    : undefined;
  const { bk, ke } = deriveKe(crypto, curve, { iNonce, rNonce, mx, nx, ...(lx ? { lx } : {}) });
  const BR = own.publicKey;
  const rAuth = responderAuthTag(crypto, curve, {
    iNonce,
    rNonce,
    PI,
    PR,
    BR,
    ...(BI ? { BI } : {}),
  });

  const head: DppAttribute[] = [
    { id: DppAttributeId.STATUS, value: Uint8Array.of(DppStatus.OK) },
    { id: DppAttributeId.RESPONDER_BOOTSTRAPPING_KEY_HASH, value: ownHash },
    ...(BI && iHash ? [{ id: DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH, value: iHash }] : []),
    { id: DppAttributeId.RESPONDER_PROTOCOL_KEY, value: PR.slice(1) },
  ];
  if (peerVersion >= 2)
    head.push({ id: DppAttributeId.PROTOCOL_VERSION, value: Uint8Array.of(DPP_VERSION) });
  const plaintext = encodeDppAttributes([
    { id: DppAttributeId.RESPONDER_NONCE, value: rNonce },
    { id: DppAttributeId.INITIATOR_NONCE, value: iNonce },
    { id: DppAttributeId.RESPONDER_CAPABILITIES, value: Uint8Array.of(capabilityOf(role)) },
    {
      id: DppAttributeId.WRAPPED_DATA,
      value: wrapDppData(
        ke,
        [],
        encodeDppAttributes([{ id: DppAttributeId.RESPONDER_AUTHENTICATING_TAG, value: rAuth }]),
      ),
    },
  ]);
  const wrappedResponse = wrapDppData(
    k2,
    [dppFrameHeader(DppFrameType.AUTHENTICATION_RESPONSE), encodeDppAttributes(head)],
    plaintext,
  );
  return {
    kind: 'response',
    response: {
      kind: 'dpp',
      frameType: DppFrameType.AUTHENTICATION_RESPONSE,
      attributes: [...head, { id: DppAttributeId.WRAPPED_DATA, value: wrappedResponse }],
    },
    pending: {
      curve,
      peerVersion,
      ownHash,
      ...(iHash ? { initiatorBootstrapHash: iHash } : {}),
      iNonce,
      rNonce,
      PI,
      PR,
      BR,
      ...(BI ? { BI } : {}),
      bk,
      ke,
      ...(role === 'enrollee' ? { role, pR: key.privateKey } : {}),
    },
  };
}

/**
 * Reads the Authentication Confirm and checks I-auth. Refused: another frame
 * (`unexpected-frame`), a Status other than OK (`status`), another R-BKH (`not-for-us`),
 * Wrapped Data that does not open with ke (`wrapped-data`), an I-auth that is not the one
 * expected (`i-auth`).
 */
export function checkAuthConfirm(
  crypto: Pick<Crypto, 'digest'>,
  pending: DppAuthPending,
  message: DppMessage,
): DppSession {
  const frame = expectFrame(message, DppFrameType.AUTHENTICATION_CONFIRM);
  const attrs = frame.attributes;
  const status = required(attrs, DppAttributeId.STATUS, 'the DPP Status', 1)[0]!;
  if (status !== DppStatus.OK) refuse('status', `the Initiator answered status ${status}`);
  const rHash = required(attrs, DppAttributeId.RESPONDER_BOOTSTRAPPING_KEY_HASH, 'R-BKH', 32);
  if (!equal(rHash, pending.ownHash))
    refuse('not-for-us', 'the Confirm names another Responder bootstrapping key');
  const iHash = findDppAttribute(attrs, DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH);
  if (iHash && iHash.length !== 32) malformed(`I-BKH has ${iHash.length} octets, not 32`);
  // As hostap: an I-BKH in the Confirm must name the key this exchange authenticated mutually.
  if (iHash && !pending.BI)
    refuse('not-for-us', 'the Confirm names an Initiator bootstrapping key not authenticated');
  if (
    pending.BI &&
    !(iHash && pending.initiatorBootstrapHash && equal(iHash, pending.initiatorBootstrapHash))
  )
    refuse('not-for-us', 'the Confirm does not name the Initiator bootstrapping key');
  const { before, wrapped } = splitWrapped(attrs, 'the Authentication Confirm');
  const inner = innerAttributes(
    unwrapDppData(
      pending.ke,
      [dppFrameHeader(DppFrameType.AUTHENTICATION_CONFIRM), before],
      wrapped,
    ),
    'the Authentication Confirm',
  );
  const { hashLength } = dppCurveParams(pending.curve);
  const iAuth = required(inner, DppAttributeId.INITIATOR_AUTHENTICATING_TAG, 'I-auth', hashLength);
  const expected = initiatorAuthTag(crypto, pending.curve, pending);
  if (!equal(iAuth, expected)) refuse('i-auth', 'I-auth is not the one expected');
  return {
    curve: pending.curve,
    peerVersion: pending.peerVersion,
    bk: pending.bk,
    ke: pending.ke,
    // The Enrollee's protocol key: the Initiator's when we configure, ours (PR) when we enroll.
    ...(pending.role === 'enrollee'
      ? {
          enrolleeProtocolKey: pending.PR,
          ...(pending.pR ? { enrolleeProtocolPrivateKey: pending.pR } : {}),
        }
      : { enrolleeProtocolKey: pending.PI }),
    mutual: pending.BI !== undefined,
    ...(pending.initiatorBootstrapHash
      ? { initiatorBootstrapHash: pending.initiatorBootstrapHash }
      : {}),
  };
}
