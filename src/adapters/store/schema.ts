/**
 * The tables, as Kysely sees them. The manufacturer and the network are separate parties:
 * each role has its own database, created by its own migrations (./migrations).
 * Secrets are only ever stored sealed (AES-256-GCM, adapters/crypto/seal.ts).
 */
import type { Generated } from 'kysely';
import type { DeviceState } from '../../core/onboarding-state.js';

export type { DeviceState };

/** Named key pairs and certificates of a role's PKI; the key is sealed. */
export interface KeyTable {
  name: string;
  sealed_key: string;
  cert_der: Uint8Array;
  created_at: string;
}

export interface AuditTable {
  id: Generated<number>;
  at: string;
  actor: string;
  action: string;
  subject: string | null;
  outcome: string;
  code: string | null;
  detail: string | null;
}

export interface ManufacturerDb {
  mfg_keys: KeyTable;
  mfg_devices: {
    serial: string;
    model: string;
    idevid_der: Uint8Array;
    masa_url: string;
    mud_url: string | null;
    minted_at: string;
  };
  mfg_parties: { id: string; name: string; ca_der: Uint8Array | null; created_at: string };
  mfg_declarations: {
    serial: string;
    sequence: number;
    jws: string;
    hash: string;
    owner_id: string;
    issued_on: string;
  };
  masa_nonces: { serial: string; nonce: string; seen_at: string };
  masa_audit: AuditTable;
  masa_vouchers: {
    id: Generated<number>;
    serial: string;
    issued_at: string;
    domain_id: string;
    owner_id: string;
    nonce: string | null;
    assertion: string;
  };
  /** `secure_boot`: a boolean on PostgreSQL, 0 or 1 on SQLite. */
  /** The MUD file published for a model (RFC 8520), as served, and its detached signature (base64). */
  mfg_mud_files: {
    model: string;
    mud: string;
    signature: string;
    published_at: string;
  };
  mfg_models: { model: string; secure_boot: boolean | number; created_at: string };
  mfg_firmware: {
    id: Generated<number>;
    model: string;
    version: string;
    name: string;
    digest: string;
    status: 'released' | 'withdrawn';
    released_at: string;
    withdrawn_at: string | null;
  };
  mfg_reference_values: { sequence: number; document: string; issued_at: string };
}

export interface NetworkDb {
  net_keys: KeyTable;
  net_declarations: {
    serial: string;
    sequence: number;
    latest_hash: string;
    chain: string;
    source: string;
    installed_at: string;
  };
  net_devices: {
    serial: string;
    idevid_der: Uint8Array;
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
    /** The verifier session outstanding (JSON), while the device attests. */
    attestation_session: string | null;
    attestation_status: string | null;
    /** What the policy reads of the latest result (JSON: swversion, dbgstat, ...). */
    attestation_claims: string | null;
    /** The latest attestation result: the EAR as the verifier signed it. */
    attestation_result: string | null;
    attested_at: string | null;
    decision: string | null;
    segment: string | null;
    policy_rule: string | null;
    policy_id: string | null;
    decided_at: string | null;
    /** When step 8 recorded the decision in this onboarding (null until then). */
    authorized_at: string | null;
    /** Why the device is marked for quarantine, if it is. */
    quarantine: string | null;
    quarantined_at: string | null;
    /** Where the device answers re-attestation (report section 7), as it said in step 14. */
    attestation_url: string | null;
  };
  /** A MUD file accepted (fetched, verified), kept until its cache-validity ends. */
  net_mud_files: {
    url: string;
    /** The file as fetched (UTF-8 JSON). */
    mud: string;
    /** Its detached CMS signature, base64. */
    signature: string;
    fetched_at: string;
    expires_at: string;
  };
  /** A device's intent as enforced: its address in its segment and the profile its rules come from. */
  net_device_intent: {
    serial: string;
    segment: string;
    /** The address's index in the segment's prefix. */
    host: number;
    address: string;
    mud_url: string | null;
    profile: string;
    /** When its rules were last installed as recorded; null while they are not. */
    installed: string | null;
    /** Why it is quarantined, if it is. */
    quarantined: string | null;
    updated_at: string;
  };
  /** The VLAN each segment lands in over 802.1X (docs/RADIUS.md). */
  net_segment_vlans: {
    segment: string;
    vlan: number;
  };
  /** What changed that may change who FreeRADIUS admits, in order (written by triggers; access-watch.ts). */
  net_access_changes: {
    seq: Generated<number>;
    /** The device; null: a segment's VLAN changed, every device may have moved. */
    serial: string | null;
  };
  /** The view FreeRADIUS reads: each device that may connect, its certificate and its VLAN. */
  radius_devices: {
    serial: string;
    certificate_serial: string;
    vlan: number;
  };
  net_mud_signers: {
    url: string;
    /** SHA-256 of the signer's SubjectPublicKeyInfo, base64url. */
    signer: string;
    subject: string;
    first_seen: string;
  };
  net_policies: {
    id: Generated<number>;
    policy_id: string;
    source: string;
    /** The validated policy, JSON. */
    policy: string;
    applied_at: string;
  };
  net_certificates: {
    serial: string;
    device_serial: string;
    not_before: string;
    not_after: string;
    issued_at: string;
    revoked_at: string | null;
    revocation_reason: string | null;
  };
  /** Every key certified for a device: its birth key ('idevid') and each LDevID key ('ldevid'). */
  net_certified_keys: {
    fingerprint: string;
    device_serial: string;
    kind: 'idevid' | 'ldevid';
    certificate_serial: string | null;
    recorded_at: string;
  };
  /** Every CRL the domain CA issued; `revocations` identifies the revocation set it covers. */
  net_crls: {
    crl_number: number;
    this_update: string;
    next_update: string;
    revocations: string;
    der: Uint8Array;
  };
  /** DPP enrollees the owner added (migration 0009, docs/DPP.md). */
  net_dpp_enrollees: {
    key_hash: string;
    serial: string;
    curve: string;
    spki_der: Uint8Array;
    info: string | null;
    uri: string;
    added_at: string;
    /** Migration 0010: the credential it is given. */
    akm: string;
  };
  net_psks: {
    id: string;
    device_serial: string;
    sealed_psk: string;
    created_at: string;
    retired_at: string | null;
  };
  net_events: {
    id: Generated<number>;
    at: string;
    device_serial: string | null;
    step: number | null;
    action: string;
    outcome: string;
    code: string | null;
    detail: string | null;
  };
}

/** The verification service's own database (src/roles/verifier). */
export interface VerifierDb {
  ver_keys: KeyTable;
  ver_sessions: {
    id: string;
    nonce: string;
    expires_at: string;
    /** waiting, then (in the transaction that takes the evidence) complete or failed. */
    state: string;
    evidence_type: string | null;
    evidence: string | null;
    result: string | null;
    created_at: string;
  };
  ver_reference_values: {
    party_id: string;
    sequence: number;
    document: string;
    updated_at: string;
  };
}
