/**
 * The Initiator's side of the DPP Authentication protocol (Wi-Fi Easy Connect v2, section
 * 6.3): the mirror of authentication.ts. By default the Initiator is an Enrollee that scanned a
 * Configurator's URI; with `role: 'configurator'` it is a Configurator that scanned an
 * Enrollee's URI (I-capabilities Configurator; the Responder must answer R-capabilities
 * Enrollee, as hostap's dpp_auth_resp_rx requires: exactly the other role).
 *
 * - `initiateAuth` builds the Authentication Request: R-BKH (SHA-256 of the Configurator's URI
 *   key), I-BKH (of our own bootstrapping key), PI, Protocol Version 2, Wrapped Data {I-nonce,
 *   I-capabilities = our role}k1, k1 from M = pI * BR. As hostap's dpp_auth_init does, an
 *   Initiator without a bootstrapping key of its own still sends an I-BKH: the hash of a key
 *   made for this exchange (the Responder cannot know it, so authentication is responder-only).
 * - `readAuthResponse` reads the Authentication Response (Status OK, our R-BKH, [I-BKH: the
 *   Responder asks for mutual authentication], PR on our curve, Wrapped Data {R-nonce, I-nonce,
 *   R-capabilities, {R-auth}ke}k2), checks I-nonce and R-auth, and builds the Authentication
 *   Confirm: Status OK, R-BKH, [I-BKH when mutual], Wrapped Data {I-auth}ke.
 *
 * The attributes, their order and the AES-SIV associated data are those wpa_supplicant 2.10's
 * Initiator writes (checked octet for octet in test/protocols/dpp-initiation.test.ts). Every
 * refusal is ERR_DPP_AUTH (`details.reason`) or ERR_DPP_FRAME. No message carries a key or nonce.
 */
import { equalBytes as equal } from '../../core/bytes.js';
import type { Crypto, EcKeyPair } from '../../core/ports.js';
import {
  DppAttributeId,
  encodeDppAttributes,
  findDppAttribute,
  type DppAttribute,
} from './attributes.js';
import type { DppOwnBootstrap, DppSession } from './authentication.js';
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
  bootstrappingKeyHash,
  encodeBootstrappingKey,
  type BootstrappingKey,
  type DppCurve,
} from './bootstrapping-key.js';
import {
  deriveK1,
  deriveK2,
  deriveKe,
  deriveLInitiator,
  dppCurveParams,
  dppEcdh,
  initiatorAuthTag,
  protocolKeyPoint,
  responderAuthTag,
  unwrapDppData,
  wrapDppData,
} from './crypto.js';
import { DppFrameType, type DppActionFrame, type DppMessage } from './frames.js';

type InitiatorCrypto = Pick<
  Crypto,
  'ecdh' | 'ecGenerate' | 'ecPoint' | 'hkdfExtract' | 'hkdfExpand' | 'digest' | 'bytes' | 'sha256'
>;

export interface InitiateAuthOptions {
  /**
   * Our bootstrapping key, when the Configurator may know it (it scanned our URI): the Responder
   * may then ask for mutual authentication. Must be on the Configurator's curve.
   */
  own?: DppOwnBootstrap;
  /** Our protocol key for this exchange; by default a fresh one from the port (tests set it). */
  protocolKey?: EcKeyPair;
  /** I-nonce; by default random from the port (tests set it). */
  iNonce?: Uint8Array;
  /**
   * Without `own`: the I-BKH to send in place of the hash of a key made for this exchange
   * (tests: the one wpa_supplicant generated). Never proves anything.
   */
  initiatorBootstrapHash?: Uint8Array;
  /** Our role: the Enrollee (default) or the Configurator. */
  role?: DppRole;
}

/** What the Initiator keeps between the Request and the Response. Holds secrets: never log it. */
export interface DppInitiation {
  readonly curve: DppCurve;
  readonly peerHash: Uint8Array;
  /** The Configurator's bootstrapping key, uncompressed. */
  readonly BR: Uint8Array;
  readonly ownHash: Uint8Array;
  /** Our bootstrapping private key and point, when `own` was given. */
  readonly own?: { bI: Uint8Array; BI: Uint8Array };
  readonly pI: Uint8Array;
  readonly PI: Uint8Array;
  readonly iNonce: Uint8Array;
  readonly mx: Uint8Array;
  /** Our role; absent: the Enrollee. */
  readonly role?: DppRole;
}

