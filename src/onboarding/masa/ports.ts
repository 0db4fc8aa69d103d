/**
 * What the MASA's steps are given (RFC 8995 sections 5.5 and 5.8): its signing key and the
 * CA of the birth certificates it vouches for, the device's latest declaration, its records
 * behind a unit of work, crypto and clock. The manufacturer role (src/roles/manufacturer)
 * builds a MasaContext from its adapters; a test builds one from an in-memory store.
 */
import type { Clock, Crypto, PrivateKeyHandle } from '../../core/ports.js';
import type { ManufacturerStore, MasaRecords } from '../../core/store.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import type { DeclarationBody } from '../../protocols/declaration/schema.js';

export interface MasaPki {
  /** Issues the birth certificates this MASA vouches for. */
  idevidCa: { readonly cert: Certificate };
  /** Signs vouchers. */
  masa: { readonly cert: Certificate; readonly key: PrivateKeyHandle };
}

/** The device's current declaration: who owns it, who may onboard it (src/roles/manufacturer/declarations.ts). */
export interface LatestDeclaration {
  latest(serial: string): Promise<{ body: Readonly<DeclarationBody>; hash: string } | undefined>;
}

/** The MASA's settings (src/roles/manufacturer/defaults.ts). */
export interface MasaPolicy {
  voucherLifetimeSeconds: number;
  voucherRequestClockSkewSeconds: number;
  pinWhenNoCa: 'registrar-cert' | 'refuse';
  requireProximity: boolean;
}

/** A voucher as the audit log keeps it. */
export interface IssuedVoucher {
  serial: string;
  at: Date;
  /** The pinned domain certificate (the domain CA, or the registrar certificate when no CA was sent). */
  domainCa: Certificate;
  nonce: string | null;
  assertion: string;
}

/** Where issued vouchers are logged (RFC 8995 section 5.8; audit-log.ts). */
export interface VoucherLog {
  /** Records an issued voucher, in the transaction that issues it. */
  record(records: MasaRecords, v: IssuedVoucher): Promise<void>;
  /** A request verified in full, to verify it at no cost when its audit log is asked for. */
  rememberVerified(request: Uint8Array, serial: string, owner: string, at: Date): void;
}

export interface MasaContext {
  crypto: Crypto;
  clock: Clock;
  store: ManufacturerStore;
  pki: MasaPki;
  declarations: LatestDeclaration;
  policy: MasaPolicy;
  /** Absent: vouchers are issued but not logged. */
  log?: VoucherLog;
}
