import { describe, expect, it } from 'vitest';
import { decodeTrustFile, encodeTrustFile } from '../../src/roles/shared/trust.js';
import { crypto, manufacturerPki } from '../support/pki.js';

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
});
