/**
 * The MASA (RFC 8995 section 5.5): verifies the registrar voucher request and the pledge's
 * request inside it, and issues a voucher only when the registrar's domain is the device's
 * owner or one of its authorized onboarders in the current declaration. Every request and
 * decision goes to the audit log.
 *
 * - Only a registrar certificate (id-kp-cmcRA, section 5.5.4) may sign the request: a device
 *   of the domain, whose LDevID also chains to the domain CA, cannot ask for a voucher.
 * - The domain is the CA at the end of x5c (party id: SHA-256 of its SPKI), which the voucher
 *   pins. With the registrar certificate alone (section 5.5), `pinWhenNoCa` decides: by
 *   default the registrar certificate is the domain's identity and what the voucher pins.
 * - `assertion` is `proximity` when the pledge named this very registrar (section 5.5.6),
 *   else `logged`. `idevid-issuer` is the IDevID's AuthorityKeyIdentifier keyIdentifier.
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { partyIdFromSpki } from '../../core/party.js';
import type { ManufacturerStore, MasaRecords } from '../../core/store.js';
import { verifyRegistrarVoucherRequest } from '../../protocols/voucher/registrar-voucher-request.js';
import { signVoucherAs } from '../../protocols/voucher/voucher.js';
import { SIGNABLE, VOUCHER_JWS_MEDIA_TYPE, type EncodedVoucher, type VoucherMediaType } from '../../protocols/voucher/codec.js';
import { fromUtf8, utf8 } from '../../core/bytes.js';
import { authorityKeyIdentifier } from '../../protocols/voucher/idevid-issuer.js';
import { mayOnboard } from '../../protocols/declaration/verify.js';
import type { RoleContext } from '../shared/context.js';
import type { DeclarationService } from './declarations.js';
import type { ManufacturerPki } from './pki.js';
import { manufacturerDefaults, type ManufacturerConfig } from './defaults.js';

export type MasaConfig = Pick<ManufacturerConfig, 'voucherLifetimeSeconds' | 'voucherRequestClockSkewSeconds' | 'pinWhenNoCa' | 'requireProximity'>;
import type { MasaAuditLog } from './audit-log.js';

export class Masa {
  readonly #config: MasaConfig;

  constructor(
    private readonly ctx: RoleContext,
    private readonly store: ManufacturerStore,
    private readonly pki: ManufacturerPki,
    private readonly declarations: DeclarationService,
    config: Partial<MasaConfig> = {},
    /** RFC 8995 section 5.8: where issued vouchers are logged (audit-log.ts). */
    private readonly auditLog?: MasaAuditLog,
  ) {
    this.#config = { ...manufacturerDefaults, ...config };
  }

  /** A JWS registrar voucher request in, a JWS voucher out. */
  async requestVoucher(registrarVoucherRequest: string, peer: string): Promise<string> {
    const voucher = await this.issueVoucher({ mediaType: VOUCHER_JWS_MEDIA_TYPE, bytes: utf8(registrarVoucherRequest) }, peer);
    return fromUtf8(voucher.bytes);
  }

  /**
   * A registrar voucher request in any format Airlock reads; the voucher in `format` (the
   * negotiated Accept; by default the request's own format). A format Airlock cannot sign is
   * ERR_VOUCHER_FORMAT, refused before anything is checked or recorded.
   */
  async issueVoucher(registrarVoucherRequest: EncodedVoucher, peer: string, format: VoucherMediaType = registrarVoucherRequest.mediaType): Promise<EncodedVoucher> {
    if (!SIGNABLE.includes(format)) throw new AirlockError('ERR_VOUCHER_FORMAT', `Airlock does not sign ${format}`);
    const at = this.ctx.clock.now();
    let serial: string | undefined;
    let registrarOwner: string | undefined;
    try {
      const rvr = verifyRegistrarVoucherRequest(this.ctx.crypto, registrarVoucherRequest.bytes, {
        mediaType: registrarVoucherRequest.mediaType,
        idevidAnchors: [this.pki.idevidCa.cert],
        at,
        clockSkewSeconds: this.#config.voucherRequestClockSkewSeconds,
        requireProximity: this.#config.requireProximity,
      });
      serial = rvr.serialNumber;
      if (!rvr.domainCa && this.#config.pinWhenNoCa === 'refuse') throw new AirlockError('ERR_VOUCHER_REQUEST_MALFORMED', 'x5c must end with the domain CA');
      // The voucher pins what identifies the domain: its CA, or else the registrar certificate.
      const pinned = rvr.domainCa ?? rvr.registrarCert;
      registrarOwner = partyIdFromSpki(this.ctx.crypto, pinned.spki);
      // Every minted device has a declaration from birth: none means we never made it.
      const latest = await this.declarations.latest(serial);
      if (!latest) throw new AirlockError('ERR_MASA_UNKNOWN_DEVICE', serial);
      if (!mayOnboard(latest.body, registrarOwner)) throw new AirlockError('ERR_MASA_NOT_AUTHORIZED', `serial ${serial}`);
      const assertion = rvr.proximity ? 'proximity' : 'logged';
      const idevidIssuer = authorityKeyIdentifier(rvr.idevid);
      const voucher = signVoucherAs(this.ctx.crypto, format, this.pki.masa.key, [this.pki.masa.cert], {
        serialNumber: serial,
        nonce: rvr.nonce,
        pinnedDomainCert: pinned,
        createdOn: at,
        expiresOn: new Date(at.getTime() + this.#config.voucherLifetimeSeconds * 1000),
        assertion,
        ...(idevidIssuer ? { idevidIssuer } : {}),
      });
      await this.store.transaction(async (r) => {
        if (!(await r.masa.useNonce(serial!, rvr.nonce, at))) throw new AirlockError('ERR_VOUCHER_REQUEST_REPLAYED', `serial ${serial}`);
        await this.#audit(r.masa, at, peer, serial!, 'ok', undefined, {
          owner: registrarOwner!,
          declaration: latest.body.sequence,
          assertion,
          pinned: rvr.domainCa ? 'domain-ca' : 'registrar-cert',
        });
        await this.auditLog?.record(r.masa, { serial: serial!, at, domainCa: pinned, nonce: rvr.nonce, assertion });
      });
      this.auditLog?.rememberVerified(registrarVoucherRequest.bytes, serial, registrarOwner, at);
      return { mediaType: format, bytes: voucher };
    } catch (e) {
      const code = isAirlockError(e) ? e.code : 'ERR_INTERNAL';
      await this.store.run((r) => this.#audit(r.masa, at, peer, serial ?? null, 'refused', code, registrarOwner ? { owner: registrarOwner } : {}));
      throw e;
    }
  }

  async #audit(records: MasaRecords, at: Date, actor: string, subject: string | null, outcome: string, code: string | undefined, detail: Record<string, string | number>): Promise<void> {
    await records.audit({ action: 'requestvoucher', actor, subject, outcome, code: code ?? null, detail }, at);
  }
}
