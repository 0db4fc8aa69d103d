/**
 * Attestation test material made with the project's own issuer: a manufacturer's PKI as
 * docs/ATTESTATION.md describes it (root, attestation CA, endorsements CA and signer), its
 * reference values, devices with an attestation key (AK) certificate, and their tokens.
 */
import { generateP256Key, type NodePrivateKey } from '../../src/adapters/crypto/node-crypto.js';
import { partyIdFromSpki, type Party } from '../../src/core/party.js';
import { toBase64, toBase64Url, utf8 } from '../../src/core/bytes.js';
import { issueCertificate } from '../../src/protocols/x509/issue.js';
import {
  IDEVID_NOT_AFTER,
  caProfile,
  cn,
  org,
  serialNumberAttr,
  signerProfile,
} from '../../src/protocols/x509/profiles.js';
import {
  signReferenceValues,
  type FirmwareRelease,
  type ReferenceValuesBody,
} from '../../src/protocols/endorsement/reference-values.js';
import {
  AIRLOCK_DEVICE_PROFILE,
  AIRLOCK_SUPPLY_CHAIN_PROFILE,
} from '../../src/protocols/eat/claims.js';
import { signEat } from '../../src/protocols/eat/token.js';
import { encodeMeasurement } from '../../src/protocols/eat/measured-component.js';
import { hwmodelOf, oemidOf, ueidOf } from '../../src/protocols/eat/identifiers.js';
import { crypto, issue, T0, type Pair } from './pki.js';

export { crypto, T0 };

const inYears = (n: number) => new Date(T0.getTime() + n * 365 * 86_400_000);

export const MODEL = 'thermostat-t1';
export const NO_SECURE_BOOT_MODEL = 'bulb-b1';
export const FIRMWARE = 'thermostat-fw';
export const BULB_FIRMWARE = 'bulb-fw';

/** The SHA-256 (base64url) of an image: here, of a label, so each version has its own digest. */
export function digestOf(image: string): string {
  return toBase64Url(crypto.sha256(utf8(image)));
}

/** 1.0.0 (withdrawn) and 1.1.0 (released) of the thermostat; 2.0.0 (released) of the bulb. */
export const RELEASES = {
  withdrawn: {
    name: FIRMWARE,
    version: '1.0.0',
    digest: digestOf('thermostat 1.0.0'),
    status: 'withdrawn',
    'released-on': '2026-01-02T00:00:00Z',
    'withdrawn-on': '2026-02-01T00:00:00Z',
  },
  released: {
    name: FIRMWARE,
    version: '1.1.0',
    digest: digestOf('thermostat 1.1.0'),
    status: 'released',
    'released-on': '2026-02-01T00:00:00Z',
  },
  bulb: {
    name: BULB_FIRMWARE,
    version: '2.0.0',
    digest: digestOf('bulb 2.0.0'),
    status: 'released',
    'released-on': '2026-02-01T00:00:00Z',
  },
} satisfies Record<string, FirmwareRelease>;

export interface AttestationManufacturer {
  name: string;
  party: Party;
  root: Pair;
  attestationCa: Pair;
  endorsementsCa: Pair;
  endorsementsSigner: Pair;
  /** The reference values body (sequence 1 unless given), with both models. */
  body(overrides?: Partial<ReferenceValuesBody>): ReferenceValuesBody;
  /** A signed reference values document. */
  referenceValues(overrides?: Partial<ReferenceValuesBody>): string;
}

export async function attestationManufacturer(
  name = 'Thermo Maker',
): Promise<AttestationManufacturer> {
  const root = await issue(
    caProfile({ name: `${name} Root`, notBefore: T0, notAfter: inYears(20) }),
  );
  const attestationCa = await issue(
    caProfile({
      name: `${name} Attestation CA`,
      notBefore: T0,
      notAfter: inYears(20),
      pathLength: 0,
    }),
    root,
  );
  const endorsementsCa = await issue(
    caProfile({
      name: `${name} Endorsements CA`,
      notBefore: T0,
      notAfter: inYears(20),
      pathLength: 0,
    }),
    root,
  );
  const endorsementsSigner = await issue(
    signerProfile({ name: `${name} Endorsements`, notBefore: T0, notAfter: inYears(5) }),
    endorsementsCa,
  );
  const party = { id: partyIdFromSpki(crypto, root.cert.spki), name };
  const body = (o: Partial<ReferenceValuesBody> = {}): ReferenceValuesBody => ({
    manufacturer: party,
    sequence: 1,
    'issued-on': '2026-02-01T00:00:00Z',
    'attestation-cas': [toBase64(attestationCa.cert.der)],
    models: {
      [MODEL]: { 'secure-boot': true, firmware: [RELEASES.withdrawn, RELEASES.released] },
      [NO_SECURE_BOOT_MODEL]: { 'secure-boot': false, firmware: [RELEASES.bulb] },
    },
    ...o,
  });
  return {
    name,
    party,
    root,
    attestationCa,
    endorsementsCa,
    endorsementsSigner,
    body,
    referenceValues: (o) =>
      signReferenceValues(
        crypto,
        endorsementsSigner.key,
        [endorsementsSigner.cert, endorsementsCa.cert],
        body(o),
      ),
  };
}

