import { describe, expect, it } from 'vitest';
import { parseCertificate } from '../../src/protocols/x509/certificate.js';
import { verifyChain } from '../../src/protocols/x509/chain.js';
import { caProfile } from '../../src/protocols/x509/profiles.js';
import { T0, crypto, device, issue, manufacturerPki } from '../support/pki.js';

describe('IEEE 802.1AR IDevID profile', () => {
  it('carries the serial number, MASA and MUD URLs, and never expires', async () => {
    const { idevidCa } = await manufacturerPki();
    const d = await device(idevidCa, 'SN-0042', 'https://masa.example:8443/x');
    expect(d.cert.subjectSerialNumber).toBe('SN-0042');
    expect(d.cert.masaUrl).toBe('https://masa.example:8443/x');
    expect(d.cert.mudUrl).toBe('https://mud.example/m1.json');
    expect(d.cert.notAfter.toISOString()).toBe('9999-12-31T23:59:59.000Z');
    expect(d.cert.isCa).toBe(false);
    expect(d.cert.issuer).toBe(idevidCa.cert.subject);
  });

  it('rejects bytes that are not a certificate with ERR_CERT_MALFORMED', () => {
    expect(() => parseCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]))).toThrow(
      expect.objectContaining({ code: 'ERR_CERT_MALFORMED' }),
    );
    expect(() => parseCertificate(new Uint8Array(0))).toThrow(
      expect.objectContaining({ code: 'ERR_CERT_MALFORMED' }),
    );
  });
});

describe('verifyChain', () => {
  it('builds leaf -> intermediate -> anchor', async () => {
    const { root, idevidCa } = await manufacturerPki();
    const d = await device(idevidCa, 'SN-1');
    const path = verifyChain(crypto, {
      leaf: d.cert,
      intermediates: [idevidCa.cert],
      anchors: [root.cert],
      at: new Date('2027-01-01'),
    });
    expect(path.map((c) => c.subject)).toEqual([
      d.cert.subject,
      idevidCa.cert.subject,
      root.cert.subject,
    ]);
  });

  it('refuses another PKI, an anchor that is not a CA, and a missing intermediate', async () => {
    const a = await manufacturerPki('A');
    const b = await manufacturerPki('B');
    const d = await device(a.idevidCa, 'SN-2');
    const at = new Date('2027-01-01');
    expect(() =>
      verifyChain(crypto, {
        leaf: d.cert,
        intermediates: [a.idevidCa.cert],
        anchors: [b.root.cert],
        at,
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_CERT_UNTRUSTED' }));
    expect(() => verifyChain(crypto, { leaf: d.cert, anchors: [a.root.cert], at })).toThrow(
      expect.objectContaining({ code: 'ERR_CERT_UNTRUSTED' }),
    );
    // Same subject name, other key: the signature decides, not the name.
    const impostor = await issue(
      caProfile({ name: 'A IDevID CA', notBefore: T0, notAfter: new Date('2040-01-01') }),
    );
    expect(() => verifyChain(crypto, { leaf: d.cert, anchors: [impostor.cert], at })).toThrow(
      expect.objectContaining({ code: 'ERR_CERT_UNTRUSTED' }),
    );
  });

  it('honours pathLenConstraint', async () => {
    const { root, idevidCa } = await manufacturerPki();
    // idevidCa has pathLength 0: a CA under it may not issue certificates that chain through it.
    const sub = await issue(
      caProfile({ name: 'Sub CA', notBefore: T0, notAfter: new Date('2040-01-01') }),
      idevidCa,
    );
    const leaf = await device(sub, 'SN-3');
    const at = new Date('2027-01-01');
    expect(idevidCa.cert.pathLength).toBe(0);
    expect(() =>
      verifyChain(crypto, {
        leaf: leaf.cert,
        intermediates: [sub.cert, idevidCa.cert],
        anchors: [root.cert],
        at,
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_CERT_UNTRUSTED' }));
    expect(() =>
      verifyChain(crypto, {
        leaf: leaf.cert,
        intermediates: [sub.cert],
        anchors: [idevidCa.cert],
        at,
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_CERT_UNTRUSTED' }));
    expect(verifyChain(crypto, { leaf: leaf.cert, anchors: [sub.cert], at })).toHaveLength(2);
  });

  it('checks validity at the given time, so that expired corpora are tested with a fixed clock', async () => {
    const { root, signer } = await manufacturerPki();
    expect(() =>
      verifyChain(crypto, { leaf: signer.cert, anchors: [root.cert], at: new Date('2025-06-01') }),
    ).toThrow(expect.objectContaining({ code: 'ERR_CERT_EXPIRED' }));
    expect(() =>
      verifyChain(crypto, { leaf: signer.cert, anchors: [root.cert], at: new Date('2040-06-01') }),
    ).toThrow(expect.objectContaining({ code: 'ERR_CERT_EXPIRED' }));
    expect(
      verifyChain(crypto, { leaf: signer.cert, anchors: [root.cert], at: new Date('2027-06-01') }),
    ).toHaveLength(2);
  });
});
