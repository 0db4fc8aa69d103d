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
 *
 * Wi-Fi Easy Connect (docs/DPP.md): every device also gets a DPP bootstrapping key (P-256), its
 * private scalar in the birth credentials beside the IDevID key, and its DPP URI (`I:SN=<serial>`,
 * `V:2`, `K:` the key, compressed as wpa_supplicant writes it), which the declarations carry
 * to the device's owner.
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
import { encodeBootstrappingKey } from '../../protocols/dpp/bootstrapping-key.js';
import { dppCurveParams } from '../../protocols/dpp/crypto.js';
import { formatDppUri } from '../../protocols/dpp/uri.js';
import { dppInfoOf } from '../../onboarding/pledge/dpp-bootstrap.js';
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
      dpp: this.dppBootstrap(serial),
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
        await this.declarations.issueFirst(r, serial, mudUrl, birth.dpp?.uri);
      });
    } catch (e) {
      await store.erase(SecureStoreEntry.birth);
      throw e;
    }
    return birth;
  }

  /** A fresh DPP bootstrapping key (P-256) and its URI, for the birth credentials. */
  private dppBootstrap(serial: string): NonNullable<BirthCredentials['dpp']> {
    const curve = 'P-256';
    const pair = this.ctx.crypto.ecGenerate(dppCurveParams(curve).ecCurve);
    // SEC1 compressed (02 or 03 by the parity of y, then x): the shorter URI, as hostap writes it.
    const size = (pair.publicKey.length - 1) / 2;
    const compressed = new Uint8Array(1 + size);
    compressed[0] = 0x02 | (pair.publicKey[2 * size]! & 1);
    compressed.set(pair.publicKey.subarray(1, 1 + size), 1);
    const { spkiDer } = encodeBootstrappingKey(curve, compressed);
    return {
      curve,
      privateKey: toBase64(pair.privateKey),
      uri: formatDppUri({ info: dppInfoOf(serial), version: 2, key: spkiDer }),
    };
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
