/**
 * The storage port: each role's records as repositories, reached only through a unit of work.
 * A role or a step never holds a database handle: it asks the store to run its work, in one
 * transaction (`transaction`) or statement by statement (`run`), and gets the repositories
 * bound to that work. It cannot reach outside its transaction, nor forget to pass it along.
 *
 * Two implementations stand behind it (src/adapters/store): SQLite, embedded, and PostgreSQL,
 * shared by several network nodes. Concurrency is decided by the database: a device's row is
 * locked (`get(serial, { lock: true })`) by the work that changes what it holds, constraints
 * decide every race on a key (a nonce, a certified key, a CRL number), never a process lock.
 */
import type { DeviceState } from './onboarding-state.js';

export interface UnitOfWork<R> {
  /** Runs `work` in one transaction: everything it writes commits together, or nothing does. */
  transaction<T>(work: (repos: R) => Promise<T>): Promise<T>;
  /** Runs `work` outside a transaction: each statement commits on its own (reads, single writes). */
  run<T>(work: (repos: R) => Promise<T>): Promise<T>;
}

// ---- The network's records ----

/** A device at the network, as the onboarding steps see it. */
export interface NetworkDevice {
  serial: string;
  idevidDer: Uint8Array;
  state: DeviceState;
  /** The nonce of the voucher outstanding, until the device is onboarded. */
  nonce: string | null;
  onboardings: number;
  ldevidSerial: string | null;
  pskId: string | null;
  /** The verifier session outstanding (JSON), while the device attests. */
  attestationSession: string | null;
  /** The latest attestation result's status, and the claims the policy reads (JSON). */
  attestationStatus: string | null;
  attestationClaims: string | null;
  /** When step 8 recorded the policy's decision in this onboarding; null until then. */
  authorizedAt: string | null;
}

/** The authorization policy's decision about a device (step 8), as stored with it. */
export interface DecisionRecord {
  decision: 'allow' | 'deny';
  segment: string | null;
  rule: string;
  policyId: string;
}

/** An attestation result as stored with its device: the status, what the policy reads, the EAR. */
export interface AttestationRecord {
  status: string;
  /** JSON of the appraised claims the policy reads (swversion, dbgstat, ...). */
  claims: string;
  /** The EAR, as the verifier signed it; null when none was asked for (evidence about another device). */
  result: string | null;
}

/** What the policy needs to decide again about a device (a policy change). */
export interface DeviceForPolicy {
  serial: string;
  idevidDer: Uint8Array;
  state: DeviceState;
  attestationStatus: string | null;
  attestationClaims: string | null;
  decision: string | null;
  segment: string | null;
  rule: string | null;
}

/** A device as the inventory lists it: never its secrets, nor its birth certificate. */
export interface DeviceRecord {
  serial: string;
  manufacturer: string | null;
  state: DeviceState;
  nonce: string | null;
  voucher_at: string | null;
  authenticated_at: string | null;
  onboarded_at: string | null;
  ldevid_serial: string | null;
  psk_id: string | null;
  onboardings: number;
  updated_at: string;
  attestation_status: string | null;
  attested_at: string | null;
  decision: string | null;
  segment: string | null;
  policy_rule: string | null;
  policy_id: string | null;
  decided_at: string | null;
  quarantine: string | null;
  quarantined_at: string | null;
}

