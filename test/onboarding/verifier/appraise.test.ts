/**
 * The verifier's appraisal (docs/ATTESTATION.md, "Appraisal and results"): every row of the
 * table, the contradictions it names, and malformed evidence as an error.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  appraiseEvidence,
  earFor,
  evidenceKindOf,
  type ManufacturerEndorsements,
} from '../../../src/onboarding/verifier/appraise.js';
import { deviceTokenMediaType, supplyChainMediaType } from '../../../src/protocols/eat/claims.js';
import { signEat } from '../../../src/protocols/eat/token.js';
import { verifyReferenceValues } from '../../../src/protocols/endorsement/reference-values.js';
import { readEarClaims } from '../../../src/protocols/ear/claims.js';
import { signEar, verifyEar } from '../../../src/protocols/ear/result.js';
import { fromBase64Url, toBase64Url } from '../../../src/core/bytes.js';
import { generateP256Key } from '../../../src/adapters/crypto/node-crypto.js';
import { codeOf } from '../../support/errors.js';
import {
  MODEL,
  NO_SECURE_BOOT_MODEL,
  RELEASES,
  attestationManufacturer,
  attestingDevice,
  crypto,
  measurementsOf,
  newNonce,
  supplyChainEvidence,
  type AttestationManufacturer,
  type AttestingDevice,
} from '../../support/attestation.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const clock = { now: () => NOW };
const ctx = { crypto, clock };

function endorsementsOf(
  m: AttestationManufacturer,
  withReferences = true,
): ManufacturerEndorsements {
  return {
    party: m.party,
    root: m.root.cert,
    endorsementsCa: m.endorsementsCa.cert,
    references: withReferences
      ? verifyReferenceValues(crypto, m.referenceValues(), {
          anchors: [m.endorsementsCa.cert],
          root: m.root.cert,
          at: NOW,
        })
      : undefined,
  };
}

/** One byte of a base64url digest changed. */
function flipByte(digest: string): string {
  const bytes = fromBase64Url(digest)!;
  bytes[7] = bytes[7]! ^ 0x01;
  return toBase64Url(bytes);
}

