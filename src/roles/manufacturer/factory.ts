/**
 * Minting (report section 5.1.1 steps 1, 2, 4, 5): a fresh key pair per device, an IEEE
 * 802.1AR IDevID carrying the MASA and MUD URLs, the birth credentials written to the
 * device's own secure store with the manufacturer's trust anchor, and the first declaration.
 */
import { AirlockError } from '../../core/errors.js';
import { toBase64, toHex, utf8 } from '../../core/bytes.js';
import { SecureStoreEntry, type BirthCredentials } from '../../core/credentials.js';
import type { SecureStore } from '../../core/ports.js';
import type { ManufacturerStore } from '../../core/store.js';
import { issueCertificate } from '../../protocols/x509/issue.js';
import { idevidProfile } from '../../protocols/x509/profiles.js';
import { keyStoreOf, type RoleContext } from '../shared/context.js';
import { notBefore } from '../shared/pki.js';
import type { DeclarationService } from './declarations.js';
import type { ManufacturerPki } from './pki.js';
import type { ManufacturerConfig } from './defaults.js';

const SERIAL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class Factory {
  constructor(
    private readonly ctx: RoleContext,
    private readonly store: ManufacturerStore,
    private readonly pki: ManufacturerPki,
    private readonly declarations: DeclarationService,
    private readonly config: ManufacturerConfig,
  ) {}

  /** Mints one device into `store`, its secure element. */
  async mint(
    store: SecureStore,
    opts: { model: string; serialNumber?: string },
  ): Promise<BirthCredentials> {
    const serial = opts.serialNumber ?? `AL-${toHex(this.ctx.crypto.bytes(6)).toUpperCase()}`;
    if (!SERIAL.test(serial))
      throw new AirlockError('ERR_INPUT_SCHEMA', 'serial numbers are 1-64 letters, digits, . _ -');
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(opts.model))
      throw new AirlockError('ERR_INPUT_SCHEMA', 'model names are 1-64 letters, digits, . _ -');
    const at = this.ctx.clock.now();
    const keys = keyStoreOf(this.ctx);
    const key = await keys.generateP256();
    const masaUrl = this.config.publicUrl;
    const mudUrl = `${this.config.mudBaseUrl}/${opts.model}.json`;
    const profile = idevidProfile({
      serialNumber: serial,
      model: opts.model,
      manufacturer: this.config.name,
      masaUrl,
      mudUrl,
      notBefore: notBefore(at),
    });
    const idevid = issueCertificate(this.ctx.crypto, profile, key.spki, this.pki.idevidCa).der;
    const birth: BirthCredentials = {
      serialNumber: serial,
      model: opts.model,
      idevidChain: [toBase64(idevid), toBase64(this.pki.idevidCa.cert.der)],
      idevidKey: toBase64(await keys.exportPkcs8(key)),
      manufacturerAnchor: toBase64(this.pki.root.cert.der),
      masaAnchor: toBase64(this.pki.masaCa.cert.der),
      declarationAnchor: toBase64(this.pki.declarationsCa.cert.der),
      masaUrl,
      mudUrl,
      application: { url: this.config.applicationUrl },
    };
    if (await this.store.run((r) => r.devices.exists(serial)))
      throw new AirlockError('ERR_DEVICE_STATE', `serial ${serial} was already minted`);
    if (await store.read(SecureStoreEntry.birth))
      throw new AirlockError(
        'ERR_DEVICE_STATE',
        'the secure store already holds birth credentials',
      );
    // The device first: a record of a device that holds no birth credentials would be a lie.
    await store.write(SecureStoreEntry.birth, utf8(JSON.stringify(birth)));
    try {
      await this.store.transaction(async (r) => {
        await r.devices.add({ serial, model: opts.model, idevidDer: idevid, masaUrl, mudUrl }, at);
        await this.declarations.issueFirst(r, serial);
      });
    } catch (e) {
      await store.erase(SecureStoreEntry.birth);
      throw e;
    }
    return birth;
  }
}