export interface NetworkDevices {
  /** The birth certificate recorded under `serial` (serial numbers are unique per manufacturer only). */
  birthCertificateOf(serial: string): Promise<Uint8Array | undefined>;
  /**
   * A voucher issued: the device's record, new or onboarding again, in state 'vouched' with
   * `nonce` outstanding, and `attestation` as its latest result when the device attested with
   * its voucher request (steps 2 to 5 at once); without it, whatever result the record holds
   * stays. False, and nothing written, when another birth certificate holds `serial`.
   */
  vouched(
    d: {
      serial: string;
      idevidDer: Uint8Array;
      manufacturer: string;
      nonce: string;
      decision: DecisionRecord;
      attestation?: AttestationRecord;
    },
    at: Date,
  ): Promise<boolean>;
  /**
   * Steps 2 and 3: the device attests; its record, new or not, is 'attesting' with the
   * verifier session outstanding. False, and nothing written, when another birth certificate
   * holds `serial`.
   */
  attesting(
    d: { serial: string; idevidDer: Uint8Array; manufacturer: string; session: string },
    at: Date,
  ): Promise<boolean>;
  /** Step 4: the result, the state it led to ('attested' or 'refused'), and the policy's decision. */
  attested(
    serial: string,
    a: { state: 'attested' | 'refused'; attestation: AttestationRecord; decision: DecisionRecord },
    at: Date,
  ): Promise<void>;
  /** An onboarding without attestation: an earlier result no longer speaks for the device. */
  forgetAttestation(serial: string, at: Date): Promise<void>;
  /** A later attestation (report section 7): the result, the state unchanged. */
  reattested(serial: string, attestation: AttestationRecord, at: Date): Promise<void>;
  /** The policy's decision; `authorized`: step 8 of this onboarding recorded it. */
  decided(serial: string, d: DecisionRecord, at: Date, authorized: boolean): Promise<void>;
  /** Marks the device for quarantine with the reason, or clears the mark (null). */
  quarantine(serial: string, reason: string | null, at: Date): Promise<void>;
  /** Where the device answers re-attestation, as it said in step 14. */
  attestationUrl(serial: string, url: string | null, at: Date): Promise<void>;
  /** The latest attestation result (EAR) of the device, if any. */
  attestationResult(serial: string): Promise<string | undefined>;
  /** Every device, with what the policy reads of it. */
  forPolicy(): Promise<DeviceForPolicy[]>;
  /** Onboarded devices that said where they answer re-attestation. */
  reattestable(): Promise<Array<{ serial: string; url: string; ldevidSerial: string | null }>>;
  /** The device; with `lock`, its row is held until the unit of work ends (the work that changes it). */
  get(serial: string, opts?: { lock?: boolean }): Promise<NetworkDevice | undefined>;
  /**
   * Wi-Fi Easy Connect (docs/DPP.md): the device's record, new or onboarding again, 'provisioned',
   * with no birth certificate (an empty one). False, and nothing written, when a device that has
   * a birth certificate (zero-touch) holds `serial`.
   */
  dppConfigured(serial: string, at: Date): Promise<boolean>;
  /** A new state, and what the step that led to it changed. */
  update(serial: string, change: DeviceChange, at: Date): Promise<void>;
  record(serial: string): Promise<DeviceRecord | undefined>;
  list(): Promise<DeviceRecord[]>;
}

/** What a step changes on a device: its new state, and the credentials it issued. */
export type DeviceChange =
  | { state: 'authenticated' }
  | { state: DeviceState; ldevidSerial: string }
  | { pskId: string }
  | { state: 'onboarded'; onboardings: number }
  | { state: 'failed' }
  | { state: 'decommissioned' };

export type CertifiedKeyKind = 'idevid' | 'ldevid';

export interface CertificateRecord {
  serial: string;
  device_serial: string;
  not_before: string;
  not_after: string;
  issued_at: string;
  revoked_at: string | null;
  revocation_reason: string | null;
}

export interface CrlRecord {
  crlNumber: number;
  thisUpdate: string;
  nextUpdate: string;
  /** Identifies the set of revocations the CRL covers. */
  revocations: string;
  der: Uint8Array;
}

