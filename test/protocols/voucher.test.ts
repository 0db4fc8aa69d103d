import { decodeJws } from '../../src/protocols/jws/json.js';
import { describe, expect, it } from 'vitest';
import {
  meetsMinimumAssertion,
  signVoucher,
  verifyVoucher,
  type VoucherInput,
} from '../../src/protocols/voucher/voucher.js';
import { signCompact } from '../../src/protocols/jws/compact.js';
import { decodeVoucherRequest } from '../../src/protocols/voucher/artifact.js';
import { authorityKeyIdentifier } from '../../src/protocols/voucher/idevid-issuer.js';
import {
  signPledgeVoucherRequest,
  verifyPledgeVoucherRequest,
} from '../../src/protocols/voucher/pledge-voucher-request.js';
import {
  decodePriorSignedVoucherRequest,
  encodePriorSignedVoucherRequest,
  signRegistrarVoucherRequest,
  verifyRegistrarVoucherRequest,
} from '../../src/protocols/voucher/registrar-voucher-request.js';
import { registrarProfile, signerProfile } from '../../src/protocols/x509/profiles.js';
import { normaliseMasaUrl } from '../../src/protocols/x509/masa-url.js';
import { crypto, device, issue, manufacturerPki, T0, type Pair } from '../support/pki.js';
import { codeOf } from '../support/errors.js';

const at = new Date('2027-01-01T00:00:00Z');

describe('voucher signer', async () => {
  const pki = await manufacturerPki();
  const domainCa = (await manufacturerPki('Owner')).root;
  const input = {
    serialNumber: 'SN-1',
    nonce: 'bm9uY2U=',
    pinnedDomainCert: domainCa.cert,
    createdOn: at,
    assertion: 'logged' as const,
  };
  const ctx = { masaAnchors: [pki.masaCa.cert], serialNumber: 'SN-1', nonce: 'bm9uY2U=', at };

  it('accepts the MASA key certified by the MASA CA', () => {
    const v = verifyVoucher(
      crypto,
      signVoucher(crypto, pki.masaSigner.key, [pki.masaSigner.cert], input),
      ctx,
    );
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
      expect(() => verifyVoucher(crypto, forged, ctx)).toThrow(
        expect.objectContaining({ code: 'ERR_VOUCHER_SIGNER_UNTRUSTED' }),
      );
    }
  });

  it('refuses base64url where YANG binary (standard base64) is required', () => {
    const body = {
      'ietf-voucher:voucher': {
        'created-on': at.toISOString(),
        'serial-number': 'SN-1',
        nonce: 'bm9uY2U=',
        'pinned-domain-cert': 'MIIB-_x',
      },
    };
    const jws = signCompact(
      crypto,
      pki.masaSigner.key,
      { alg: 'ES256', x5c: [Buffer.from(pki.masaSigner.cert.der).toString('base64')] },
      body,
    );
    expect(() => verifyVoucher(crypto, jws, ctx)).toThrow(
      expect.objectContaining({ code: 'ERR_VOUCHER_MALFORMED' }),
    );
  });
});

