/**
 * Onboarding credentials (step 15): LDevIDs from the domain CA, revocation of the ones they
 * supersede, the CRL (RFC 5280 section 5, numbered and persisted), the keys certified per
 * device (so that a key is certified for one device only, once), and per-device Wi-Fi PSKs,
 * sealed at rest.
 */
import type { Kysely } from 'kysely';
import { toBase64Url } from '../../core/bytes.js';
import { AirlockError } from '../../core/errors.js';
import type { NetworkDb } from '../../adapters/store/schema.js';
import { prepared, type Params } from '../../adapters/store/prepared.js';
import { issueCertificate, issueCrl } from '../../protocols/x509/issue.js';
import type { Sealer } from '../../adapters/crypto/seal.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import { ldevidProfile } from '../../protocols/x509/profiles.js';
import type { RoleContext } from '../shared/context.js';
import { notBefore } from '../shared/pki.js';
import type { NetworkPki } from './pki.js';

/** The CRL is re-signed when this little of its validity is left. */
const CRL_REFRESH_MS = 3_600_000;
const CRL_VALIDITY_MS = 7 * 86_400_000;
export const CRL_PATH = '/.well-known/airlock/crl';

/** The statements of every enrollment, each compiled once (adapters/store/prepared.ts). */
const sql = {
  /** Binds a key to a device; a key bound before (to any device, in any role) is not bound again. */
  bindKey: prepared((db: Kysely<NetworkDb>, p: Params<'fingerprint' | 'serial' | 'kind' | 'certificate' | 'at'>) =>
    db.insertInto('net_certified_keys').values({ fingerprint: p.fingerprint, device_serial: p.serial, kind: p.kind, certificate_serial: p.certificate, recorded_at: p.at })
      .onConflict((oc) => oc.column('fingerprint').doNothing())),
  /** A renewal that keeps the key: the binding moves to the new certificate. */
  rebindKey: prepared((db: Kysely<NetworkDb>, p: Params<'fingerprint' | 'serial' | 'previous' | 'certificate' | 'at'>) =>
    db.updateTable('net_certified_keys').set({ certificate_serial: p.certificate, recorded_at: p.at })
      .where('fingerprint', '=', p.fingerprint).where('device_serial', '=', p.serial).where('kind', '=', 'ldevid').where('certificate_serial', '=', p.previous)),
  keyKind: prepared((db: Kysely<NetworkDb>, p: Params<'fingerprint'>) => db.selectFrom('net_certified_keys').select('kind').where('fingerprint', '=', p.fingerprint)),
  supersede: prepared((db: Kysely<NetworkDb>, p: Params<'serial' | 'at'>) =>
    db.updateTable('net_certificates').set({ revoked_at: p.at, revocation_reason: 'superseded' }).where('device_serial', '=', p.serial).where('revoked_at', 'is', null)),
  certificate: prepared((db: Kysely<NetworkDb>, p: Params<'serial' | 'device' | 'notBefore' | 'notAfter' | 'at'>) =>
    db.insertInto('net_certificates').values({ serial: p.serial, device_serial: p.device, not_before: p.notBefore, not_after: p.notAfter, issued_at: p.at, revoked_at: null, revocation_reason: null })),
  retirePsks: prepared((db: Kysely<NetworkDb>, p: Params<'serial' | 'at'>) =>
    db.updateTable('net_psks').set({ retired_at: p.at }).where('device_serial', '=', p.serial).where('retired_at', 'is', null)),
  psk: prepared((db: Kysely<NetworkDb>, p: Params<'id' | 'serial' | 'sealed' | 'at'>) =>
    db.insertInto('net_psks').values({ id: p.id, device_serial: p.serial, sealed_psk: p.sealed, created_at: p.at, retired_at: null })),
  certificateState: prepared((db: Kysely<NetworkDb>, p: Params<'serial'>) => db.selectFrom('net_certificates').select(['device_serial', 'revoked_at']).where('serial', '=', p.serial)),
};

export class CredentialIssuer {
  #crl: { der: Uint8Array; nextUpdate: Date; revocations: string } | undefined;
  /** Where LDevIDs say the CRL is (cRLDistributionPoints); set when the registrar knows its URL. */
  #crlUrl: string | undefined;

  constructor(
    private readonly ctx: RoleContext,
    private readonly db: Kysely<NetworkDb>,
    private readonly pki: NetworkPki,
    private readonly sealer: Sealer,
    private readonly opts: { ownerName: string; ldevidValidityDays: number },
  ) {}

  /** The registrar's public base URL (https://host:port): LDevIDs name its CRL from now on. */
  setPublicUrl(baseUrl: string): void {
    this.#crlUrl = `${baseUrl.replace(/\/+$/, '')}${CRL_PATH}`;
  }

  get crlUrl(): string | undefined {
    return this.#crlUrl;
  }