export interface NetworkCredentials {
  /** Binds a key (by fingerprint) to a device; false when the key is bound already, to any device. */
  bindKey(
    k: { fingerprint: string; device: string; kind: CertifiedKeyKind; certificate: string },
    at: Date,
  ): Promise<boolean>;
  /** A renewal that keeps the key: its binding moves from `previous` to `certificate`; false when it was not bound so. */
  rebindKey(
    k: { fingerprint: string; device: string; previous: string; certificate: string },
    at: Date,
  ): Promise<boolean>;
  keyKind(fingerprint: string): Promise<CertifiedKeyKind | undefined>;
  /** Revokes every live LDevID of a device, for `reason` (RFC 5280: superseded by default). */
  supersede(
    device: string,
    at: Date,
    reason?: 'superseded' | 'cessationOfOperation',
  ): Promise<void>;
  /** Retires the device's PSKs: none is live after. */
  retirePsks(device: string, at: Date): Promise<void>;
  addCertificate(
    c: { serial: string; device: string; notBefore: Date; notAfter: Date },
    at: Date,
  ): Promise<void>;
  /** An LDevID's holder and whether it is revoked. */
  certificate(serial: string): Promise<{ device: string; revokedAt: string | null } | undefined>;
  certificatesOf(device: string): Promise<CertificateRecord[]>;
  /** Every revoked certificate, by serial. */
  revoked(): Promise<Array<{ serial: string; revokedAt: string; reason: string | null }>>;
  /** Retires the device's PSKs and records a new one (sealed). */
  replacePsk(p: { id: string; device: string; sealed: string }, at: Date): Promise<void>;
  latestCrl(): Promise<CrlRecord | undefined>;
  /** False when another node recorded a CRL of that number first. */
  addCrl(c: CrlRecord): Promise<boolean>;
}

export interface EventInput {
  serial: string | null;
  step?: number;
  action: string;
  /** `warning`: the step went on, but something deserves a look (e.g. another domain claimed the device). */
  /** `skipped`: a step not performed, the reason in `detail` (e.g. no attestation from a DPP enrollee). */
  outcome: 'ok' | 'refused' | 'error' | 'warning' | 'skipped';
  code?: string;
  detail?: Record<string, string | number | boolean | null>;
}

export interface EventRecord {
  id: number;
  at: string;
  device_serial: string | null;
  step: number | null;
  action: string;
  outcome: string;
  code: string | null;
  detail: string | null;
}

export interface NetworkEvents {
  record(events: readonly EventInput[], at: Date): Promise<void>;
  of(serial: string): Promise<EventRecord[]>;
}

export interface InstalledDeclaration {
  sequence: number;
  chain: string[];
}

export interface NetworkDeclarationStore {
  get(serial: string): Promise<InstalledDeclaration | undefined>;
  put(
    d: {
      serial: string;
      sequence: number;
      latestHash: string;
      chain: readonly string[];
      source: string;
    },
    at: Date,
  ): Promise<void>;
}

/** A role's named key pairs: the private key sealed, with its certificate. */
export interface SealedKeyRecord {
  sealedKey: string;
  certDer: Uint8Array;
}

export interface KeyRecords {
  get(name: string): Promise<SealedKeyRecord | undefined>;
  put(name: string, k: SealedKeyRecord, at: Date): Promise<void>;
}

/** The authorization policies applied, the latest the one in force. */
export interface NetworkPolicies {
  current(): Promise<{ policyId: string; policy: string } | undefined>;
  add(p: { policyId: string; source: string; policy: string }, at: Date): Promise<void>;
}

/**
 * The signer first seen for each MUD URL (RFC 8520 section 13.2, docs/INTENT.md): a later file
 * from the same URL must be signed by the same key.
 */
export interface MudSignerPins {
  /** The signer pinned for `url`: its key's fingerprint and subject. */
  pinned(url: string): Promise<{ signer: string; subject: string } | undefined>;
  /** Pins `signer` for `url` unless one is pinned already; false when one was. */
  pin(url: string, signer: { signer: string; subject: string }, at: Date): Promise<boolean>;
}

/** A MUD file the network accepted, as it was fetched (docs/INTENT.md). */
export interface MudFileRecord {
  url: string;
  mud: string;
  /** base64 */
  signature: string;
  fetchedAt: string;
  expiresAt: string;
}

