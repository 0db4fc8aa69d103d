/**
 * What the registrar's steps are given: the request's channel, and ports for everything that
 * is not theirs to do (TLS, HTTP to the MASA, signing with the CA's key, sealing secrets,
 * logging). The network role (src/roles/network/registrar.ts) builds a RegistrarContext from
 * its adapters; a test builds one from an in-memory store and a fake channel.
 */
import type { Clock, Crypto, PrivateKeyHandle } from '../../core/ports.js';
import type { NetworkRepositories, NetworkStore } from '../../core/store.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import type { EncodedVoucher, VoucherMediaType } from '../../protocols/voucher/codec.js';
import type { MinimumAssertion } from '../../protocols/voucher/voucher.js';
import type { AuditLog } from '../../protocols/brski/audit-log.js';
import type { EarClaims } from '../../protocols/ear/claims.js';

/** What a handler knows of the request's connection. */
export interface Channel {
  clientCert: Certificate | undefined;
  exporter(label: string, length: number): Uint8Array;
  peer: string;
  /** The request's connection: what was issued on it is remembered for as long as it lives. */
  connection: object;
  /** Told the device's serial number once a request of that device has succeeded (for the request log). */
  identified?(serial: string): void;
}

/** The network bootstrapping credentials (report section 5.1.2): the domain CA and the registrar's certificate and key. */
export interface RegistrarPki {
  domainCa: { readonly cert: Certificate };
  registrar: { readonly cert: Certificate; readonly key: PrivateKeyHandle };
}

/**
 * A trusted manufacturer as the role knows it (an Airlock trust bundle, a foreign trust
 * file): opaque to the steps, which only hand it back to the ports.
 */
export type ManufacturerRef = object;

/** A birth certificate verified to its manufacturer, with what the registrar reads from it. */
export interface IdentifiedDevice {
  trust: ManufacturerRef;
  serial: string;
  masaUrl: string | undefined;
}

/** The manufacturers this network trusts (src/roles/network/manufacturers.ts). */
export interface Manufacturers {
  /** Verifies the birth certificate to a trusted IDevID CA at `at`; ERR_IDEVID_UNTRUSTED otherwise. */
  identify(idevid: Certificate, at: Date): IdentifiedDevice;
  /** A birth certificate verified before (the session holds its bytes), found again by issuer name. */
  identifyVerified(idevid: Certificate, at: Date): IdentifiedDevice;
  /** The anchors a voucher for one of this manufacturer's devices must chain to. */
  voucherAnchors(trust: ManufacturerRef): readonly Certificate[];
  /** The manufacturer as a party (its id is what policies and attestation results name). */
  partyOf(trust: ManufacturerRef): { id: string; name: string };
}

/** The device's MASA (RFC 8995 sections 5.4 to 5.8), reached as its manufacturer's trust says. */
export interface MasaPort {
  /** The voucher for a registrar voucher request, in `format`; ERR_VOUCHER_FORMAT when the client cannot carry it. */
  voucher(
    masaUrl: string,
    request: EncodedVoucher,
    format: VoucherMediaType,
    trust: ManufacturerRef,
  ): Promise<EncodedVoucher>;
  /** The device's audit log for the request sent for it; undefined when this client cannot ask for one. */
  auditLog(
    masaUrl: string,
    request: EncodedVoucher,
    trust: ManufacturerRef,
  ): Promise<AuditLog | undefined>;
}

/** Where step 6's declaration chain comes from: installed, or fetched in real time (src/roles/network/declarations.ts). */
export interface DeclarationSource {
  chainFor(serial: string, masaUrl: string | undefined, trust: ManufacturerRef): Promise<string[]>;
}

/**
 * The domain CA's issuing side (src/roles/network/credentials.ts): it signs LDevIDs and seals
 * PSKs, and records what it certified in the caller's unit of work.
 */
export interface CredentialIssuer {
  signLdevid(serial: string, spki: Uint8Array): Certificate;
  /** Records a device's birth key as certified for it: no CSR may reuse it. */
  recordBirthKey(r: NetworkRepositories, serial: string, idevid: Certificate): Promise<void>;
  /** Records an LDevID, binds its key (ERR_CSR_KEY when bound already, unless `sameKeyAs` renews it) and supersedes earlier ones. */
  recordLdevid(
    r: NetworkRepositories,
    serial: string,
    cert: Certificate,
    sameKeyAs?: string,
  ): Promise<void>;
  /** A new per-device PSK, recorded sealed; the caller delivers it. */
  newPsk(r: NetworkRepositories, serial: string): Promise<{ id: string; psk: string }>;
  /** Whether an LDevID of ours is current (issued by us, not revoked), and for which device. */
  isCurrent(serialHex: string, r: NetworkRepositories): Promise<{ device: string } | undefined>;
}