  /** Signs an LDevID; the caller records it with `recordLdevid` in its transaction. */
  signLdevid(serial: string, spki: Uint8Array): Certificate {
    const at = this.ctx.clock.now();
    const template = ldevidProfile({
      serialNumber: serial,
      domain: this.opts.ownerName,
      notBefore: notBefore(at),
      notAfter: new Date(at.getTime() + this.opts.ldevidValidityDays * 86_400_000),
      ...(this.#crlUrl ? { crlUrl: this.#crlUrl } : {}),
    });
    return issueCertificate(this.ctx.crypto, template, spki, this.pki.domainCa);
  }

  /** The fingerprint under which a key is recorded: SHA-256 of its SubjectPublicKeyInfo, base64url. */
  fingerprint(spki: Uint8Array): string {
    return toBase64Url(this.ctx.crypto.sha256(spki));
  }

  /** Records a device's birth key as certified for it (with its voucher): no CSR may reuse it. */
  async recordBirthKey(trx: Kysely<NetworkDb>, serial: string, idevid: Certificate): Promise<void> {
    await sql.bindKey.run(trx, { fingerprint: this.fingerprint(idevid.spki), serial, kind: 'idevid', certificate: idevid.serial, at: this.ctx.clock.now().toISOString() });
  }

  /**
   * Records a new LDevID, binds its key to the device (a key already bound to any device,
   * this one's superseded keys included, is ERR_CSR_KEY unless `sameKeyAs` names the current
   * LDevID whose key it is: an RFC 7030 renewal without rekeying), and revokes every earlier
   * LDevID of the device (superseded).
   */
  async recordLdevid(trx: Kysely<NetworkDb>, serial: string, cert: Certificate, sameKeyAs?: string): Promise<void> {
    const at = this.ctx.clock.now().toISOString();
    const fingerprint = this.fingerprint(cert.spki);
    const rebound = sameKeyAs === undefined ? 0n : (await sql.rebindKey.run(trx, { fingerprint, serial, previous: sameKeyAs, certificate: cert.serial, at })).numAffectedRows;
    if (rebound !== 1n) {
      const bound = await sql.bindKey.run(trx, { fingerprint, serial, kind: 'ldevid', certificate: cert.serial, at });
      if (bound.numAffectedRows !== 1n) {
        const held = await sql.keyKind.first(trx, { fingerprint });
        throw new AirlockError('ERR_CSR_KEY', held?.kind === 'idevid' ? 'the key is a birth key' : 'the key is already certified');
      }
    }
    await sql.supersede.run(trx, { serial, at });
    await sql.certificate.run(trx, { serial: cert.serial, device: serial, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(), at });
  }

  /** A new per-device PSK (a WPA2 passphrase of 32 characters, 192 bits), sealed for storage. */
  async newPsk(trx: Kysely<NetworkDb>, serial: string): Promise<{ id: string; psk: string }> {
    const at = this.ctx.clock.now().toISOString();
    const psk = toBase64Url(this.ctx.crypto.bytes(24));
    const id = `psk-${toBase64Url(this.ctx.crypto.bytes(9))}`;
    await sql.retirePsks.run(trx, { serial, at });
    await sql.psk.run(trx, { id, serial, sealed: this.sealer.seal(psk, `net_psks:${id}`), at });
    return { id, psk };
  }

  /** Whether an LDevID of ours is current (issued by us, not revoked). */
  async isCurrent(serialHex: string, db: Kysely<NetworkDb> = this.db): Promise<{ device: string } | undefined> {
    const row = await sql.certificateState.first(db, { serial: serialHex });
    return row && row.revoked_at === null ? { device: row.device_serial } : undefined;
  }

  /**
   * The domain CA's CRL. A new one, with the next cRLNumber, is signed when the set of
   * revocations changed or the latest is near its next update; every CRL is kept in the
   * database, so the number never goes back and every registrar sharing it serves the same.
   */
  async crl(): Promise<Uint8Array> {
    const now = this.ctx.clock.now();
    const revoked = await this.db.selectFrom('net_certificates').select(['serial', 'revoked_at', 'revocation_reason']).where('revoked_at', 'is not', null).orderBy('serial').execute();
    const revocations = toBase64Url(this.ctx.crypto.sha256(new TextEncoder().encode(revoked.map((r) => `${r.serial}:${r.revoked_at}:${r.revocation_reason}`).join('\n'))));
    const fresh = (c: { nextUpdate: Date; revocations: string }) => c.revocations === revocations && c.nextUpdate.getTime() - now.getTime() > CRL_REFRESH_MS;
    if (this.#crl && fresh(this.#crl)) return this.#crl.der;
    return this.db.transaction().execute(async (trx) => {
      const latest = await trx.selectFrom('net_crls').selectAll().orderBy('crl_number', 'desc').limit(1).executeTakeFirst();
      if (latest) {
        const cached = { der: new Uint8Array(latest.der), nextUpdate: new Date(latest.next_update), revocations: latest.revocations };
        if (fresh(cached)) return (this.#crl = cached).der;
      }
      const crlNumber = (latest?.crl_number ?? 0) + 1;
      const nextUpdate = new Date(now.getTime() + CRL_VALIDITY_MS);
      const der = issueCrl(this.ctx.crypto, this.pki.domainCa, {
        entries: revoked.map((r) => ({ serial: r.serial, revokedAt: new Date(r.revoked_at!), reason: r.revocation_reason === 'superseded' ? 'superseded' : 'unspecified' })),
        thisUpdate: now,
        nextUpdate,
        crlNumber,
      });
      await trx.insertInto('net_crls').values({ crl_number: crlNumber, this_update: now.toISOString(), next_update: nextUpdate.toISOString(), revocations, der }).execute();
      this.#crl = { der, nextUpdate, revocations };
      return der;
    });
  }
}
