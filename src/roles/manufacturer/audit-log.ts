/**
 * The MASA audit log (RFC 8995 section 5.8), wired: its steps are in
 * src/onboarding/masa/audit-log.ts. Issued vouchers are recorded in the transaction that
 * issues them; requests verified on issue are remembered for a few minutes.
 */
import type { ManufacturerStore, MasaRecords } from '../../core/store.js';
import type { AuditLog } from '../../protocols/brski/audit-log.js';
import type { EncodedVoucher } from '../../protocols/voucher/codec.js';
import type { IssuedVoucher, VoucherLog } from '../../onboarding/masa/ports.js';
import {
  VerifiedRequests,
  auditLogFor,
  recordIssuedVoucher,
  type AuditLogContext,
} from '../../onboarding/masa/audit-log.js';
import type { RoleContext } from '../shared/context.js';
import type { DeclarationService } from './declarations.js';
import type { ManufacturerPki } from './pki.js';

export type { IssuedVoucher };

export class MasaAuditLog implements VoucherLog {
  readonly #steps: AuditLogContext;
  readonly #verified: VerifiedRequests;

  constructor(
    ctx: RoleContext,
    store: ManufacturerStore,
    pki: ManufacturerPki,
    declarations: DeclarationService,
  ) {
    this.#steps = { crypto: ctx.crypto, clock: ctx.clock, store, pki, declarations };
    this.#verified = new VerifiedRequests(ctx.crypto);
  }

  /** Records an issued voucher; call it in the transaction that issues it. */
  async record(records: MasaRecords, v: IssuedVoucher): Promise<void> {
    await recordIssuedVoucher(this.#steps.crypto, records, v);
  }

  /** Remembers a request verified in full (on issuing its voucher). */
  rememberVerified(request: Uint8Array, serial: string, owner: string, at: Date): void {
    this.#verified.remember(request, serial, owner, at);
  }

  /** RFC 8995 section 5.8: the log of the device a registrar voucher request names, for that registrar. */
  async forRequest(registrarVoucherRequest: EncodedVoucher, peer: string): Promise<AuditLog> {
    return auditLogFor(this.#steps, this.#verified, registrarVoucherRequest, peer);
  }
}
