/**
 * Onboarding credentials (step 15): LDevIDs from the domain CA, revocation of the ones they
 * supersede, the CRL (RFC 5280 section 5, numbered and persisted), the keys certified per
 * device (so that a key is certified for one device only, once), and per-device Wi-Fi PSKs,
 * sealed at rest.
 */
import { fromUtf8, toBase64Url } from '../../core/bytes.js';
import type { PskFileEntry } from '../../protocols/wifi/psk-file.js';
import { AirlockError } from '../../core/errors.js';
import type { NetworkRepositories, NetworkStore } from '../../core/store.js';
import { issueCertificate, issueCrl } from '../../protocols/x509/issue.js';
import type { Sealer } from '../../adapters/crypto/seal.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import { ldevidProfile } from '../../protocols/x509/profiles.js';
import type { RoleContext } from '../shared/context.js';
import { notBefore } from '../shared/pki.js';
import type { NetworkPki } from './pki.js';

/** The CRL is re-signed when this little of its validity is left. */
export const CRL_REFRESH_MS = 3_600_000;
const CRL_VALIDITY_MS = 7 * 86_400_000;
export const CRL_PATH = '/.well-known/airlock/crl';

export class CredentialIssuer {
  /** Where LDevIDs say the CRL is (cRLDistributionPoints); set when the registrar knows its URL. */
  #crlUrl: string | undefined;

  constructor(
    private readonly ctx: RoleContext,
    private readonly store: NetworkStore,
    private readonly pki: Pick<NetworkPki, 'domainCa'>,
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
  async recordBirthKey(r: NetworkRepositories, serial: string, idevid: Certificate): Promise<void> {
    await r.credentials.bindKey(
      {
        fingerprint: this.fingerprint(idevid.spki),
        device: serial,
        kind: 'idevid',
        certificate: idevid.serial,
      },
      this.ctx.clock.now(),
    );
  }

  /**
   * Records a new LDevID, binds its key to the device (a key already bound to any device,
   * this one's superseded keys included, is ERR_CSR_KEY unless `sameKeyAs` names the current
   * LDevID whose key it is: an RFC 7030 renewal without rekeying), and revokes every earlier
   * LDevID of the device (superseded).
   */
  async recordLdevid(
    r: NetworkRepositories,
    serial: string,
    cert: Certificate,
    sameKeyAs?: string,
  ): Promise<void> {
    const at = this.ctx.clock.now();
    const fingerprint = this.fingerprint(cert.spki);
    const rebound =
      sameKeyAs !== undefined &&
      (await r.credentials.rebindKey(
        { fingerprint, device: serial, previous: sameKeyAs, certificate: cert.serial },
        at,
      ));
    if (
      !rebound &&
      !(await r.credentials.bindKey(
        { fingerprint, device: serial, kind: 'ldevid', certificate: cert.serial },
        at,
      ))
    ) {
      const held = await r.credentials.keyKind(fingerprint);
      throw new AirlockError(
        'ERR_CSR_KEY',
        held === 'idevid' ? 'the key is a birth key' : 'the key is already certified',
      );
    }
    await r.credentials.supersede(serial, at);
    await r.credentials.addCertificate(
      { serial: cert.serial, device: serial, notBefore: cert.notBefore, notAfter: cert.notAfter },
      at,
    );
  }

  /**
   * The live Wi-Fi key of every device that may connect, opened, as hostapd's PSK file lists
   * it (protocols/wifi/psk-file.ts). Secret: for that file only.
   */
  async wifiKeys(): Promise<PskFileEntry[]> {
    const rows = await this.store.run((r) => r.radius.wifiKeys());
    return rows.map((row) => ({
      keyId: row.pskId,
      passphrase: fromUtf8(this.sealer.open(row.sealed, `net_psks:${row.pskId}`)),
      ...(row.vlan !== null ? { vlan: row.vlan } : {}),
    }));
  }

  /** A new per-device PSK (a WPA2 passphrase of 32 characters, 192 bits), sealed for storage. */
  async newPsk(r: NetworkRepositories, serial: string): Promise<{ id: string; psk: string }> {
    const psk = toBase64Url(this.ctx.crypto.bytes(24));
    const id = `psk-${toBase64Url(this.ctx.crypto.bytes(9))}`;
    await r.credentials.replacePsk(
      { id, device: serial, sealed: this.sealer.seal(psk, `net_psks:${id}`) },
      this.ctx.clock.now(),
    );
    return { id, psk };
  }

  /** Whether an LDevID of ours is current (issued by us, not revoked). */
  async isCurrent(
    serialHex: string,
    r?: NetworkRepositories,
  ): Promise<{ device: string } | undefined> {
    const row = await (r
      ? r.credentials.certificate(serialHex)
      : this.store.run((x) => x.credentials.certificate(serialHex)));
    return row && row.revokedAt === null ? { device: row.device } : undefined;
  }

  /**
   * The domain CA's CRL. A new one, with the next cRLNumber, is signed when the set of
   * revocations changed or the latest is near its next update. Every CRL is kept in the
   * database and read from it on every request, never from a process's memory: every node
   * sharing the database serves the same CRL, and a revocation made through one is in the CRL
   * the others serve at once. Two nodes that sign the same number at once: the database keeps
   * the first, and the other serves it.
   */
  async crl(): Promise<Uint8Array> {
    for (let attempt = 0; ; attempt++) {
      const now = this.ctx.clock.now();
      // The latest CRL first, then the revocations: revocations only accumulate, so the set read
      // second covers every one the latest CRL covers (read the other way round, under READ
      // COMMITTED, a CRL signed meanwhile by another node could cover more than the set read).
      const latest = await this.store.run((r) => r.credentials.latestCrl());
      const revoked = await this.store.run((r) => r.credentials.revoked());
      const revocations = toBase64Url(
        this.ctx.crypto.sha256(
          new TextEncoder().encode(
            revoked.map((x) => `${x.serial}:${x.revokedAt}:${x.reason}`).join('\n'),
          ),
        ),
      );
      if (
        latest &&
        latest.revocations === revocations &&
        new Date(latest.nextUpdate).getTime() - now.getTime() > CRL_REFRESH_MS
      )
        return latest.der;
      const crlNumber = (latest?.crlNumber ?? 0) + 1;
      const nextUpdate = new Date(now.getTime() + CRL_VALIDITY_MS);
      const der = issueCrl(this.ctx.crypto, this.pki.domainCa, {
        entries: revoked.map((x) => ({
          serial: x.serial,
          revokedAt: new Date(x.revokedAt),
          reason: x.reason === 'superseded' ? 'superseded' : 'unspecified',
        })),
        thisUpdate: now,
        nextUpdate,
        crlNumber,
      });
      const added = await this.store.run((r) =>
        r.credentials.addCrl({
          crlNumber,
          thisUpdate: now.toISOString(),
          nextUpdate: nextUpdate.toISOString(),
          revocations,
          der,
        }),
      );
      if (added) return der;
      // Another node signed this number first: look again (its CRL may cover other revocations).
      if (attempt >= 5)
        throw new AirlockError('ERR_INTERNAL', 'the CRL kept changing while it was signed');
    }
  }
}