/** A device's intent as the network enforces it. */
export interface DeviceIntentRecord {
  serial: string;
  segment: string;
  host: number;
  address: string;
  mudUrl: string | null;
  profile: string;
  installed: string | null;
  quarantined: string | null;
  updatedAt: string;
}

/** A device FreeRADIUS admits (the view `radius_devices`, docs/RADIUS.md). */
export interface RadiusDevice {
  serial: string;
  /** The one certificate it may connect with: its serial number, lower-case hex. */
  certificateSerial: string;
  vlan: number;
}

/** What FreeRADIUS reads of the network, and the VLAN of each segment. */
export interface NetworkRadius {
  /** Replaces the segments' VLANs with `vlans`. */
  setVlans(vlans: Readonly<Record<string, number>>): Promise<void>;
  /** The devices the view admits now, by serial. */
  devices(): Promise<RadiusDevice[]>;
  /** Those of `serials` the view admits now. */
  devicesNamed(serials: readonly string[]): Promise<RadiusDevice[]>;
  /**
   * The changes numbered after `after - lookback` (access-watch.ts): the devices they name, the
   * last number, and whether every device may have changed (a segment's VLAN changed, or changes
   * after `after` are no longer kept).
   */
  accessChanges(
    after: number,
    lookback: number,
  ): Promise<{ last: number; serials: string[]; everything: boolean }>;
  /** The number of the latest change kept (0: none). */
  lastAccessChange(): Promise<number>;
  /** Forgets all but the latest `keep` changes. */
  pruneAccessChanges(keep: number): Promise<void>;
  /**
   * The live Wi-Fi key of each device that may connect (provisioned or onboarded), sealed, with
   * its VLAN if its segment has one; a device marked for quarantine only where `quarantine` has one.
   */
  wifiKeys(): Promise<
    Array<{ serial: string; pskId: string; sealed: string; vlan: number | null }>
  >;
}

/** The MUD files accepted and each device's enforced intent (steps 12 and 13). */
export interface NetworkIntent {
  mudFile(url: string): Promise<MudFileRecord | undefined>;
  saveMudFile(f: MudFileRecord): Promise<void>;
  device(serial: string): Promise<DeviceIntentRecord | undefined>;
  byAddress(address: string): Promise<DeviceIntentRecord | undefined>;
  all(): Promise<DeviceIntentRecord[]>;
  /** The hosts taken in `segment`, ascending. */
  hosts(segment: string): Promise<number[]>;
  /** Inserts or replaces the device's record (a taken address or host is a constraint error). */
  put(d: DeviceIntentRecord): Promise<void>;
  setInstalled(serial: string, at: Date | null): Promise<void>;
  setQuarantined(serial: string, reason: string | null, at: Date): Promise<void>;
  remove(serial: string): Promise<void>;
}

/** A DPP enrollee's bootstrapping key, added by the owner from its URI (docs/DPP.md). */
export interface DppEnrolleeRecord {
  /** SHA-256 of the key's DER SubjectPublicKeyInfo, lower-case hex: what the enrollee sends as I-BKH. */
  keyHash: string;
  /** The serial the device has at the network (the URI's I: value, or dpp-<16 hex of keyHash>). */
  serial: string;
  curve: string;
  spkiDer: Uint8Array;
  /** The URI's I: token, when it had one. */
  info: string | null;
  /** The URI as added. */
  uri: string;
  /** The credential the network gives it (its Configuration Object's AKM). */
  akm: DppAkm;
  addedAt: string;
}

/** The credentials a DPP enrollee may be given: sta-psk, sta-sae, sta-dpp, sta-dot1x. */
export const DPP_AKMS = ['psk', 'sae', 'dpp', 'dot1x'] as const;
export type DppAkm = (typeof DPP_AKMS)[number];