describe('appraisal of evidence', () => {
  let m: AttestationManufacturer;
  let other: AttestationManufacturer;
  let dev: AttestingDevice;
  let trusted: ManufacturerEndorsements[];
  const nonce = newNonce();

  const appraise = (evidence: string, mediaType = deviceTokenMediaType, n = nonce) =>
    appraiseEvidence(ctx, { mediaType, evidence, nonce: n, manufacturers: trusted });

  beforeAll(async () => {
    m = await attestationManufacturer('Thermo Maker');
    other = await attestationManufacturer('Other Maker');
    dev = await attestingDevice(m, { serial: 'SN-0001', at: NOW });
    // The other manufacturer is trusted too, but endorses only its own attestation CA.
    trusted = [endorsementsOf(other), endorsementsOf(m)];
  });

  describe('device tokens', () => {
    it('affirms a device certified by an endorsed attestation CA, running a released image', () => {
      const a = appraise(dev.token(nonce));
      expect(a.status).toBe('affirming');
      expect(a.vector).toEqual({ 'instance-identity': 2, hardware: 2, executables: 2 });
      expect(a.reasons).toEqual([]);
      expect(a.annotated).toEqual({
        'serial-number': 'SN-0001',
        manufacturer: m.party.id,
        model: MODEL,
        ueid: dev.claims(nonce).ueid,
        swname: RELEASES.released.name,
        swversion: RELEASES.released.version,
        dbgstat: 'disabled',
        oemboot: true,
        profile: 'tag:airlock.example,2026:eat/device/1',
      });
    });

    it('contraindicates an image one byte different from every release (executables 99)', () => {
      const a = appraise(
        dev.token(nonce, {
          measurements: measurementsOf({
            ...RELEASES.released,
            digest: flipByte(RELEASES.released.digest),
          }),
        }),
      );
      expect(a.status).toBe('contraindicated');
      expect(a.vector.executables).toBe(99);
      expect(a.vector['instance-identity']).toBe(2);
      expect(a.reasons).toEqual([`executables: the digest matches no release of ${MODEL}`]);
    });

    it('contraindicates a withdrawn release (executables 96)', () => {
      const w = RELEASES.withdrawn;
      const a = appraise(
        dev.token(nonce, { swversion: [w.version], measurements: measurementsOf(w) }),
      );
      expect(a.status).toBe('contraindicated');
      expect(a.vector.executables).toBe(96);
      expect(a.vector.configuration).toBeUndefined();
      expect(a.reasons).toEqual([
        `executables: ${w.name} ${w.version} of ${MODEL} was withdrawn on ${w['withdrawn-on']}`,
      ]);
    });

    it("contraindicates a token with another session's nonce (instance-identity 97)", () => {
      const a = appraise(dev.token(newNonce()));
      expect(a.status).toBe('contraindicated');
      expect(a.vector['instance-identity']).toBe(97);
      expect(a.reasons).toEqual(["nonce: not this session's"]);
      // The device is still known: the AK certificate is the manufacturer's.
      expect(a.annotated?.['serial-number']).toBe('SN-0001');
    });

    it('contraindicates an AK certified by a CA no trusted manufacturer endorses (97)', async () => {
      const stranger = await attestationManufacturer('Stranger');
      const d = await attestingDevice(stranger, { at: NOW });
      const a = appraise(d.token(nonce));
      expect(a.status).toBe('contraindicated');
      expect(a.vector).toEqual({ 'instance-identity': 97 });
      expect(a.reasons).toEqual([
        'signer: not certified by an attestation CA that a trusted manufacturer endorses',
      ]);
      expect(a.annotated).toBeUndefined();
    });

    it("contraindicates an AK certified by the manufacturer's root itself, not an endorsed attestation CA", async () => {
      const d = await attestingDevice(m, { issuerCa: m.root, at: NOW });
      const a = appraise(d.token(nonce));
      expect(a.vector['instance-identity']).toBe(97);
      expect(a.annotated).toBeUndefined();
    });

    it('contraindicates a token signed by the attestation CA itself (not an AK certificate)', () => {
      const token = signEat(crypto, m.attestationCa.key, [m.attestationCa.cert], dev.claims(nonce));
      const a = appraise(token);
      expect(a.status).toBe('contraindicated');
      expect(a.vector['instance-identity']).toBe(97);
      expect(a.annotated).toBeUndefined();
    });

    it('contraindicates every device when no reference values are held (no endorsed attestation CA)', () => {
      const a = appraiseEvidence(ctx, {
        mediaType: deviceTokenMediaType,
        evidence: dev.token(nonce),
        nonce,
        manufacturers: [endorsementsOf(m, false)],
      });
      expect(a.vector['instance-identity']).toBe(97);
    });

    it('contraindicates a signature that does not verify with the x5c key (97)', () => {
      const forged = signEat(
        crypto,
        generateP256Key(),
        [dev.ak.cert, m.attestationCa.cert],
        dev.claims(nonce),
      );
      const a = appraise(forged);
      expect(a.status).toBe('contraindicated');
      expect(a.vector).toEqual({ 'instance-identity': 97 });
      expect(a.reasons).toEqual(['signature: does not verify with the key of its x5c certificate']);
      expect(a.annotated).toBeUndefined();
    });

    it.each([
      [
        'ueid',
        () => ({ ueid: 'AQ' + 'A'.repeat(21) }),
        'ueid: not derived from the attestation key',
      ],
      [
        'oemid',
        () => ({ oemid: toBase64Url(fromBase64Url(other.party.id)!.subarray(0, 16)) }),
        'oemid: not the manufacturer that certified the attestation key',
      ],
      [
        'hwmodel',
        () => ({
          hwmodel: toBase64Url(crypto.sha256(new TextEncoder().encode('bulb-b1')).subarray(0, 16)),
        }),
        `hwmodel: not ${MODEL}, the model its attestation key certificate names`,
      ],
    ])(
      'contraindicates a %s that contradicts the AK certificate (configuration 96)',
      (_n, o, reason) => {
        const a = appraise(dev.token(nonce, o()));
        expect(a.status).toBe('contraindicated');
        expect(a.vector.configuration).toBe(96);
        // Identity and hardware are not affirmed when the identity claims are inconsistent.
        expect(a.vector['instance-identity']).toBeUndefined();
        expect(a.vector.hardware).toBeUndefined();
        expect(a.reasons).toEqual([reason]);
      },
    );

    it('contraindicates a swversion that is not the measured version', () => {
      const a = appraise(dev.token(nonce, { swversion: ['1.2.0'] }));
      expect(a.status).toBe('contraindicated');
      expect(a.vector.configuration).toBe(96);
      expect(a.reasons).toEqual(['swversion: "1.2.0" claimed, "1.1.0" measured']);
    });

    it('contraindicates a swname that is not the measured component', () => {
      const a = appraise(dev.token(nonce, { swname: 'other-fw' }));
      expect(a.vector.configuration).toBe(96);
      expect(a.reasons).toEqual([
        `swname: "other-fw" claimed, "${RELEASES.released.name}" measured`,
      ]);
    });

    it("contraindicates a measurement whose digest is another version's", () => {
      // The component says 1.1.0, but its digest is that of 1.0.0 (and so it is withdrawn).
      const a = appraise(
        dev.token(nonce, {
          measurements: measurementsOf({ ...RELEASES.released, digest: RELEASES.withdrawn.digest }),
        }),
      );
      expect(a.vector.configuration).toBe(96);
      expect(a.vector.executables).toBe(96);
      expect(a.reasons[0]).toMatch(/^measurements: the digest is that of thermostat-fw 1\.0\.0/);
    });

    it('contraindicates oemboot false on a model with secure boot', () => {
      const a = appraise(dev.token(nonce, { oemboot: false }));
      expect(a.status).toBe('contraindicated');
      expect(a.vector.configuration).toBe(96);
      expect(a.reasons).toEqual([`oemboot: false, but ${MODEL} has secure boot`]);
    });

    it('contraindicates a model that is not in the reference values', async () => {
      const d = await attestingDevice(m, { model: 'kettle-k1', at: NOW });
      const a = appraise(d.token(nonce));
      expect(a.status).toBe('contraindicated');
      expect(a.vector.configuration).toBe(96);
      expect(a.vector.hardware).toBeUndefined();
      expect(a.vector.executables).toBeUndefined();
      expect(a.reasons).toEqual([
        'model: kettle-k1 is not in the reference values of Thermo Maker',
      ]);
      expect(a.annotated?.model).toBe('kettle-k1');
    });

    it('warns of a device whose debug port is enabled (configuration 36)', () => {
      const a = appraise(dev.token(nonce, { dbgstat: 'enabled' }));
      expect(a.status).toBe('warning');
      expect(a.vector).toEqual({
        'instance-identity': 2,
        hardware: 2,
        executables: 2,
        configuration: 36,
      });
      expect(a.reasons).toEqual(['dbgstat: debug is enabled']);
      expect(a.annotated?.dbgstat).toBe('enabled');
    });

    it('keeps the worst finding when several set the same claim', () => {
      const a = appraise(dev.token(nonce, { dbgstat: 'enabled', oemboot: false }));
      expect(a.vector.configuration).toBe(96);
      expect(a.reasons).toHaveLength(2);
    });

    it('contraindicates a token issued in the future beyond the clock skew, not within it', () => {
      const future = Math.floor(NOW.getTime() / 1000) + 301;
      expect(appraise(dev.token(nonce, { iat: future })).vector['instance-identity']).toBe(97);
      const within = Math.floor(NOW.getTime() / 1000) + 299;
      expect(appraise(dev.token(nonce, { iat: within })).status).toBe('affirming');
      expect(
        appraiseEvidence(ctx, {
          mediaType: deviceTokenMediaType,
          evidence: dev.token(nonce, { iat: future }),
          nonce,
          manufacturers: trusted,
          clockSkewSeconds: 600,
        }).status,
      ).toBe('affirming');
    });
  });

  describe('supply-chain evidence', () => {
    it('warns: the manufacturer vouches for the image, but nothing is measured at run time', () => {
      const a = appraise(
        supplyChainEvidence(m, { serial: 'SN-B1', at: NOW }),
        supplyChainMediaType,
      );
      expect(a.status).toBe('warning');
      expect(a.vector).toEqual({ 'instance-identity': 2, executables: 33 });
      expect(a.annotated).toMatchObject({
        'serial-number': 'SN-B1',
        manufacturer: m.party.id,
        model: NO_SECURE_BOOT_MODEL,
        swversion: RELEASES.bulb.version,
        oemboot: false,
        profile: 'tag:airlock.example,2026:eat/supply-chain/1',
      });
      expect(a.annotated?.dbgstat).toBeUndefined();
      expect(a.reasons).toHaveLength(1);
    });

    it('contraindicates supply-chain evidence for a model with secure boot', () => {
      const a = appraise(
        supplyChainEvidence(m, {
          serial: 'SN-T',
          model: MODEL,
          release: RELEASES.released,
          at: NOW,
        }),
        supplyChainMediaType,
      );
      expect(a.status).toBe('contraindicated');
      expect(a.vector.configuration).toBe(96);
      expect(a.reasons.some((r) => r.includes(`${MODEL} has secure boot`))).toBe(true);
    });

    it('contraindicates a tampered image in supply-chain evidence (executables 99)', () => {
      const a = appraise(
        supplyChainEvidence(m, {
          serial: 'SN-B2',
          release: { ...RELEASES.bulb, digest: flipByte(RELEASES.bulb.digest) },
          at: NOW,
        }),
        supplyChainMediaType,
      );
      expect(a.status).toBe('contraindicated');
      expect(a.vector.executables).toBe(99);
    });

    it("contraindicates supply-chain evidence not signed by a trusted manufacturer's endorsements signer", async () => {
      const stranger = await attestationManufacturer('Stranger');
      const a = appraise(
        supplyChainEvidence(m, {
          serial: 'SN-B3',
          signer: { pair: stranger.endorsementsSigner, ca: stranger.endorsementsCa },
          at: NOW,
        }),
        supplyChainMediaType,
      );
      expect(a.vector).toEqual({ 'instance-identity': 97 });
      expect(a.annotated).toBeUndefined();
    });

    it("contraindicates supply-chain evidence signed by the device's AK (not an endorsements signer)", () => {
      const token = signEat(
        crypto,
        dev.ak.key,
        [dev.ak.cert, m.attestationCa.cert],
        JSON.parse(
          new TextDecoder().decode(
            fromBase64Url(supplyChainEvidence(m, { serial: 'SN-B4', at: NOW }).split('.')[1]!)!,
          ),
        ),
      );
      expect(appraise(token, supplyChainMediaType).vector['instance-identity']).toBe(97);
    });

    it('contraindicates an hwmodel that is no model of the reference values', () => {
      const a = appraise(
        supplyChainEvidence(m, { serial: 'SN-B5', model: 'kettle-k1', at: NOW }),
        supplyChainMediaType,
      );
      expect(a.status).toBe('contraindicated');
      expect(a.vector.configuration).toBe(96);
      expect(a.annotated).toBeUndefined();
    });
  });

  describe('malformed evidence and unknown media types', () => {
    it('refuses what is not a JWS as ERR_EAT_MALFORMED', () => {
      expect(codeOf(() => appraise('not a token'))).toBe('ERR_EAT_MALFORMED');
      expect(codeOf(() => appraise('a.b.c'))).toBe('ERR_EAT_MALFORMED');
    });

    it('refuses a token without x5c as ERR_EAT_MALFORMED', () => {
      const token = signEat(crypto, dev.ak.key, [], dev.claims(nonce));
      expect(codeOf(() => appraise(token))).toBe('ERR_EAT_MALFORMED');
    });

    it('refuses claims that do not match the profile as ERR_EAT_MALFORMED', () => {
      expect(codeOf(() => appraise(dev.token(nonce, { eat_nonce: undefined })))).toBe(
        'ERR_EAT_MALFORMED',
      );
      expect(codeOf(() => appraise(dev.token(nonce, { swversion: '1.1.0' })))).toBe(
        'ERR_EAT_MALFORMED',
      );
      // A device token sent as supply-chain evidence does not match that profile.
      expect(codeOf(() => appraise(dev.token(nonce), supplyChainMediaType))).toBe(
        'ERR_EAT_MALFORMED',
      );
    });

    it('refuses a measured component that is not JSON, and a token with two of them', () => {
      expect(codeOf(() => appraise(dev.token(nonce, { measurements: [[65000, '{']] })))).toBe(
        'ERR_EAT_MALFORMED',
      );
      const two = [...measurementsOf(RELEASES.released), ...measurementsOf(RELEASES.withdrawn)];
      expect(codeOf(() => appraise(dev.token(nonce, { measurements: two })))).toBe(
        'ERR_EAT_MALFORMED',
      );
      expect(codeOf(() => appraise(dev.token(nonce, { measurements: [[1, 'x']] })))).toBe(
        'ERR_EAT_MALFORMED',
      );
    });

    it('refuses a media type it does not appraise as ERR_INPUT_MEDIA_TYPE', () => {
      expect(codeOf(() => appraise(dev.token(nonce), 'application/eat+jwt'))).toBe(
        'ERR_INPUT_MEDIA_TYPE',
      );
      expect(codeOf(() => appraise(dev.token(nonce), 'application/json'))).toBe(
        'ERR_INPUT_MEDIA_TYPE',
      );
      expect(
        codeOf(() =>
          appraise(dev.token(nonce), 'application/eat+jwt; eat_profile="tag:other,2026:x"'),
        ),
      ).toBe('ERR_INPUT_MEDIA_TYPE');
    });

    it('reads media types by their parts, not their spelling', () => {
      expect(evidenceKindOf(deviceTokenMediaType)).toBe('device');
      expect(evidenceKindOf(supplyChainMediaType)).toBe('supply-chain');
      expect(
        evidenceKindOf('Application/EAT+JWT;EAT_PROFILE=tag:airlock.example,2026:eat/device/1'),
      ).toBe('device');
      expect(
        evidenceKindOf('application/eat+jwt; eat_profile="TAG:airlock.example,2026:eat/device/1"'),
      ).toBe(undefined);
      expect(
        evidenceKindOf(
          `${deviceTokenMediaType}; eat_profile="tag:airlock.example,2026:eat/device/1"`,
        ),
      ).toBe(undefined);
      expect(
        evidenceKindOf('application/eat+cwt; eat_profile="tag:airlock.example,2026:eat/device/1"'),
      ).toBe(undefined);
    });
  });

  describe('the EAR', () => {
    const opts = {
      nonce,
      iat: 1_780_000_000,
      developer: 'Airlock',
      build: 'airlock 0.1.0',
      policyId: 'tag:airlock.example,2026:appraisal/1',
    };

    it('names the submodule by the serial number, and carries the vector, reasons and annotated evidence', () => {
      const a = appraise(dev.token(nonce, { dbgstat: 'enabled' }));
      const ear = readEarClaims(earFor(a, opts));
      expect(ear.eat_profile).toBe('tag:github.com,2023:veraison/ear');
      expect(ear.eat_nonce).toBe(nonce);
      expect(ear.iat).toBe(opts.iat);
      expect(ear['ear.verifier-id']).toEqual({ developer: 'Airlock', build: 'airlock 0.1.0' });
      expect(Object.keys(ear.submods)).toEqual(['SN-0001']);
      const sub = ear.submods['SN-0001']!;
      expect(sub['ear.status']).toBe('warning');
      expect(sub['ear.trustworthiness-vector']).toEqual(a.vector);
      expect(sub['ear.appraisal-policy-id']).toBe(opts.policyId);
      expect(sub['ear.airlock.reasons']).toEqual(['dbgstat: debug is enabled']);
      expect(sub['ear.veraison.annotated-evidence']).toEqual(a.annotated);
    });

    it("names it 'device' when the signer is unknown, without annotated evidence", async () => {
      const stranger = await attestingDevice(await attestationManufacturer('Stranger'), {
        at: NOW,
      });
      const ear = earFor(appraise(stranger.token(nonce)), opts);
      expect(Object.keys(ear.submods)).toEqual(['device']);
      expect(ear.submods.device!['ear.status']).toBe('contraindicated');
      expect(ear.submods.device!['ear.veraison.annotated-evidence']).toBeUndefined();
    });

    it('signs and verifies with the verifier key, and with no other', () => {
      const key = generateP256Key();
      const jwt = signEar(crypto, key, 'kid-1', earFor(appraise(dev.token(nonce)), opts));
      expect(verifyEar(crypto, jwt, key.spki).submods['SN-0001']!['ear.status']).toBe('affirming');
      expect(codeOf(() => verifyEar(crypto, jwt, generateP256Key().spki))).toBe(
        'ERR_EAR_UNTRUSTED',
      );
    });
  });
});
