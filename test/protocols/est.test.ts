import { describe, expect, it } from 'vitest';
import { generateP256Key } from '../../src/adapters/crypto/node-crypto.js';
import { buildCsr, csrAttributes, decodeCsrBody, verifyCsr } from '../../src/protocols/est/csr.js';
import { decodeCertsOnly, encodeCertsOnly } from '../../src/protocols/est/certs-only.js';
import { crypto, manufacturerPki } from '../support/pki.js';
import { toBase64 } from '../../src/core/bytes.js';

describe('EST (RFC 7030) messages', () => {
  it('verifies a P-256 request built on the device, and binds it to its key', () => {
    const key = generateP256Key();
    const csr = verifyCsr(crypto, decodeCsrBody(toBase64(buildCsr(crypto, key, 'SN-1'))));
    expect(Buffer.from(csr.spki)).toEqual(Buffer.from(key.spki));
  });

  it('refuses a request whose signature does not match its key', () => {
    const der = buildCsr(crypto, generateP256Key(), 'SN-1');
    der[der.length - 5] = der[der.length - 5]! ^ 0x01;
    expect(() => verifyCsr(crypto, der)).toThrow(expect.objectContaining({ code: 'ERR_CSR_SIGNATURE' }));
    // A request signed by another key than the one it names.
    const other = generateP256Key();
    const forged = buildCsr(crypto, { ...other, spki: generateP256Key().spki }, 'SN-1');
    expect(() => verifyCsr(crypto, forged)).toThrow(expect.objectContaining({ code: 'ERR_CSR_SIGNATURE' }));
  });

  it('refuses garbage and non-base64 bodies with ERR_CSR_MALFORMED', () => {
    expect(() => decodeCsrBody('%%%')).toThrow(expect.objectContaining({ code: 'ERR_CSR_MALFORMED' }));
    expect(() => verifyCsr(crypto, new Uint8Array([0x30, 0x02, 0x05, 0x00]))).toThrow(expect.objectContaining({ code: 'ERR_CSR_MALFORMED' }));
    expect(() => verifyCsr(crypto, new Uint8Array([0x30, 0x84, 0, 0, 0, 1]))).toThrow(expect.objectContaining({ code: 'ERR_CSR_MALFORMED' }));
  });

  it('round-trips certs-only responses', async () => {
    const { root, idevidCa } = await manufacturerPki();
    const body = encodeCertsOnly([root.cert.der, idevidCa.cert.der]);
    expect(decodeCertsOnly(body).map((c) => Buffer.from(c))).toEqual([Buffer.from(root.cert.der), Buffer.from(idevidCa.cert.der)]);
    expect(() => decodeCertsOnly(toBase64(root.cert.der))).toThrow(expect.objectContaining({ code: 'ERR_CERT_MALFORMED' }));
  });

  it('asks for ECDSA with SHA-256 on P-256 in csrattrs', () => {
    expect(toBase64(csrAttributes())).toBe('MCEGCCqGSM49BAMCMBUGByqGSM49AgExCgYIKoZIzj0DAQc=');
  });
});