/**
 * The Authentication Request to the Responder whose URI key is `peer` (a Configurator's, or with
 * `role: 'configurator'` an Enrollee's). Refused: a key we cannot use (`point`), our own key on
 * another curve (`curve`).
 */
export function initiateAuth(
  crypto: InitiatorCrypto,
  peer: BootstrappingKey,
  options: InitiateAuthOptions = {},
): { request: DppActionFrame; initiation: DppInitiation } {
  const { curve } = peer;
  const params = dppCurveParams(curve);
  const BR = spkiPoint(crypto, curve, peer.spkiDer);
  if (!BR) refuse('point', `the Responder's bootstrapping key is not a point of ${curve}`);
  const peerHash = bootstrappingKeyHash(crypto, peer.spkiDer);
  if (options.own && options.own.curve !== curve)
    refuse(
      'curve',
      `our bootstrapping key is on ${options.own.curve}, the Responder's on ${curve}`,
    );
  let ownHash: Uint8Array;
  if (options.own) ownHash = bootstrappingKeyHash(crypto, options.own.spkiDer);
  else if (options.initiatorBootstrapHash) {
    if (options.initiatorBootstrapHash.length !== 32) malformed('the I-BKH given is not 32 octets');
    ownHash = options.initiatorBootstrapHash;
  } else {
    const made = crypto.ecGenerate(params.ecCurve);
    ownHash = bootstrappingKeyHash(crypto, encodeBootstrappingKey(curve, made.publicKey).spkiDer);
  }
  const key = options.protocolKey ?? crypto.ecGenerate(params.ecCurve);
  if (key.curve !== params.ecCurve) refuse('point', `the protocol key is not on ${curve}`);
  const iNonce = options.iNonce ?? crypto.bytes(params.nonceLength);
  if (iNonce.length !== params.nonceLength)
    refuse('nonce', `I-nonce has ${iNonce.length} octets, not ${params.nonceLength}`);

  // M = pI * BR; k1; {I-nonce, I-capabilities}k1.
  const mx = dppEcdh(crypto, curve, key.privateKey, BR);
  const k1 = deriveK1(crypto, curve, mx);
  const head: DppAttribute[] = [
    { id: DppAttributeId.RESPONDER_BOOTSTRAPPING_KEY_HASH, value: peerHash },
    { id: DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH, value: ownHash },
    { id: DppAttributeId.INITIATOR_PROTOCOL_KEY, value: key.publicKey.slice(1) },
    { id: DppAttributeId.PROTOCOL_VERSION, value: Uint8Array.of(DPP_VERSION) },
  ];
  const wrapped = wrapDppData(
    k1,
    [dppFrameHeader(DppFrameType.AUTHENTICATION_REQUEST), encodeDppAttributes(head)],
    encodeDppAttributes([
      { id: DppAttributeId.INITIATOR_NONCE, value: iNonce },
      {
        id: DppAttributeId.INITIATOR_CAPABILITIES,
        value: Uint8Array.of(capabilityOf(options.role ?? 'enrollee')),
      },
    ]),
  );
  return {
    request: {
      kind: 'dpp',
      frameType: DppFrameType.AUTHENTICATION_REQUEST,
      attributes: [...head, { id: DppAttributeId.WRAPPED_DATA, value: wrapped }],
    },
    initiation: {
      curve,
      peerHash,
      BR,
      ownHash,
      ...(options.own ? { own: { bI: options.own.privateKey, BI: options.own.publicKey } } : {}),
      pI: key.privateKey,
      PI: key.publicKey,
      iNonce,
      mx,
      ...(options.role === 'configurator' ? { role: options.role } : {}),
    },
  };
}

