/**
 * The MASA (RFC 8995 section 5.5): verifies the registrar voucher request and the pledge's
 * request inside it, and issues a voucher pinning the registrar's domain CA only when the
 * domain CA's party is the device's owner or one of its authorized onboarders in the
 * current declaration. Every request and decision goes to the audit log.
 */
import type { Kysely } from 'kysely';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { partyIdFromSpki } from '../../core/party.js';
import type { ManufacturerDb } from '../../adapters/store/schema.js';
import { verifyRegistrarVoucherRequest } from '../../protocols/voucher/registrar-voucher-request.js';
import { signVoucher } from '../../protocols/voucher/voucher.js';
import { mayOnboard } from '../../protocols/declaration/verify.js';
import type { RoleContext } from '../shared/context.js';
import type { DeclarationService } from './declarations.js';
import type { ManufacturerPki } from './pki.js';
import type { MasaAuditLog } from './audit-log.js';

export class Masa {
  constructor(
    private readonly ctx: RoleContext,
    private readonly db: Kysely<ManufacturerDb>,
    private readonly pki: ManufacturerPki,
    private readonly declarations: DeclarationService,
    private readonly voucherLifetimeSeconds: number,
    /** RFC 8995 section 5.8: where issued vouchers are logged (audit-log.ts). */
    private readonly auditLog?: MasaAuditLog,
  ) {}

  async requestVoucher(registrarVoucherRequest: string, peer: string): Promise<string> {
    const at = this.ctx.clock.now();
    let serial: string | undefined;
    let registrarOwner: string | undefined;
    try {
      const rvr = verifyRegistrarVoucherRequest(this.ctx.crypto, registrarVoucherRequest, { idevidAnchors: [this.pki.idevidCa.cert], at });
      serial = rvr.serialNumber;
      registrarOwner = partyIdFromSpki(this.ctx.crypto, rvr.domainCa.spki);
      // Every minted device has a declaration from birth: none means we never made it.
      const latest = await this.declarations.latest(serial);
      if (!latest) throw new AirlockError('ERR_MASA_UNKNOWN_DEVICE', serial);
      if (!mayOnboard(latest.body, registrarOwner)) throw new AirlockError('ERR_MASA_NOT_AUTHORIZED', `serial ${serial}`);
      const voucher = signVoucher(this.ctx.crypto, this.pki.masa.key, [this.pki.masa.cert], {
        serialNumber: serial,
        nonce: rvr.nonce,
        pinnedDomainCert: rvr.domainCa,
        createdOn: at,
        expiresOn: new Date(at.getTime() + this.voucherLifetimeSeconds * 1000),
        assertion: 'logged',
      });
      await this.db.transaction().execute(async (trx) => {
        const seen = await trx.insertInto('masa_nonces').values({ serial: serial!, nonce: rvr.nonce, seen_at: at.toISOString() }).onConflict((oc) => oc.doNothing()).executeTakeFirst();
        if (seen.numInsertedOrUpdatedRows === 0n) throw new AirlockError('ERR_VOUCHER_REQUEST_REPLAYED', `serial ${serial}`);
        await this.#audit(trx, at, peer, serial!, 'ok', undefined, { owner: registrarOwner!, declaration: latest.body.sequence });
        await this.auditLog?.record(trx, { serial: serial!, at, domainCa: rvr.domainCa, nonce: rvr.nonce, assertion: 'logged' });
      });
      return voucher;
    } catch (e) {
      const code = isAirlockError(e) ? e.code : 'ERR_INTERNAL';
      await this.#audit(this.db, at, peer, serial ?? null, 'refused', code, registrarOwner ? { owner: registrarOwner } : {});
      throw e;
    }
  }

  async #audit(db: Kysely<ManufacturerDb>, at: Date, actor: string, subject: string | null, outcome: string, code: string | undefined, detail: Record<string, string | number>): Promise<void> {
    await db
      .insertInto('masa_audit')
      .values({ at: at.toISOString(), actor, action: 'requestvoucher', subject, outcome, code: code ?? null, detail: JSON.stringify(detail) })
      .execute();
  }
}