/** The DPP enrollees the owner added: the Configurator answers these only. */
export interface NetworkDpp {
  /** Adds an enrollee; false, and nothing written, when its key hash or its serial is added already. */
  add(e: Omit<DppEnrolleeRecord, 'addedAt'>, at: Date): Promise<boolean>;
  get(keyHash: string): Promise<DppEnrolleeRecord | undefined>;
  bySerial(serial: string): Promise<DppEnrolleeRecord | undefined>;
  /** Every enrollee added, in the order added. */
  list(): Promise<DppEnrolleeRecord[]>;
}

export interface NetworkRepositories {
  dpp: NetworkDpp;
  policies: NetworkPolicies;
  mudSigners: MudSignerPins;
  intent: NetworkIntent;
  radius: NetworkRadius;
  devices: NetworkDevices;
  credentials: NetworkCredentials;
  events: NetworkEvents;
  declarations: NetworkDeclarationStore;
  keys: KeyRecords;
}

export type NetworkStore = UnitOfWork<NetworkRepositories>;

// ---- The verifier's records ----

export type VerifierSessionState = 'waiting' | 'complete' | 'failed';

/** A challenge-response session (Veraison's API): its nonce, and once used, the evidence and its result. */
export interface VerifierSessionRecord {
  id: string;
  nonce: string;
  expiresAt: string;
  state: VerifierSessionState;
  evidenceType: string | null;
  evidence: string | null;
  /** The EAR (JWT) of a complete session. */
  result: string | null;
}

export interface VerifierSessions {
  add(s: { id: string; nonce: string; expiresAt: Date }, at: Date): Promise<void>;
  /** The session, unless it has expired at `at`. */
  get(id: string, at: Date): Promise<VerifierSessionRecord | undefined>;
  /**
   * Takes a waiting, unexpired session for its evidence: it is no longer waiting from here on
   * (its row is held until the unit of work ends), so that it takes evidence once. Undefined
   * when it is unknown, expired, or was taken already.
   */
  take(id: string, at: Date): Promise<VerifierSessionRecord | undefined>;
  /** The outcome of a session taken in this unit of work. */
  finish(
    id: string,
    outcome: {
      state: 'complete' | 'failed';
      evidenceType: string;
      evidence: string;
      result: string | null;
    },
  ): Promise<void>;
  /**
   * A session stored already answered (complete or failed): one a relying party in the same
   * process reserved and brought its evidence to. False, and nothing written, when its id is
   * taken.
   */
  addDone(s: VerifierSessionRecord, at: Date): Promise<boolean>;
  /** False when there was no such session. */
  remove(id: string): Promise<boolean>;
  /** Deletes the sessions that expired before `before`; how many. */
  purge(before: Date): Promise<number>;
}

export interface HeldReferenceValues {
  partyId: string;
  sequence: number;
}

export interface VerifierReferenceValueStore {
  /** The sequence held for each manufacturer. */
  sequences(): Promise<HeldReferenceValues[]>;
  get(partyId: string): Promise<{ sequence: number; document: string } | undefined>;
  /**
   * Stores `document` as the manufacturer's reference values unless those held have a sequence
   * as high or higher; false when nothing was stored (the caller reads what is held).
   */
  putNewer(d: { partyId: string; sequence: number; document: string }, at: Date): Promise<boolean>;
}

export interface VerifierRepositories {
  sessions: VerifierSessions;
  referenceValues: VerifierReferenceValueStore;
  keys: KeyRecords;
}

export type VerifierStore = UnitOfWork<VerifierRepositories>;

// ---- The manufacturer's records ----

export interface MintedDevice {
  serial: string;
  model: string;
  idevidDer: Uint8Array;
  masaUrl: string;
  mudUrl: string | null;
}

export interface ManufacturerDevices {
  exists(serial: string): Promise<boolean>;
  /** Whether any device of `model` was minted. */
  hasModel(model: string): Promise<boolean>;
  add(d: MintedDevice, at: Date): Promise<void>;
  /** Holds the device's row until the unit of work ends: changes to its declarations queue behind. */
  lock(serial: string): Promise<void>;
}

