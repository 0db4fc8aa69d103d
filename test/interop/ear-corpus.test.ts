/**
 * The public EAR examples (veraison/ear `arc/data/`): the claims sets Veraison's own library
 * writes and reads, and its ES256 test key pair. Airlock's EAR reader takes every one as
 * written (a `-ko` example is a contraindicated result, not a broken one); an EAR Airlock
 * signs with the corpus key verifies with `jose` and the corpus public key; one `jose` signs
 * verifies with Airlock, and nothing else does.
 */
import * as nodeCrypto from 'node:crypto';
import * as fs from 'node:fs';
import * as jose from 'jose';
import { describe, expect, it } from 'vitest';
import { NodeCrypto, type NodePrivateKey } from '../../src/adapters/crypto/node-crypto.js';
import { equalBytes } from '../../src/core/bytes.js';
import {
  EAR_PROFILE,
  readEarClaims,
  statusOfVector,
  type EarClaims,
} from '../../src/protocols/ear/claims.js';
import { signEar, verifyEar } from '../../src/protocols/ear/result.js';
import { codeOf } from '../support/errors.js';
import { interopPath, readInterop } from '../support/interop.js';

const crypto = new NodeCrypto();
const json = (name: string) => JSON.parse(readInterop('eat', name)) as Record<string, unknown>;
const jwk = (name: string) => json(name) as nodeCrypto.JsonWebKey & jose.JWK;
const spkiOf = (key: nodeCrypto.KeyObject) =>
  new Uint8Array(
    (key.type === 'public' ? key : nodeCrypto.createPublicKey(key)).export({
      format: 'der',
      type: 'spki',
    }),
  );

/** The corpus signing key (ear_skey.json) as the Crypto port's key handle. */
function corpusKey(): NodePrivateKey {
  const keyObject = nodeCrypto.createPrivateKey({ key: jwk('ear_skey.json'), format: 'jwk' });
  return { kind: 'private-key', spki: spkiOf(keyObject), keyObject };
}
/** The corpus public key (ear_pkey.json), DER SubjectPublicKeyInfo. */
const corpusSpki = () =>
  spkiOf(nodeCrypto.createPublicKey({ key: jwk('ear_pkey.json'), format: 'jwk' }));

/** The JWT with its payload changed by `edit`, header and signature kept. */
function withPayload(jwt: string, edit: (claims: Record<string, unknown>) => void): string {
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
  edit(claims);
  return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
}

async function joseSign(claims: object, key: Parameters<jose.SignJWT['sign']>[0]): Promise<string> {
  return new jose.SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: 'ear-corpus' })
    .sign(key);
}

/** Each example's submodules as the file writes them: status and vector. */
const EXPECTED: Record<string, Record<string, [string, Record<string, number> | undefined]>> = {
  'ear_ear-claims.json': { test: ['affirming', undefined] },
  'ear_ear-claims-extension-ok.json': { test: ['affirming', undefined] },
  'ear_ear-claims-tv-ok.json': {
    test: [
      'affirming',
      {
        'instance-identity': 2,
        configuration: 2,
        executables: 3,
        'file-system': 2,
        hardware: 2,
        'runtime-opaque': 2,
        'storage-opaque': 2,
        'sourced-data': 2,
      },
    ],
  },
  'ear_ear-claims-key-attestation-ok.json': {
    PARSEC_TPM: ['affirming', { 'instance-identity': 2, executables: 2, hardware: 2 }],
  },
  'ear_ear-claims-key-attestation-ko.json': {
    PARSEC_TPM: ['contraindicated', { 'instance-identity': 2, executables: 96, hardware: 2 }],
  },
};