/**
 * Reads the Authentication Response and builds the Authentication Confirm; gives the session
 * (ke) for the Configuration protocol. Refused: another frame (`unexpected-frame`), a Status
 * NOT_COMPATIBLE (`not-compatible`, once its {I-nonce, R-capabilities}k1 opened and carried our
 * I-nonce), another Status than OK (`status`), another R-BKH (`not-for-us`), an I-BKH that is not ours or asks for
 * a key we do not hold (`mutual`), a key not on our curve (`point`), Wrapped Data that does not
 * open (`wrapped-data`), another I-nonce (`nonce`), a Responder that does not take exactly the
 * other role (`roles`: hostap refuses R-capabilities with both bits too), an R-auth that is not the one expected (`r-auth`).
 */
export function readAuthResponse(
  crypto: InitiatorCrypto,
  initiation: DppInitiation,
  message: DppMessage,
): { confirm: DppActionFrame; session: DppSession } {
  const frame = expectFrame(message, DppFrameType.AUTHENTICATION_RESPONSE);
  const { curve } = initiation;
  const params = dppCurveParams(curve);
  const attrs = frame.attributes;
  const role = initiation.role ?? 'enrollee';
  const status = required(attrs, DppAttributeId.STATUS, 'the DPP Status', 1)[0]!;
  if (status === DppStatus.NOT_COMPATIBLE) notCompatible(crypto, initiation, attrs);
  if (status !== DppStatus.OK) refuse('status', `the Responder answered status ${status}`);
  const rHash = required(attrs, DppAttributeId.RESPONDER_BOOTSTRAPPING_KEY_HASH, 'R-BKH', 32);
  if (!equal(rHash, initiation.peerHash))
    refuse('not-for-us', 'the Response names another Responder bootstrapping key');
  const iHash = findDppAttribute(attrs, DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH);
  if (iHash && iHash.length !== 32) malformed(`I-BKH has ${iHash.length} octets, not 32`);
  if (iHash && !equal(iHash, initiation.ownHash))
    refuse('mutual', 'the Response names another Initiator bootstrapping key');
  if (iHash && !initiation.own)
    refuse('mutual', 'the Responder asks for mutual authentication with a key we do not hold');
  const mutual = iHash !== undefined;
  const PR = protocolKeyPoint(
    curve,
    required(attrs, DppAttributeId.RESPONDER_PROTOCOL_KEY, 'the Responder Protocol Key'),
  );
  const version = findDppAttribute(attrs, DppAttributeId.PROTOCOL_VERSION);
  if (version && (version.length !== 1 || version[0] === 0))
    malformed('the Protocol Version is not one octet of 1 or more');
  const peerVersion = version ? version[0]! : 1;

  // N = pI * PR; k2; {R-nonce, I-nonce, R-capabilities, {R-auth}ke}k2.
  const nx = dppEcdh(crypto, curve, initiation.pI, PR);
  const k2 = deriveK2(crypto, curve, nx);
  const { before, wrapped } = splitWrapped(attrs, 'the Authentication Response');
  const inner = innerAttributes(
    unwrapDppData(k2, [dppFrameHeader(DppFrameType.AUTHENTICATION_RESPONSE), before], wrapped),
    'the Authentication Response',
  );
  const rNonce = required(inner, DppAttributeId.RESPONDER_NONCE, 'R-nonce', params.nonceLength);
  const iNonce = required(inner, DppAttributeId.INITIATOR_NONCE, 'I-nonce', params.nonceLength);
  if (!equal(iNonce, initiation.iNonce)) refuse('nonce', 'the Response carries another I-nonce');
  const rCaps = required(inner, DppAttributeId.RESPONDER_CAPABILITIES, 'R-capabilities', 1)[0]!;
  const wanted = role === 'enrollee' ? CAPABILITY_CONFIGURATOR : CAPABILITY_ENROLLEE;
  if ((rCaps & (CAPABILITY_ENROLLEE | CAPABILITY_CONFIGURATOR)) !== wanted)
    refuse(
      'roles',
      role === 'enrollee'
        ? 'the Responder does not take the Configurator role; we are an Enrollee'
        : 'the Responder does not take the Enrollee role; we configure',
    );
  const innerWrapped = required(inner, DppAttributeId.WRAPPED_DATA, '{R-auth}ke');

  const BI = mutual ? initiation.own!.BI : undefined;
  const lx = mutual
    ? deriveLInitiator(crypto, curve, { bI: initiation.own!.bI, BR: initiation.BR, PR })
    : undefined;
  const { bk, ke } = deriveKe(crypto, curve, {
    iNonce,
    rNonce,
    mx: initiation.mx,
    nx,
    ...(lx ? { lx } : {}),
  });
  const tagInput = {
    iNonce,
    rNonce,
    PI: initiation.PI,
    PR,
    BR: initiation.BR,
    ...(BI ? { BI } : {}),
  };
  const rAuthInner = innerAttributes(unwrapDppData(ke, [], innerWrapped), '{R-auth}ke');
  const rAuth = required(
    rAuthInner,
    DppAttributeId.RESPONDER_AUTHENTICATING_TAG,
    'R-auth',
    params.hashLength,
  );
  if (!equal(rAuth, responderAuthTag(crypto, curve, tagInput)))
    refuse('r-auth', 'R-auth is not the one expected');

  const head: DppAttribute[] = [
    { id: DppAttributeId.STATUS, value: Uint8Array.of(DppStatus.OK) },
    { id: DppAttributeId.RESPONDER_BOOTSTRAPPING_KEY_HASH, value: initiation.peerHash },
    ...(mutual
      ? [{ id: DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH, value: initiation.ownHash }]
      : []),
  ];
  const iAuth = initiatorAuthTag(crypto, curve, tagInput);
  const wrappedConfirm = wrapDppData(
    ke,
    [dppFrameHeader(DppFrameType.AUTHENTICATION_CONFIRM), encodeDppAttributes(head)],
    encodeDppAttributes([{ id: DppAttributeId.INITIATOR_AUTHENTICATING_TAG, value: iAuth }]),
  );
  return {
    confirm: {
      kind: 'dpp',
      frameType: DppFrameType.AUTHENTICATION_CONFIRM,
      attributes: [...head, { id: DppAttributeId.WRAPPED_DATA, value: wrappedConfirm }],
    },
    session: {
      curve,
      peerVersion,
      bk,
      ke,
      // The Enrollee's protocol key: ours when we enroll, the Responder's (PR) when we configure.
      ...(role === 'enrollee'
        ? { enrolleeProtocolKey: initiation.PI, enrolleeProtocolPrivateKey: initiation.pI }
        : { enrolleeProtocolKey: PR }),
      mutual,
      initiatorBootstrapHash: initiation.ownHash,
    },
  };
}

