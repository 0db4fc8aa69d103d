/**
 * Minting (report section 5.1.1 steps 1, 2, 4, 5): a fresh key pair per device, an IEEE
 * 802.1AR IDevID carrying the MASA and MUD URLs, the birth credentials written to the
 * device's own secure store with the manufacturer's trust anchor, and the first declaration.
 *
 * Attestation (docs/ATTESTATION.md): a device of a secure-boot model (every model unless its
 * releases say otherwise) also gets an attestation key, certified by the attestation CA. A
 * device of a model without secure boot cannot attest: it gets instead the manufacturer's
 * supply-chain evidence (an EAT signed by the endorsements signer) naming its birth key and
 * the firmware flashed at the factory, so such a model needs a released firmware to be minted.
 */
import { AirlockError } from '../../core/errors.js';
import { toBase64, toHex, utf8 } from '../../core/bytes.js';
import { SecureStoreEntry, type BirthCredentials } from '../../core/credentials.js';
import type { Party } from '../../core/party.js';
import type { PrivateKeyHandle, SecureStore } from '../../core/ports.js';
import type { FirmwareRecord, ManufacturerStore } from '../../core/store.js';
import {
  AIRLOCK_SUPPLY_CHAIN_PROFILE,
  type AirlockSupplyChainClaims,
} from '../../protocols/eat/claims.js';
import { hwmodelOf, oemidOf, ueidOf } from '../../protocols/eat/identifiers.js';
import { encodeMeasurement } from '../../protocols/eat/measured-component.js';
import { signEat } from '../../protocols/eat/token.js';
import { issueCertificate } from '../../protocols/x509/issue.js';
import { attestationKeyProfile, idevidProfile } from '../../protocols/x509/profiles.js';
import { keyStoreOf, type RoleContext } from '../shared/context.js';
import { notBefore } from '../shared/pki.js';
import type { DeclarationService } from './declarations.js';
import type { FirmwareService } from './firmware.js';
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
    private readonly party: Party,
    private readonly firmware: FirmwareService,
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
    const line = await this.firmware.forMinting(opts.model);
    if (!line.secureBoot && !line.firmware)
      throw new AirlockError(
        'ERR_FIRMWARE_UNKNOWN',
        `model ${opts.model} has no secure boot and no released firmware to vouch for`,
      );
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
      secureBoot: line.secureBoot,
      ...(line.firmware
        ? { firmware: { name: line.firmware.name, version: line.firmware.version } }
        : {}),
    };
    if (line.secureBoot) {
      const ak = await keys.generateP256();
      const akCert = issueCertificate(
        this.ctx.crypto,
        attestationKeyProfile({
          serialNumber: serial,
          model: opts.model,
          manufacturer: this.config.name,
          notBefore: notBefore(at),
        }),
        ak.spki,
        this.pki.attestationCa,
      ).der;
      birth.attestation = {
        key: toBase64(await keys.exportPkcs8(ak)),
        chain: [toBase64(akCert), toBase64(this.pki.attestationCa.cert.der)],
      };
    } else {
      birth.supplyChainEvidence = this.supplyChainEvidence(
        serial,
        opts.model,
        key,
        line.firmware!,
        at,
      );
    }
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
        await this.declarations.issueFirst(r, serial, mudUrl);
      });
    } catch (e) {
      await store.erase(SecureStoreEntry.birth);
      throw e;
    }
    return birth;
  }

  /** The manufacturer's word for a device that cannot attest (docs/ATTESTATION.md, Evidence). */
  private supplyChainEvidence(
    serial: string,
    model: string,
    birthKey: PrivateKeyHandle,
    firmware: FirmwareRecord,
    at: Date,
  ): string {
    const crypto = this.ctx.crypto;
    const claims: AirlockSupplyChainClaims = {
      eat_profile: AIRLOCK_SUPPLY_CHAIN_PROFILE,
      ueid: ueidOf(crypto, birthKey.spki),
      oemid: oemidOf(this.party.id),
      hwmodel: hwmodelOf(crypto, model),
      oemboot: false,
      'airlock.serial-number': serial,
      swname: firmware.name,
      swversion: [firmware.version],
      measurements: [
        encodeMeasurement({
          name: firmware.name,
          version: firmware.version,
          digest: firmware.digest,
        }),
      ],
      iat: Math.floor(at.getTime() / 1000),
    };
    return signEat(
      crypto,
      this.pki.endorsements.key,
      [this.pki.endorsements.cert, this.pki.endorsementsCa.cert],
      claims,
    );
  }
}
