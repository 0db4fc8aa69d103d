/**
 * Onboarding credentials (step 15): LDevIDs from the domain CA, revocation of the ones they
 * supersede, the CRL, and per-device Wi-Fi PSKs, sealed at rest.
 */
import type { Kysely } from 'kysely';
import { toBase64Url } from '../../core/bytes.js';
import type { NetworkDb } from '../../adapters/store/schema.js';
import { issueCrl } from '../../adapters/crypto/issue.js';
import { issueCertificate } from '../../protocols/x509/issue.js';
import type { Sealer } from '../../adapters/crypto/seal.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import { ldevidProfile } from '../../protocols/x509/profiles.js';
import type { RoleContext } from '../shared/context.js';
import { notBefore } from '../shared/pki.js';
import type { NetworkPki } from './pki.js';

export class CredentialIssuer {
  #crl: { der: Uint8Array; nextUpdate: Date } | undefined;

  constructor(
    private readonly ctx: RoleContext,
    private readonly db: Kysely<NetworkDb>,
    private readonly pki: NetworkPki,
    private readonly sealer: Sealer,
    private readonly opts: { ownerName: string; ldevidValidityDays: number },
  ) {}

  /** Signs an LDevID; the caller records it with `recordLdevid` in its transaction. */
  signLdevid(serial: string, spki: Uint8Array): Certificate {
    const at = this.ctx.clock.now();
    const template = ldevidProfile({ serialNumber: serial, domain: this.opts.ownerName, notBefore: notBefore(at), notAfter: new Date(at.getTime() + this.opts.ldevidValidityDays * 86_400_000) });
    return issueCertificate(this.ctx.crypto, template, spki, this.pki.domainCa);
  }

  /** Records a new LDevID and revokes every earlier one of the device (superseded). */
  async recordLdevid(trx: Kysely<NetworkDb>, serial: string, cert: Certificate): Promise<void> {
    const at = this.ctx.clock.now().toISOString();
    await trx
      .updateTable('net_certificates')
      .set({ revoked_at: at, revocation_reason: 'superseded' })
      .where('device_serial', '=', serial)
      .where('revoked_at', 'is', null)
      .execute();
    await trx
      .insertInto('net_certificates')
      .values({ serial: cert.serial, device_serial: serial, not_before: cert.notBefore.toISOString(), not_after: cert.notAfter.toISOString(), issued_at: at, revoked_at: null, revocation_reason: null })
      .execute();
    this.#crl = undefined;
  }

  /** A new per-device PSK (a WPA2 passphrase of 32 characters, 192 bits), sealed for storage. */
  async newPsk(trx: Kysely<NetworkDb>, serial: string): Promise<{ id: string; psk: string }> {
    const at = this.ctx.clock.now().toISOString();
    const psk = toBase64Url(this.ctx.crypto.bytes(24));
    const id = `psk-${toBase64Url(this.ctx.crypto.bytes(9))}`;
    await trx.updateTable('net_psks').set({ retired_at: at }).where('device_serial', '=', serial).where('retired_at', 'is', null).execute();
    await trx.insertInto('net_psks').values({ id, device_serial: serial, sealed_psk: this.sealer.seal(psk, `net_psks:${id}`), created_at: at, retired_at: null }).execute();
    return { id, psk };
  }

  /** Whether an LDevID of ours is current (issued by us, not revoked). */
  async isCurrent(serialHex: string, db: Kysely<NetworkDb> = this.db): Promise<{ device: string } | undefined> {
    const row = await db.selectFrom('net_certificates').select(['device_serial', 'revoked_at']).where('serial', '=', serialHex).executeTakeFirst();
    return row && row.revoked_at === null ? { device: row.device_serial } : undefined;
  }

  /** The domain CA's CRL, re-signed when a revocation happened or it is near its next update. */
  async crl(): Promise<Uint8Array> {
    const now = this.ctx.clock.now();
    if (this.#crl && this.#crl.nextUpdate.getTime() - now.getTime() > 3_600_000) return this.#crl.der;
    const revoked = await this.db.selectFrom('net_certificates').select(['serial', 'revoked_at', 'revocation_reason']).where('revoked_at', 'is not', null).execute();
    const nextUpdate = new Date(now.getTime() + 7 * 86_400_000);
    const der = await issueCrl(
      this.pki.domainCa,
      revoked.map((r) => ({ serial: r.serial, revokedAt: new Date(r.revoked_at!), reason: r.revocation_reason === 'superseded' ? 'superseded' : 'unspecified' })),
      now,
      nextUpdate,
    );
    this.#crl = { der, nextUpdate };
    return der;
  }
}
