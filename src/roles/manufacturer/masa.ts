/**
 * The MASA (RFC 8995 section 5.5), wired: the voucher is issued by
 * src/onboarding/masa/issue-voucher.ts, which says what is checked and recorded.
 */
import { fromUtf8, utf8 } from '../../core/bytes.js';
import type { ManufacturerStore } from '../../core/store.js';
import {
  VOUCHER_JWS_MEDIA_TYPE,
  type EncodedVoucher,
  type VoucherMediaType,
} from '../../protocols/voucher/codec.js';
import type { MasaContext } from '../../onboarding/masa/ports.js';
import { issueVoucher } from '../../onboarding/masa/issue-voucher.js';
import type { RoleContext } from '../shared/context.js';
import type { DeclarationService } from './declarations.js';
import type { ManufacturerPki } from './pki.js';
import { manufacturerDefaults, type ManufacturerConfig } from './defaults.js';
import type { MasaAuditLog } from './audit-log.js';

export type MasaConfig = Pick<
  ManufacturerConfig,
  'voucherLifetimeSeconds' | 'voucherRequestClockSkewSeconds' | 'pinWhenNoCa' | 'requireProximity'
>;

export class Masa {
  readonly #steps: MasaContext;

  constructor(
    ctx: RoleContext,
    store: ManufacturerStore,
    pki: ManufacturerPki,
    declarations: DeclarationService,
    config: Partial<MasaConfig> = {},
    /** RFC 8995 section 5.8: where issued vouchers are logged (audit-log.ts). */
    auditLog?: MasaAuditLog,
  ) {
    const {
      voucherLifetimeSeconds,
      voucherRequestClockSkewSeconds,
      pinWhenNoCa,
      requireProximity,
    } = { ...manufacturerDefaults, ...config };
    this.#steps = {
      crypto: ctx.crypto,
      clock: ctx.clock,
      store,
      pki,
      declarations,
      policy: {
        voucherLifetimeSeconds,
        voucherRequestClockSkewSeconds,
        pinWhenNoCa,
        requireProximity,
      },
      ...(auditLog ? { log: auditLog } : {}),
    };
  }

  /** A JWS registrar voucher request in, a JWS voucher out. */
  async requestVoucher(registrarVoucherRequest: string, peer: string): Promise<string> {
    const voucher = await this.issueVoucher(
      { mediaType: VOUCHER_JWS_MEDIA_TYPE, bytes: utf8(registrarVoucherRequest) },
      peer,
    );
    return fromUtf8(voucher.bytes);
  }

  /**
   * A registrar voucher request in any format Airlock reads; the voucher in `format` (the
   * negotiated Accept; by default the request's own format). A format Airlock cannot sign is
   * ERR_VOUCHER_FORMAT, refused before anything is checked or recorded.
   */
  async issueVoucher(
    registrarVoucherRequest: EncodedVoucher,
    peer: string,
    format: VoucherMediaType = registrarVoucherRequest.mediaType,
  ): Promise<EncodedVoucher> {
    return issueVoucher(this.#steps, registrarVoucherRequest, peer, format);
  }
}