/**
 * A Response with Status NOT_COMPATIBLE: the Responder will not take the role we asked of it.
 * As hostap's dpp_auth_resp_rx_status: it must name the key we initiated to and open with k1 to
 * our I-nonce; then the exchange ends (`not-compatible`), R-capabilities named in the message.
 */
function notCompatible(
  crypto: InitiatorCrypto,
  initiation: DppInitiation,
  attrs: readonly DppAttribute[],
): never {
  const rHash = required(attrs, DppAttributeId.RESPONDER_BOOTSTRAPPING_KEY_HASH, 'R-BKH', 32);
  if (!equal(rHash, initiation.peerHash))
    refuse('not-for-us', 'the Response names another Responder bootstrapping key');
  const { before, wrapped } = splitWrapped(attrs, 'the Authentication Response');
  const k1 = deriveK1(crypto, initiation.curve, initiation.mx);
  const inner = innerAttributes(
    unwrapDppData(k1, [dppFrameHeader(DppFrameType.AUTHENTICATION_RESPONSE), before], wrapped),
    'the Authentication Response',
  );
  const { nonceLength } = dppCurveParams(initiation.curve);
  const iNonce = required(inner, DppAttributeId.INITIATOR_NONCE, 'I-nonce', nonceLength);
  if (!equal(iNonce, initiation.iNonce)) refuse('nonce', 'the Response carries another I-nonce');
  const rCaps = required(inner, DppAttributeId.RESPONDER_CAPABILITIES, 'R-capabilities', 1)[0]!;
  refuse(
    'not-compatible',
    `the Responder will not take the role asked (R-capabilities 0x${rCaps
      .toString(16)
      .padStart(2, '0')})`,
  );
}
