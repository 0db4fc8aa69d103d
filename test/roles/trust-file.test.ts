import { describe, expect, it } from 'vitest';
import { decodeTrustFile, encodeTrustFile } from '../../src/roles/shared/trust.js';
import { caProfile, signerProfile } from '../../src/protocols/x509/profiles.js';
import { crypto, issue, manufacturerPki, T0 } from '../support/pki.js';

const at = new Date('2027-01-01T00:00:00Z');

describe('manufacturer trust files', async () => {
  const pki = await manufacturerPki();
  const other = await manufacturerPki('Other');
  const trust = {
    root: pki.root.cert,
    idevidCa: pki.idevidCa.cert,
    masaCa: pki.masaCa.cert,
    declarationsCa: pki.declarationsCa.cert,
  };

  it('round-trip', () => {
    const back = decodeTrustFile(crypto, JSON.parse(JSON.stringify(encodeTrustFile(trust))), at);
    expect(back.masaCa.der).toEqual(pki.masaCa.cert.der);
    expect(back.declarationsCa.der).toEqual(pki.declarationsCa.cert.der);
  });

  it('refuse a purpose CA from another root, a leaf in a CA slot, and anything else', () => {
    const file = encodeTrustFile(trust);
    expect(() =>
      decodeTrustFile(
        crypto,
        { ...file, masaCa: encodeTrustFile({ ...trust, masaCa: other.masaCa.cert }).masaCa },
        at,
      ),
    ).toThrow(expect.objectContaining({ code: 'ERR_CERT_UNTRUSTED' }));
    expect(() =>
      decodeTrustFile(
        crypto,
        {
          ...file,
          declarationsCa: encodeTrustFile({ ...trust, declarationsCa: pki.declarationSigner.cert })
            .declarationsCa,
        },
        at,
      ),
    ).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
    expect(() => decodeTrustFile(crypto, { ...file, format: 'x' }, at)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG' }),
    );
    expect(() => decodeTrustFile(crypto, null, at)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG' }),
    );
    expect(() => decodeTrustFile(crypto, { ...file, root: 'AAAA' }, at)).toThrow(
      expect.objectContaining({ code: 'ERR_CERT_MALFORMED' }),
    );
  });

  describe('with the attestation and endorsements CAs', async () => {
    const caUnder = (name: string, root: typeof pki.root) =>
      issue(
        caProfile({
          name,
          notBefore: T0,
          notAfter: new Date('2046-01-01T00:00:00Z'),
          pathLength: 0,
        }),
        root,
      );
    const attestationCa = await caUnder('Test Maker Attestation CA', pki.root);
    const endorsementsCa = await caUnder('Test Maker Endorsements CA', pki.root);
    const foreignCa = await caUnder('Other Attestation CA', other.root);
    const endorsementsSigner = await issue(
      signerProfile({
        name: 'Test Maker Endorsements',
        notBefore: T0,
        notAfter: new Date('2031-01-01T00:00:00Z'),
      }),
      endorsementsCa,
    );
    const full = {
      ...trust,
      attestationCa: attestationCa.cert,
      endorsementsCa: endorsementsCa.cert,
    };

    it('round-trip with both; a file written before them still reads, without them', () => {
      const file = encodeTrustFile(full);
      expect(file.attestationCa).toBeTypeOf('string');
      expect(file.endorsementsCa).toBeTypeOf('string');
      const back = decodeTrustFile(crypto, JSON.parse(JSON.stringify(file)), at);
      expect(back.attestationCa!.der).toEqual(attestationCa.cert.der);
      expect(back.endorsementsCa!.der).toEqual(endorsementsCa.cert.der);
      const old = encodeTrustFile(trust);
      expect('attestationCa' in old || 'endorsementsCa' in old).toBe(false);
      const read = decodeTrustFile(crypto, old, at);
      expect(read.attestationCa).toBeUndefined();
      expect(read.endorsementsCa).toBeUndefined();
      expect(read.idevidCa.der).toEqual(pki.idevidCa.cert.der);
    });

    it('refuses one from another root, a leaf in their place, or a value that is no certificate', () => {
      const file = encodeTrustFile(full);
      const b64 = (c: typeof attestationCa) =>
        encodeTrustFile({ ...trust, attestationCa: c.cert }).attestationCa!;
      expect(() => decodeTrustFile(crypto, { ...file, attestationCa: b64(foreignCa) }, at)).toThrow(
        expect.objectContaining({ code: 'ERR_CERT_UNTRUSTED' }),
      );
      expect(() =>
        decodeTrustFile(crypto, { ...file, endorsementsCa: b64(foreignCa) }, at),
      ).toThrow(expect.objectContaining({ code: 'ERR_CERT_UNTRUSTED' }));
      expect(() =>
        decodeTrustFile(crypto, { ...file, endorsementsCa: b64(endorsementsSigner) }, at),
      ).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
      expect(() => decodeTrustFile(crypto, { ...file, attestationCa: null }, at)).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG' }),
      );
      expect(() => decodeTrustFile(crypto, { ...file, attestationCa: 'AAAA' }, at)).toThrow(
        expect.objectContaining({ code: 'ERR_CERT_MALFORMED' }),
      );
    });

    it('carries the MUD CA (docs/INTENT.md) the same way: round-trip, optional, from the root only', async () => {
      const mudCa = await caUnder('Test Maker MUD CA', pki.root);
      const file = encodeTrustFile({ ...full, mudCa: mudCa.cert });
      expect(decodeTrustFile(crypto, JSON.parse(JSON.stringify(file)), at).mudCa!.der).toEqual(
        mudCa.cert.der,
      );
      expect(decodeTrustFile(crypto, encodeTrustFile(full), at).mudCa).toBeUndefined();
      const foreign = encodeTrustFile({ ...trust, mudCa: foreignCa.cert }).mudCa!;
      expect(() => decodeTrustFile(crypto, { ...file, mudCa: foreign }, at)).toThrow(
        expect.objectContaining({ code: 'ERR_CERT_UNTRUSTED' }),
      );
      const leaf = encodeTrustFile({ ...trust, mudCa: endorsementsSigner.cert }).mudCa!;
      expect(() => decodeTrustFile(crypto, { ...file, mudCa: leaf }, at)).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG' }),
      );
    });
  });
});