export interface AttestingDevice {
  serial: string;
  model: string;
  ak: Pair;
  /** A signed device token: the claims of a healthy device, with `overrides` applied. */
  token(nonce: string, overrides?: Record<string, unknown>): string;
  claims(nonce: string, overrides?: Record<string, unknown>): Record<string, unknown>;
}

/** A device with an AK certified by `issuerCa` (default: the manufacturer's attestation CA). */
export async function attestingDevice(
  m: AttestationManufacturer,
  opts: { serial?: string; model?: string; issuerCa?: Pair; at?: Date } = {},
): Promise<AttestingDevice> {
  const serial = opts.serial ?? `SN-${Math.random().toString(36).slice(2, 10)}`;
  const model = opts.model ?? MODEL;
  const issuerCa = opts.issuerCa ?? m.attestationCa;
  const key: NodePrivateKey = generateP256Key();
  const ak: Pair = {
    key,
    cert: issueCertificate(
      crypto,
      {
        subject: [serialNumberAttr(serial), cn(model), org(m.name)],
        notBefore: T0,
        notAfter: IDEVID_NOT_AFTER,
        ca: false,
        keyUsage: ['digitalSignature'],
      },
      key.spki,
      { key: issuerCa.key, cert: issuerCa.cert },
    ),
  };
  const claims = (nonce: string, o: Record<string, unknown> = {}) => ({
    eat_profile: AIRLOCK_DEVICE_PROFILE,
    eat_nonce: nonce,
    ueid: ueidOf(crypto, ak.cert.spki),
    oemid: oemidOf(m.party.id),
    hwmodel: hwmodelOf(crypto, model),
    oemboot: true,
    dbgstat: 'disabled',
    swname: RELEASES.released.name,
    swversion: [RELEASES.released.version],
    measurements: [
      encodeMeasurement({
        name: RELEASES.released.name,
        version: RELEASES.released.version,
        digest: RELEASES.released.digest,
      }),
    ],
    iat: Math.floor((opts.at ?? new Date()).getTime() / 1000),
    ...o,
  });
  return {
    serial,
    model,
    ak,
    claims,
    token: (nonce, o) => signEat(crypto, ak.key, [ak.cert, issuerCa.cert], claims(nonce, o)),
  };
}

/** The measurements claim of one firmware image. */
export function measurementsOf(release: { name: string; version: string; digest: string }) {
  return [encodeMeasurement(release)];
}

/** Supply-chain evidence for a device of `model`, signed by the manufacturer's endorsements signer (or `signer`). */
export function supplyChainEvidence(
  m: AttestationManufacturer,
  opts: {
    serial: string;
    model?: string;
    release?: FirmwareRelease;
    signer?: { pair: Pair; ca: Pair };
    at?: Date;
    overrides?: Record<string, unknown>;
  },
): string {
  const release = opts.release ?? RELEASES.bulb;
  const birthKey = generateP256Key();
  const signer = opts.signer ?? { pair: m.endorsementsSigner, ca: m.endorsementsCa };
  return signEat(crypto, signer.pair.key, [signer.pair.cert, signer.ca.cert], {
    eat_profile: AIRLOCK_SUPPLY_CHAIN_PROFILE,
    ueid: ueidOf(crypto, birthKey.spki),
    oemid: oemidOf(m.party.id),
    hwmodel: hwmodelOf(crypto, opts.model ?? NO_SECURE_BOOT_MODEL),
    oemboot: false,
    'airlock.serial-number': opts.serial,
    swname: release.name,
    swversion: [release.version],
    measurements: measurementsOf(release),
    iat: Math.floor((opts.at ?? new Date()).getTime() / 1000),
    ...opts.overrides,
  });
}

/** A fresh nonce, base64url, of `bytes` bytes. */
export function newNonce(bytes = 32): string {
  return toBase64Url(crypto.bytes(bytes));
}
