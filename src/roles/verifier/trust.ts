/**
 * The manufacturers a verifier trusts: each one's root (its party id is the SHA-256 of the
 * root's public key), its endorsements CA (the only anchor for its reference values and its
 * supply-chain evidence) and, optionally, where it serves its reference values.
 *
 * Read from the manufacturer's trust file (`airlock manufacturer trust-bundle`): its `root` and
 * `endorsementsCa` (base64 DER). A trust file from before attestation has no `endorsementsCa`.
 */
import { AirlockError } from '../../core/errors.js';
import { toPem } from '../../core/bytes.js';
import { partyIdFromSpki, type Party } from '../../core/party.js';
import type { Crypto } from '../../core/ports.js';
import { verifyChain } from '../../protocols/x509/chain.js';
import {
  parseCertificateBase64,
  subjectCommonName,
  type Certificate,
} from '../../protocols/x509/certificate.js';

export interface ManufacturerTrustInput {
  /** `id`: partyIdFromSpki(root.spki). */
  party: Party;
  root: Certificate;
  endorsementsCa: Certificate;
  /** The manufacturer's base URL: its reference values are pulled from `<url>/.well-known/airlock/reference-values`. */
  url?: string;
}

/** Checks a manufacturer's trust: its party id is its root's, its endorsements CA a CA under that root, valid at `at`. */
export function checkManufacturerTrust(crypto: Crypto, m: ManufacturerTrustInput, at: Date): void {
  if (m.party.id !== partyIdFromSpki(crypto, m.root.spki))
    throw new AirlockError('ERR_CONFIG', `the party id of ${m.party.name} is not its root's`);
  if (!m.endorsementsCa.isCa)
    throw new AirlockError('ERR_CONFIG', `${m.endorsementsCa.subject} is not a CA`);
  try {
    verifyChain(crypto, { leaf: m.endorsementsCa, anchors: [m.root], at });
  } catch (cause) {
    throw new AirlockError(
      'ERR_CONFIG',
      `the endorsements CA of ${m.party.name} is not certified by its root`,
      { cause },
    );
  }
  if (m.url !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(m.url);
    } catch {
      u = undefined;
    }
    if (!u || u.protocol !== 'https:' || u.username || u.password || u.search || u.hash)
      throw new AirlockError('ERR_CONFIG', `the URL of ${m.party.name} must be a plain https URL`);
  }
}

/**
 * A manufacturer from its trust file (`airlock-manufacturer-trust/1`): `root` and
 * `endorsementsCa` are required here (ERR_CONFIG naming a missing one); its display name is
 * the file's `name`, else the root's CN.
 */
export function readManufacturerTrustFile(
  crypto: Crypto,
  json: unknown,
  at: Date,
  url?: string,
): ManufacturerTrustInput {
  const f = json as Record<string, unknown> | null;
  if (!f || typeof f !== 'object' || f.format !== 'airlock-manufacturer-trust/1')
    throw new AirlockError('ERR_CONFIG', 'not an Airlock manufacturer trust file');
  const cert = (field: string): Certificate => {
    const v = f[field];
    if (typeof v !== 'string')
      throw new AirlockError('ERR_CONFIG', `the trust file has no ${field}`, {
        details: {
          hint:
            field === 'endorsementsCa'
              ? 'a manufacturer from before attestation: print its trust file again (`airlock manufacturer trust-bundle`)'
              : 'print the trust file again (`airlock manufacturer trust-bundle`)',
        },
      });
    try {
      return parseCertificateBase64(v);
    } catch (cause) {
      throw new AirlockError('ERR_CONFIG', `the trust file's ${field} is not a certificate`, {
        cause,
      });
    }
  };
  const root = cert('root');
  const endorsementsCa = cert('endorsementsCa');
  const id = partyIdFromSpki(crypto, root.spki);
  const name =
    typeof f.name === 'string' && f.name.length > 0 && f.name.length <= 200
      ? f.name
      : (subjectCommonName(root) ?? id);
  const m: ManufacturerTrustInput = {
    party: { id, name },
    root,
    endorsementsCa,
    ...(url !== undefined ? { url } : {}),
  };
  checkManufacturerTrust(crypto, m, at);
  return m;
}

/**
 * What a relying party (a registrar) installs to use a verifier (`airlock verifier
 * trust-bundle`): the CA its TLS certificate chains to, and the key of its results. Its URL is
 * the operator's to give.
 */
export interface VerifierTrustFile {
  format: 'airlock-verifier-trust/1';
  /** Base64 DER of the verifier's CA. */
  tlsCa: string;
  /** The key that signs its results (EAR): a P-256 JWK. */
  earKey: { kty: 'EC'; crv: 'P-256'; x: string; y: string; kid?: string; alg?: string };
}

/** A verifier trust file read: the TLS anchor as PEM and the EAR key's JWK; ERR_CONFIG otherwise. */
export function readVerifierTrustFile(json: unknown): {
  tlsCaPem: string;
  earKey: VerifierTrustFile['earKey'];
} {
  const f = json as Partial<VerifierTrustFile> | null;
  if (!f || typeof f !== 'object' || f.format !== 'airlock-verifier-trust/1')
    throw new AirlockError('ERR_CONFIG', 'not an Airlock verifier trust file');
  let ca: Certificate;
  try {
    ca = parseCertificateBase64(typeof f.tlsCa === 'string' ? f.tlsCa : '');
  } catch (cause) {
    throw new AirlockError('ERR_CONFIG', "the verifier trust file's tlsCa is not a certificate", {
      cause,
    });
  }
  const k = f.earKey;
  const coordinate = (c: unknown) => typeof c === 'string' && /^[A-Za-z0-9_-]{43}$/.test(c);
  if (!k || k.kty !== 'EC' || k.crv !== 'P-256' || !coordinate(k.x) || !coordinate(k.y))
    throw new AirlockError('ERR_CONFIG', "the verifier trust file's earKey is not a P-256 JWK");
  return { tlsCaPem: toPem('CERTIFICATE', ca.der), earKey: k };
}