describe('interop: veraison/ear example claims sets', () => {
  const examples = () =>
    fs.readdirSync(interopPath('eat')).filter((f) => /^ear_.*(-ok|ear-claims.*)\.json$/.test(f));

  it('the corpus holds the examples this test knows', () => {
    expect(examples().sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('every example reads as written: statuses, vectors, policies, extensions', () => {
    for (const f of examples()) {
      const claims = readEarClaims(json(f));
      expect(claims, f).toEqual(json(f));
      expect(claims.eat_profile).toBe(EAR_PROFILE);
      const read = Object.fromEntries(
        Object.entries(claims.submods).map(([name, s]) => [
          name,
          [s['ear.status'], s['ear.trustworthiness-vector']],
        ]),
      );
      expect(read, f).toEqual(EXPECTED[f]);
    }
  });

  it('the -ko example is a contraindicated result (executables 96), not a parse failure', () => {
    const ko = readEarClaims(json('ear_ear-claims-key-attestation-ko.json'));
    const tpm = ko.submods.PARSEC_TPM!;
    expect(tpm['ear.status']).toBe('contraindicated');
    expect(tpm['ear.trustworthiness-vector']?.executables).toBe(96);
    expect(tpm['ear.appraisal-policy-id']).toBe('policy://parsec/60a0068d');
    expect(ko['ear.verifier-id']).toEqual({
      developer: 'https://veraison-project.org',
      build: 'vts 0.0.1',
    });
    expect(ko['ear.raw-evidence']).toBe('NzQ3MjY5NzM2NTYzNzQK');
  });

  it('extension claims (ear.veraison.*) are kept, at the top and in a submodule', () => {
    const ext = readEarClaims(json('ear_ear-claims-extension-ok.json'));
    expect(ext['ear.veraison.annotated-evidence']).toEqual({ k1: 'v1', k2: 'v2' });
    expect(ext['ear.veraison.policy-claims']).toEqual({ foo: 'bar', bar: 'baz' });
    const ka = readEarClaims(json('ear_ear-claims-key-attestation-ok.json'));
    const akpub = (ka.submods.PARSEC_TPM!['ear.veraison.key-attestation'] as { akpub: string })
      .akpub;
    // The attested key is a P-256 SubjectPublicKeyInfo, base64url.
    const ak = nodeCrypto.createPublicKey({
      key: Buffer.from(akpub, 'base64url'),
      format: 'der',
      type: 'spki',
    });
    expect(ak.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  // Every example with a vector states the status its worst claim implies; none disagrees.
  it("statusOfVector agrees with each example's ear.status where it has a vector", () => {
    let withVector = 0;
    for (const f of examples()) {
      for (const [name, s] of Object.entries(readEarClaims(json(f)).submods)) {
        const v = s['ear.trustworthiness-vector'];
        if (!v) continue;
        withVector++;
        expect(statusOfVector(v), `${f} ${name}`).toBe(s['ear.status']);
      }
    }
    expect(withVector).toBe(3);
  });

  it('a malformed example is ERR_EAR_MALFORMED', () => {
    const base = json('ear_ear-claims-tv-ok.json');
    const sub = (edit: Record<string, unknown>) => ({
      ...base,
      submods: { test: { ...(base.submods as { test: object }).test, ...edit } },
    });
    const { 'ear.verifier-id': _dropped, ...noVerifier } = base;
    for (const bad of [
      noVerifier,
      { ...base, 'ear.verifier-id': { developer: 'Acme Inc.' } },
      { ...base, eat_profile: 'tag:example.com,2023:other' },
      { ...base, submods: {} },
      sub({ 'ear.status': 'ok' }),
      sub({ 'ear.trustworthiness-vector': { executables: 200 } }),
      sub({ 'ear.trustworthiness-vector': { 'made-up': 2 } }),
    ]) {
      expect(
        codeOf(() => readEarClaims(bad)),
        JSON.stringify(bad).slice(0, 80),
      ).toBe('ERR_EAR_MALFORMED');
    }
  });
});

describe('interop: EAR signatures with the veraison/ear key', () => {
  /** An EAR as Airlock's verifier writes it, with the fields the examples carry. */
  const airlockEar: EarClaims = {
    eat_profile: EAR_PROFILE,
    iat: 1666091373,
    'ear.verifier-id': { developer: 'Airlock', build: 'airlock-verifier 0.1.0' },
    submods: {
      'SN-0042': {
        'ear.status': 'warning',
        'ear.trustworthiness-vector': {
          'instance-identity': 2,
          hardware: 2,
          executables: 2,
          configuration: 36,
        },
        'ear.appraisal-policy-id': 'policy://airlock/default',
        'ear.airlock.reasons': ['debug enabled'],
      },
    },
  };

  it("the corpus key pair is one key: ear_skey.json's public half is ear_pkey.json", () => {
    expect(equalBytes(corpusKey().spki, corpusSpki())).toBe(true);
  });

  it('an EAR Airlock signs verifies with jose and ear_pkey.json, and with verifyEar', async () => {
    const jwt = signEar(crypto, corpusKey(), 'ear-corpus', airlockEar);
    const pub = await jose.importJWK(jwk('ear_pkey.json'), 'ES256');
    const { payload, protectedHeader } = await jose.jwtVerify(jwt, pub, {
      algorithms: ['ES256'],
    });
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'JWT', kid: 'ear-corpus' });
    expect(payload).toEqual(airlockEar);
    // The fields the examples carry, and the reader takes jose's reading of them.
    expect(payload).toMatchObject({
      eat_profile: 'tag:github.com,2023:veraison/ear',
      iat: 1666091373,
      'ear.verifier-id': { developer: 'Airlock', build: 'airlock-verifier 0.1.0' },
    });
    expect(Object.keys(readEarClaims(payload).submods['SN-0042']!)).toEqual(
      expect.arrayContaining([
        'ear.status',
        'ear.trustworthiness-vector',
        'ear.appraisal-policy-id',
      ]),
    );
    expect(verifyEar(crypto, jwt, corpusSpki())).toEqual(airlockEar);

    // And jose refuses it changed, so its acceptance above meant something.
    const changed = withPayload(jwt, (c) => {
      c.iat = 1666091374;
    });
    await expect(jose.jwtVerify(changed, pub, { algorithms: ['ES256'] })).rejects.toThrow(
      jose.errors.JWSSignatureVerificationFailed,
    );
  });

  it('jose signs with ear_skey.json: verifyEar accepts it, and refuses one claim changed', async () => {
    const key = await jose.importJWK(jwk('ear_skey.json'), 'ES256');
    const example = json('ear_ear-claims-tv-ok.json');
    const jwt = await joseSign(example, key);
    expect(verifyEar(crypto, jwt, corpusSpki())).toEqual(example);

    const edits: ((c: Record<string, unknown>) => void)[] = [
      (c) => {
        (c.submods as { test: Record<string, unknown> }).test['ear.status'] = 'contraindicated';
      },
      (c) => {
        c.iat = (c.iat as number) + 1;
      },
      (c) => {
        (c['ear.verifier-id'] as Record<string, unknown>).build = 'rrtrap-v1.0.1';
      },
    ];
    for (const edit of edits) {
      const changed = withPayload(jwt, edit);
      // Still a well-formed result: only the signature fails.
      expect(codeOf(() => readEarClaims(jose.decodeJwt(changed)))).toBe('OK');
      expect(codeOf(() => verifyEar(crypto, changed, corpusSpki()))).toBe('ERR_EAR_UNTRUSTED');
    }
  });

  it('a wrong key is ERR_EAR_UNTRUSTED, whichever side it is on', async () => {
    const other = await jose.generateKeyPair('ES256', { extractable: true });
    const otherSpki = new Uint8Array(
      Buffer.from(
        (await jose.exportSPKI(other.publicKey)).replace(/-----[^-]+-----|\s/g, ''),
        'base64',
      ),
    );
    const example = json('ear_ear-claims.json');
    const signedByOther = await joseSign(example, other.privateKey);
    expect(verifyEar(crypto, signedByOther, otherSpki)).toEqual(example);
    expect(codeOf(() => verifyEar(crypto, signedByOther, corpusSpki()))).toBe('ERR_EAR_UNTRUSTED');
    const signedByCorpus = await joseSign(
      example,
      await jose.importJWK(jwk('ear_skey.json'), 'ES256'),
    );
    expect(codeOf(() => verifyEar(crypto, signedByCorpus, otherSpki))).toBe('ERR_EAR_UNTRUSTED');
  });

  it('a correctly signed but malformed result is ERR_EAR_MALFORMED', async () => {
    const key = await jose.importJWK(jwk('ear_skey.json'), 'ES256');
    const { 'ear.verifier-id': _dropped, ...noVerifier } = json('ear_ear-claims.json');
    const badStatus = json('ear_ear-claims.json');
    (badStatus.submods as { test: Record<string, unknown> }).test['ear.status'] = 'passed';
    for (const claims of [noVerifier, badStatus]) {
      const jwt = await joseSign(claims, key);
      expect(codeOf(() => verifyEar(crypto, jwt, corpusSpki()))).toBe('ERR_EAR_MALFORMED');
    }
    expect(codeOf(() => verifyEar(crypto, 'not.a-jwt', corpusSpki()))).toBe('ERR_EAR_MALFORMED');
  });
});
