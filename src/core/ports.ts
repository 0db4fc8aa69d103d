/**
 * Ports: what the pure layers need from the outside world. Adapters implement them;
 * tests may fix the clock (many real certificates have expired) or the randomness.
 */

export interface Clock {
  now(): Date;
}

export interface Random {
  bytes(length: number): Uint8Array;
}

/** An opaque private key. Only the crypto adapter can see inside. */
export interface PrivateKeyHandle {
  readonly kind: 'private-key';
  /** DER SubjectPublicKeyInfo of the matching public key. */
  readonly spki: Uint8Array;
}

/** The hash functions the signed formats name (CMS digestAlgorithm, COSE alg). */
export type HashName = 'sha256' | 'sha384' | 'sha512';

/**
 * The cryptographic primitives the protocols need. Signatures are ECDSA P-256 with SHA-256
 * in the IEEE P1363 form (r || s) that JWS uses, unless `der` is asked for.
 */
export interface Crypto extends Random {
  sha256(data: Uint8Array): Uint8Array;
  signEs256(key: PrivateKeyHandle, data: Uint8Array): Uint8Array;
  /** `signature` is r || s (JWS) unless `encoding` is 'der' (X.509, PKCS#10, CMS). */
  verifyEs256(
    spki: Uint8Array,
    data: Uint8Array,
    signature: Uint8Array,
    encoding?: 'p1363' | 'der',
  ): boolean;
  /**
   * True when `certDer` carries a valid signature by the key `issuerSpki`, whatever its
   * algorithm (RSA included): the general path, for certificates not signed with ES256.
   */
  verifyCertificateSignature(certDer: Uint8Array, issuerSpki: Uint8Array): boolean;
  digest(hash: HashName, data: Uint8Array): Uint8Array;
  /**
   * The general signature check, for artifacts written by others (CMS and COSE vouchers):
   * ECDSA on any named curve the platform knows, or RSA PKCS#1 v1.5, with `hash` over `data`.
   * An ECDSA `signature` is DER (CMS) or r || s (COSE, JWS) as `encoding` says; for RSA the
   * encoding is ignored. ECDSA signatures are DER unless `encoding` is 'p1363'. False for a key it cannot use.
   */
  verifySignature(
    spki: Uint8Array,
    hash: HashName,
    data: Uint8Array,
    signature: Uint8Array,
    encoding?: 'der' | 'p1363',
  ): boolean;
  /**
   * Key agreement (Wi-Fi Easy Connect). A fresh key pair on `curve`: the private scalar and
   * the public point, raw (see EcKeyPair).
   */
  ecGenerate(curve: EcCurve): EcKeyPair;
  /**
   * The uncompressed form (04 || x || y) of `point` (compressed or uncompressed SEC1), or
   * undefined when it is not a point of `curve`.
   */
  ecPoint(curve: EcCurve, point: Uint8Array): Uint8Array | undefined;
  /**
   * ECDH: the x-coordinate of `privateKey` times `peerPoint`, big-endian, as long as the
   * curve's field (66 bytes on P-521). Undefined when the peer point is not on the curve (or
   * is malformed), or the scalar is not in 1..n-1: never a secret from an invalid point.
   */
  ecdh(curve: EcCurve, privateKey: Uint8Array, peerPoint: Uint8Array): Uint8Array | undefined;
  /** HMAC (RFC 2104) with `hash`. */
  hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Uint8Array;
  /** HKDF-Extract (RFC 5869 section 2.2): HMAC-Hash(salt, ikm). An empty salt is HashLen zeros. */
  hkdfExtract(hash: HashName, salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  /** HKDF-Expand (RFC 5869 section 2.3): `length` bytes (at most 255 HashLen) from `prk` and `info`. */
  hkdfExpand(hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;
}

/** The curves Wi-Fi Easy Connect keys may use: the six that hostap (wpa_supplicant) supports. */
export type EcCurve =
  'P-256' | 'P-384' | 'P-521' | 'brainpoolP256r1' | 'brainpoolP384r1' | 'brainpoolP512r1';

/**
 * A raw elliptic-curve key pair for key agreement: DPP's protocol keys are made per exchange
 * and thrown away, so they are bytes, not key-store handles.
 */
export interface EcKeyPair {
  readonly curve: EcCurve;
  /** The private scalar, big-endian, left-padded to the length of the curve's order. */
  readonly privateKey: Uint8Array;
  /** The public point, uncompressed SEC1: 04 || x || y. */
  readonly publicKey: Uint8Array;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * The device's secure store (report section 5.1.1, step 1): where birth and onboarding
 * credentials live. A file adapter encrypts each entry; a hardware element can replace it.
 */
export interface SecureStore {
  read(name: string): Promise<Uint8Array | undefined>;
  write(name: string, data: Uint8Array): Promise<void>;
  erase(name: string): Promise<void>;
  names(): Promise<string[]>;
}

/**
 * Where private keys are made and kept: generation, import and export, behind one interface,
 * so that a PKCS#11 token or a TPM can hold the keys later without touching a role or a step.
 * Keys leave it only as opaque handles; signing with a handle is the Crypto port's
 * (`signEs256`), which every protocol already calls. Asynchronous because a hardware store
 * answers over a bus. Software keys (src/adapters/crypto/software-key-store.ts) are the
 * implementation today.
 */
export interface KeyStore {
  /** A fresh P-256 key. */
  generateP256(): Promise<PrivateKeyHandle>;
  /** A key from its PKCS#8 DER (birth credentials, sealed storage); ERR_KEY_MALFORMED if it is not one. */
  importPkcs8(der: Uint8Array): Promise<PrivateKeyHandle>;
  /**
   * The PKCS#8 DER of a key, for sealed storage (and, for software keys, a TLS stack that
   * wants the key itself). A hardware store that never lets a key out may refuse.
   */
  exportPkcs8(key: PrivateKeyHandle): Promise<Uint8Array>;
}

/** A request on a pledge channel: a body (text), its media type, and the media type wanted back. */
export interface ChannelRequest {
  body?: string;
  contentType?: string;
  accept?: string;
  /** Further header fields (names are tokens; none that frames the request). */
  headers?: Readonly<Record<string, string>>;
}

/** A 2xx answer on a pledge channel. */
export interface ChannelResponse {
  status: number;
  contentType: string;
  body: string;
  /** The answer's header fields by lower-case name, where the channel has them. */
  headers?: ReadonlyMap<string, string>;
}

/**
 * The pledge's one channel to the registrar (RFC 8995 section 5.1): the TLS connection today
 * (src/adapters/http/tls-pledge-channel.ts), DPP's transport later. It never reconnects
 * silently: everything one onboarding sends goes over this one channel, whose peer
 * certificate the pledge judges itself and whose keying material binds its proofs to it.
 */
export interface PledgeChannel {
  /** The peer's certificate (DER) as presented: provisional, not yet trusted, until the pledge has judged it. */
  peerCertificate(): Uint8Array;
  /** Keying material exported from the channel (TLS exporter, RFC 8446 section 7.5), for channel binding. */
  exporter(label: string, length: number): Uint8Array;
  /**
   * One request, after those made before it. An answer other than 2xx is thrown: the peer's
   * AirlockError when it sent a problem with a code, else ERR_PEER_REFUSED; a failed channel
   * is ERR_TRANSPORT.
   */
  call(method: 'GET' | 'POST', path: string, request?: ChannelRequest): Promise<ChannelResponse>;
  close(): Promise<void>;
}

/** Deadlines and sizes that keep a stalled or hostile peer from hanging the pledge. */
export interface ChannelLimits {
  /** Connect plus handshake, in milliseconds. */
  handshakeTimeoutMs?: number;
  /** One request, from sending it to the last byte of its answer, in milliseconds. */
  requestTimeoutMs?: number;
  /** Largest answer body accepted, in bytes. */
  maxResponseBytes?: number;
}

export interface PledgeConnectOptions {
  /** The pledge's certificate chain (DER, its own certificate first) and the handle of its key. */
  credentials: { chain: readonly Uint8Array[]; key: PrivateKeyHandle };
  /**
   * Anchors the peer must chain to (DER). Without them the channel is provisional (RFC 8995
   * section 5.1) and the pledge must judge `peerCertificate()` before trusting anything.
   */
  trustAnchors?: readonly Uint8Array[];
  limits?: ChannelLimits;
}

/**
 * Measured boot (NIST IR 8350 Figure 9 step 1): what the device's boot measured of the
 * firmware it runs. A real device reads it from its root of trust for measurement; Airlock's
 * agent hashes the image file it was given (src/adapters/device/measured-boot.ts), afresh at
 * every onboarding, so a changed byte changes the measurement.
 */
export interface MeasuredBoot {
  measure(): Promise<FirmwareMeasurement>;
}

export interface FirmwareMeasurement {
  /** The firmware's name and version, as its image says. */
  name: string;
  version: string;
  /** base64url SHA-256 of the image. */
  digest: string;
  /** RFC 9711 dbgstat: whether debug is enabled. */
  debug:
    | 'enabled'
    | 'disabled'
    | 'disabled-since-boot'
    | 'disabled-permanently'
    | 'disabled-fully-and-permanently';
}

/** Opens a pledge channel to `url`. */
export type PledgeConnector = (url: string, opts: PledgeConnectOptions) => Promise<PledgeChannel>;
