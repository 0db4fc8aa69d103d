import { describe, expect, it } from 'vitest';
import { signVoucher, verifyVoucher } from '../../src/protocols/voucher/voucher.js';
import { signCompact } from '../../src/protocols/jws/compact.js';
import { crypto, device, manufacturerPki } from '../support/pki.js';

const at = new Date('2027-01-01T00:00:00Z');

describe('voucher signer', async () => {
  const pki = await manufacturerPki();
  const domainCa = (await manufacturerPki('Owner')).root;
  const input = { serialNumber: 'SN-1', nonce: 'bm9uY2U=', pinnedDomainCert: domainCa.cert, createdOn: at, assertion: 'logged' as const };
  const ctx = { masaAnchors: [pki.masaCa.cert], serialNumber: 'SN-1', nonce: 'bm9uY2U=', at };

  it('accepts the MASA key certified by the MASA CA', () => {
    const v = verifyVoucher(crypto, signVoucher(crypto, pki.masaSigner.key, [pki.masaSigner.cert], input), ctx);
    expect(v.pinnedDomainCert.der).toEqual(domainCa.cert.der);
  });

  it('refuses any other key under the same root: a device birth key, the root-issued signer, the root itself', async () => {
    const birthKey = await device(pki.idevidCa, 'SN-2');
    for (const signer of [
      { key: birthKey.key, chain: [birthKey.cert, pki.idevidCa.cert] },
      { key: pki.signer.key, chain: [pki.signer.cert] },
      { key: pki.root.key, chain: [pki.root.cert] },
    ]) {
      const forged = signVoucher(crypto, signer.key, signer.chain, input);
      expect(() => verifyVoucher(crypto, forged, ctx)).toThrow(expect.objectContaining({ code: 'ERR_VOUCHER_SIGNER_UNTRUSTED' }));
    }
  });

  it('refuses base64url where YANG binary (standard base64) is required', () => {
    const body = { 'ietf-voucher:voucher': { 'created-on': at.toISOString(), 'serial-number': 'SN-1', nonce: 'bm9uY2U=', 'pinned-domain-cert': 'MIIB-_x' } };
    const jws = signCompact(crypto, pki.masaSigner.key, { alg: 'ES256', x5c: [Buffer.from(pki.masaSigner.cert.der).toString('base64')] }, body);
    expect(() => verifyVoucher(crypto, jws, ctx)).toThrow(expect.objectContaining({ code: 'ERR_VOUCHER_MALFORMED' }));
  });
});