/** A verifier session the registrar opened for one device (Veraison's challenge-response API). */
export interface VerifierSession {
  /** The session's URL: where the evidence goes. */
  url: string;
  /** base64url, as the device must put it in `eat_nonce`. */
  nonce: string;
  expiry: string;
  /** The evidence media types the verifier accepts. */
  accept: string[];
}

/**
 * The verification service (RFC 9334 verifier), reached over Veraison's challenge-response
 * API (src/adapters/http/verifier-client.ts): Airlock's own or another one.
 */
export interface VerifierPort {
  /**
   * True when every result names, in its annotated evidence, the serial number and manufacturer
   * of the device its submodule is about (Airlock's verifier): the registrar then need not read
   * the evidence itself to see whom it names (step-03-attestation.ts, readResult).
   */
  readonly annotates?: boolean;
  /**
   * A new session: a fresh nonce from the verifier, or the nonce given (base64url), one the
   * registrar derived from the device's channel (Veraison's `newSession?nonce=`).
   */
  openSession(nonce?: string): Promise<VerifierSession>;
  /**
   * The evidence appraised: the EAR, its signature verified with the verifier's key (never a
   * key the result carries) when it came over the network; ERR_EAR_UNTRUSTED otherwise. The
   * registrar checks its `eat_nonce` against the session's itself, whatever the client.
   */
  appraise(
    session: VerifierSession,
    mediaType: string,
    evidence: string,
  ): Promise<{ claims: EarClaims; jwt: string }>;
}

/** The device whose intent the network is to enforce (steps 11 to 13). */
export interface IntentSubject {
  serial: string;
  /** The MUD URL its birth certificate carries or its CSR asked for; undefined: none. */
  mudUrl: string | undefined;
  /** The segment the authorization policy gave it (its device class). */
  segment: string;
  /**
   * The address it has already (a device the network saw on its own, not onboarded here);
   * absent: the network gives it one in its segment.
   */
  address?: string;
}

/** A device's intent in force. */
export interface EnforcedIntent {
  /** Its address in its segment: the key of its rules. */
  address: string;
  /** The profile its rules come from (a MUD file compiled for a segment). */
  profile: string;
  mudUrl: string | null;
  /** False when its rules were in force already, as they are now. */
  changed: boolean;
  /** What the MUD file holds that is not RFC 8520 (pre-RFC names), accepted. */
  warnings: string[];
}

/**
 * The network's device intent manager (src/roles/network/intent-manager.ts): steps 12 and 13.
 */
export interface IntentPort {
  /**
   * Fetches and verifies the device's MUD file, compiles it for its segment and installs its
   * rules: in force when this resolves. ERR_MUD_* or ERR_ENFORCEMENT_FAILED otherwise, and
   * the device's rules are as they were.
   */
  enforce(subject: IntentSubject): Promise<EnforcedIntent>;
}

/** The registrar's settings that change what it answers (src/roles/network/defaults.ts). */
export interface RegistrarSettings {
  ssid: string;
  applicationUrl: string;
  /** Step 14: the application server's trust anchor, PEM. */
  applicationTrustAnchor: string;
  voucherRequestChain: 'registrar-and-ca' | 'registrar-only';
  minimumVoucherAssertion: MinimumAssertion;
  voucherClockSkewSeconds: number;
}

/** What was issued on one connection (the attestation challenge, the LDevID and PSK of this onboarding). */
export interface IssuedOnConnection {
  /** The verifier session whose nonce this connection was given (step 3): its evidence goes there only. */
  attestationSession?: string;
  /** Evidence bound to this connection's TLS session was given (step 3): once per connection. */
  channelBoundAttestation?: boolean;
  /**
   * Step 4 admitted the device on this connection. A device whose record says `attested` gets
   * its voucher (step 5) only on the connection it attested on: a copy of its birth credentials
   * on another cannot ride on a genuine device's result.
   */
  admitted?: boolean;
  ldevid?: string;
  psk?: string;
}

export interface RegistrarContext {
  crypto: Crypto;
  clock: Clock;
  store: NetworkStore;
  pki: RegistrarPki;
  settings: RegistrarSettings;
  manufacturers: Manufacturers;
  masa: MasaPort;
  declarations: DeclarationSource;
  credentials: CredentialIssuer;
  /**
   * The verification service (steps 3 and 4); undefined when the network runs none: the
   * attestation endpoints then answer 404, evidence with a voucher request is ignored, and the
   * policy sees no attestation.
   */
  verifier: VerifierPort | undefined;
  /**
   * The device intent manager (steps 11 to 13); undefined when the network enforces none: no
   * MUD file is fetched, and credentials are delivered without rules.
   */
  intent: IntentPort | undefined;
  /** Per connection: what was issued on it. Connection state, not device state: it dies with the socket. */
  issuedOn: WeakMap<object, IssuedOnConnection>;
  /**
   * Work off the device's path (the MASA's audit log): the role keeps track of it, and logs
   * it if it fails (it records its own outcome in the device's audit trail first).
   */
  background(work: Promise<void>): void;
}