describe('voucher acceptance policy (pledge and registrar)', async () => {
  const pki = await manufacturerPki();
  const domainCa = (await manufacturerPki('Owner')).root;
  const idevid = await device(pki.idevidCa, 'SN-1');
  const otherIdevid = await device((await manufacturerPki('Other Maker')).idevidCa, 'SN-1');
  const base = {
    serialNumber: 'SN-1',
    nonce: 'bm9uY2U=',
    pinnedDomainCert: domainCa.cert,
    createdOn: at,
    assertion: 'logged' as const,
  };
  const ctx = { masaAnchors: [pki.masaCa.cert], serialNumber: 'SN-1', nonce: 'bm9uY2U=', at };
  const sign = (input: Partial<VoucherInput>) =>
    signVoucher(crypto, pki.masaSigner.key, [pki.masaSigner.cert], { ...base, ...input });

  it('ranks assertions none < logged < proximity = agent-proximity < verified', () => {
    expect(meetsMinimumAssertion(undefined, 'none')).toBe(true);
    expect(meetsMinimumAssertion(undefined, 'logged')).toBe(false);
    expect(meetsMinimumAssertion('logged', 'logged')).toBe(true);
    expect(meetsMinimumAssertion('logged', 'proximity')).toBe(false);
    expect(meetsMinimumAssertion('agent-proximity', 'proximity')).toBe(true);
    expect(meetsMinimumAssertion('proximity', 'verified')).toBe(false);
    expect(meetsMinimumAssertion('verified', 'proximity')).toBe(true);
  });

  it('refuses an assertion below the minimum (default logged: a voucher with none is refused)', () => {
    const none = signCompact(
      crypto,
      pki.masaSigner.key,
      { alg: 'ES256', x5c: [Buffer.from(pki.masaSigner.cert.der).toString('base64')] },
      {
        'ietf-voucher:voucher': {
          'created-on': at.toISOString(),
          'serial-number': 'SN-1',
          nonce: 'bm9uY2U=',
          'pinned-domain-cert': Buffer.from(domainCa.cert.der).toString('base64'),
        },
      },
    );
    expect(codeOf(() => verifyVoucher(crypto, none, ctx))).toBe('ERR_VOUCHER_ASSERTION');
    expect(() =>
      verifyVoucher(crypto, none, { ...ctx, policy: { minimumAssertion: 'none' } }),
    ).not.toThrow();
    expect(
      codeOf(() =>
        verifyVoucher(crypto, sign({}), { ...ctx, policy: { minimumAssertion: 'proximity' } }),
      ),
    ).toBe('ERR_VOUCHER_ASSERTION');
    expect(() =>
      verifyVoucher(crypto, sign({ assertion: 'proximity' }), {
        ...ctx,
        policy: { minimumAssertion: 'proximity' },
      }),
    ).not.toThrow();
  });

  it('refuses created-on beyond the clock skew (default 5 minutes), accepts it within', () => {
    const ahead = (s: number) => sign({ createdOn: new Date(at.getTime() + s * 1000) });
    expect(codeOf(() => verifyVoucher(crypto, ahead(301), ctx))).toBe('ERR_VOUCHER_NOT_YET_VALID');
    expect(() => verifyVoucher(crypto, ahead(299), ctx)).not.toThrow();
    expect(
      codeOf(() => verifyVoucher(crypto, ahead(61), { ...ctx, policy: { clockSkewSeconds: 60 } })),
    ).toBe('ERR_VOUCHER_NOT_YET_VALID');
  });

  it("checks idevid-issuer against the IDevID's AuthorityKeyIdentifier when present", () => {
    const aki = authorityKeyIdentifier(idevid.cert)!;
    expect(aki).toHaveLength(20);
    expect(() =>
      verifyVoucher(crypto, sign({ idevidIssuer: aki }), { ...ctx, idevid: idevid.cert }),
    ).not.toThrow();
    expect(
      codeOf(() =>
        verifyVoucher(crypto, sign({ idevidIssuer: aki }), { ...ctx, idevid: otherIdevid.cert }),
      ),
    ).toBe('ERR_VOUCHER_IDEVID_ISSUER');
    // Absent: nothing to check.
    expect(() =>
      verifyVoucher(crypto, sign({}), { ...ctx, idevid: otherIdevid.cert }),
    ).not.toThrow();
  });
});