export interface DeclarationRecord {
  serial: string;
  sequence: number;
  jws: string;
  hash: string;
  ownerId: string;
  issuedOn: string;
}

export interface ManufacturerDeclarations {
  latest(serial: string): Promise<{ hash: string; sequence: number } | undefined>;
  jws(serial: string, sequence: number): Promise<string | undefined>;
  /** The device's declarations, oldest first. */
  chain(serial: string): Promise<string[]>;
  append(d: DeclarationRecord): Promise<void>;
  serials(): Promise<string[]>;
}

export interface MasaRecords {
  /** Records a nonce as used for `serial`; false when it was used before (a replay). */
  useNonce(serial: string, nonce: string, at: Date): Promise<boolean>;
  addVoucher(
    v: {
      serial: string;
      domainId: string;
      ownerId: string;
      nonce: string | null;
      assertion: string;
    },
    at: Date,
  ): Promise<void>;
  /** The newest `limit` vouchers issued for `serial`, newest first. */
  vouchersOf(
    serial: string,
    limit: number,
  ): Promise<
    Array<{ issuedAt: string; domainId: string; nonce: string | null; assertion: string }>
  >;
  audit(
    e: {
      action: string;
      actor: string;
      subject: string | null;
      outcome: string;
      code: string | null;
      detail: Record<string, string | number>;
    },
    at: Date,
  ): Promise<void>;
}

/** A firmware image released for a model (report section 5.1.1 step 3). */
export interface FirmwareRecord {
  model: string;
  name: string;
  /** Dotted numeric, 1 to 4 parts. */
  version: string;
  /** base64url SHA-256 of the image. */
  digest: string;
  status: 'released' | 'withdrawn';
  releasedAt: string;
  withdrawnAt: string | null;
}

export interface ManufacturerFirmware {
  /** A model's settings; undefined when nothing was ever released for it. */
  model(model: string): Promise<{ secureBoot: boolean } | undefined>;
  addModel(m: { model: string; secureBoot: boolean }, at: Date): Promise<void>;
  /** Every model, by name. */
  models(): Promise<Array<{ model: string; secureBoot: boolean }>>;
  /** The release of `version` of `model`, or the one with `digest`, whatever its status. */
  find(
    model: string,
    by: { version: string } | { digest: string },
  ): Promise<FirmwareRecord | undefined>;
  /** A new release; a version or digest the model already has is a unique violation. */
  add(f: Omit<FirmwareRecord, 'status' | 'releasedAt' | 'withdrawnAt'>, at: Date): Promise<void>;
  /** Marks a release withdrawn; false when it was not `released` (unknown, or withdrawn already). */
  withdraw(model: string, version: string, at: Date): Promise<boolean>;
  /** Every release (of `model`, when given), by model, then in the order they were released. */
  list(model?: string): Promise<FirmwareRecord[]>;
  /** The newest signed reference values document. */
  latestDocument(): Promise<{ sequence: number; document: string } | undefined>;
  /** A new document; a sequence taken already is a unique violation. */
  addDocument(d: { sequence: number; document: string }, at: Date): Promise<void>;
}

/** The MUD files a manufacturer published, per model (docs/INTENT.md). */
export interface ManufacturerMudFiles {
  get(model: string): Promise<{ mud: string; signature: string; publishedAt: string } | undefined>;
  /** Publishes (or replaces) the model's file. */
  put(model: string, f: { mud: string; signature: string }, at: Date): Promise<void>;
}

export interface ManufacturerRepositories {
  mudFiles: ManufacturerMudFiles;
  devices: ManufacturerDevices;
  declarations: ManufacturerDeclarations;
  masa: MasaRecords;
  keys: KeyRecords;
  /** Firmware releases and the reference values documents signed from them. */
  firmware: ManufacturerFirmware;
}

export type ManufacturerStore = UnitOfWork<ManufacturerRepositories>;