describe('registrar voucher request (MASA side)', async () => {
  const pki = await manufacturerPki();
  const owner = await manufacturerPki('Owner');
  const domainCa = owner.root;
  const registrar = await issue(
    registrarProfile({
      name: 'Registrar',
      dnsNames: ['r.example'],
      notBefore: T0,
      notAfter: new Date('2030-01-01T00:00:00Z'),
    }),
    domainCa,
  );
  const noRa = await issue(
    signerProfile({
      name: 'Not a registrar',
      notBefore: T0,
      notAfter: new Date('2030-01-01T00:00:00Z'),
    }),
    domainCa,
  );
  const idevid = await device(pki.idevidCa, 'SN-1');
  const vctx = { idevidAnchors: [pki.idevidCa.cert], at };

  function request(
    signer: Pair,
    opts: { withCa?: boolean; createdOn?: Date; pledgeCreatedOn?: Date } = {},
  ) {
    const pvrText = signPledgeVoucherRequest(crypto, idevid.key, idevid.cert, {
      serialNumber: 'SN-1',
      nonce: 'bm9uY2U=',
      createdOn: opts.pledgeCreatedOn ?? at,
      proximityRegistrarCert: signer.cert.der,
    });
    const pvr = verifyPledgeVoucherRequest(crypto, pvrText, {
      tlsClientCert: idevid.cert,
      registrarCert: signer.cert,
    });
    return {
      pvrText,
      rvr: signRegistrarVoucherRequest(
        crypto,
        signer.key,
        {
          registrarCert: signer.cert,
          ...(opts.withCa === false ? {} : { domainCa: domainCa.cert }),
        },
        pvr,
        opts.createdOn ?? at,
      ),
    };
  }

  it('accepts a registrar certificate (id-kp-cmcRA), with or without the domain CA in x5c', () => {
    const withCa = verifyRegistrarVoucherRequest(crypto, request(registrar).rvr, vctx);
    expect(withCa.domainCa?.der).toEqual(domainCa.cert.der);
    expect(withCa.proximity).toBe(true);
    const alone = verifyRegistrarVoucherRequest(
      crypto,
      request(registrar, { withCa: false }).rvr,
      vctx,
    );
    expect(alone.domainCa).toBeUndefined();
    expect(alone.registrarCert.der).toEqual(registrar.cert.der);
  });

  it('refuses a signer without id-kp-cmcRA, even one that chains to the domain CA', () => {
    expect(codeOf(() => verifyRegistrarVoucherRequest(crypto, request(noRa).rvr, vctx))).toBe(
      'ERR_VOUCHER_REQUEST_NOT_RA',
    );
    expect(
      codeOf(() =>
        verifyRegistrarVoucherRequest(crypto, request(noRa, { withCa: false }).rvr, vctx),
      ),
    ).toBe('ERR_VOUCHER_REQUEST_NOT_RA');
  });

  it('refuses created-on beyond the skew in either layer', () => {
    const later = new Date(at.getTime() + 301_000);
    expect(
      codeOf(() =>
        verifyRegistrarVoucherRequest(crypto, request(registrar, { createdOn: later }).rvr, vctx),
      ),
    ).toBe('ERR_VOUCHER_REQUEST_NOT_YET_VALID');
    expect(
      codeOf(() =>
        verifyRegistrarVoucherRequest(
          crypto,
          request(registrar, { pledgeCreatedOn: later }).rvr,
          vctx,
        ),
      ),
    ).toBe('ERR_VOUCHER_REQUEST_NOT_YET_VALID');
    expect(() =>
      verifyRegistrarVoucherRequest(
        crypto,
        request(registrar, { createdOn: new Date(at.getTime() + 299_000) }).rvr,
        vctx,
      ),
    ).not.toThrow();
  });

  it("prior-signed-voucher-request: base64 of the pledge request's UTF-8 bytes, round trip; raw compact JWS accepted; anything else malformed", () => {
    const { pvrText, rvr } = request(registrar);
    const prior = decodeVoucherRequest(rvr).body['prior-signed-voucher-request']!;
    expect(prior).toBe(encodePriorSignedVoucherRequest(pvrText));
    expect(Buffer.from(prior, 'base64').toString('utf8')).toBe(pvrText);
    const jws = (p: { mediaType: string; bytes: Uint8Array }) => ({
      mediaType: p.mediaType,
      text: Buffer.from(p.bytes).toString('utf8'),
    });
    expect(jws(decodePriorSignedVoucherRequest(prior))).toEqual({
      mediaType: 'application/voucher-jws+json',
      text: pvrText,
    });
    const compact = decodeJws(pvrText).compact;
    expect(jws(decodePriorSignedVoucherRequest(compact))).toEqual({
      mediaType: 'application/voucher-jws+json',
      text: compact,
    });
    // CMS: the base64 of its DER.
    expect(
      decodePriorSignedVoucherRequest(
        Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]).toString('base64'),
      ).mediaType,
    ).toBe('application/voucher-cms+json');
    expect(codeOf(() => decodePriorSignedVoucherRequest('!!!'))).toBe(
      'ERR_VOUCHER_REQUEST_MALFORMED',
    );
    expect(
      codeOf(() => decodePriorSignedVoucherRequest(Buffer.from('not a jws').toString('base64'))),
    ).toBe('ERR_VOUCHER_REQUEST_MALFORMED');
    expect(
      codeOf(() =>
        decodePriorSignedVoucherRequest(Buffer.from([0xff, 0xfe, 0x00]).toString('base64')),
      ),
    ).toBe('ERR_VOUCHER_REQUEST_MALFORMED');
  });
});

describe('MASA URL (RFC 8995 section 2.3.2)', () => {
  it.each([
    ['masa.example.com:9443', 'https://masa.example.com:9443'],
    ['masa.example.com', 'https://masa.example.com'],
    ['highway-test.example.com:9443', 'https://highway-test.example.com:9443'],
    ['127.0.0.1:8443', 'https://127.0.0.1:8443'],
    ['[::1]:8443', 'https://[::1]:8443'],
    ['https://masa.example.com:9443', 'https://masa.example.com:9443'],
    ['https://masa.example.com:9443/', 'https://masa.example.com:9443'],
    ['HTTPS://MASA.Example.com', 'https://masa.example.com'],
    ['https://masa.example.com/.well-known/brski', 'https://masa.example.com'],
    ['https://masa.example.com/tenant-7/', 'https://masa.example.com/tenant-7'],
  ])('%s -> %s', (value, normalised) => {
    expect(normaliseMasaUrl(value)).toBe(normalised);
  });

  it.each([
    undefined,
    '',
    ' ',
    'http://masa.example.com',
    'ftp://masa.example.com',
    'user@masa.example.com',
    'masa.example.com:0',
    'masa.example.com:99999',
    'masa.example.com/path',
    'https://masa.example.com?x=1',
    'https://masa.example.com#f',
    'https://user:pw@masa.example.com',
    'https://',
    'masa example.com',
    '-masa.example.com',
  ])('%s is ERR_IDEVID_INVALID', (value) => {
    expect(codeOf(() => normaliseMasaUrl(value))).toBe('ERR_IDEVID_INVALID');
  });
});
