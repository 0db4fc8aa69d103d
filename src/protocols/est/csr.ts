/**
 * EST enrollment requests (RFC 7030 section 4.2): a base64 PKCS#10 (RFC 2986) body. The
 * device generates its own key; the registrar checks the proof of possession (the request's
 * signature, RFC 2986 section 3) and that the key is of a type its policy certifies:
 * ECDSA P-256 or P-384 (RFC 5480), or RSA of at least 2048 bits (RFC 8017). What the policy
 * accepts is announced in csrattrs (RFC 7030 section 4.5, in the style of RFC 9148 / RFC 8295).
 */
import { AirlockError, ensure } from '../../core/errors.js';
import { fromBase64 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { DerReader, Tag, decodeOid, encodeOid, tlv } from '../x509/der.js';
import { Oid } from '../x509/oids.js';
import { p1363ToDer } from '../x509/ecdsa.js';
import { decodeIa5String, encodeIa5String } from '../x509/ia5-extension.js';

/** The key types Airlock certifies (the LDevID is always signed by the domain CA's P-256 key). */
export type CsrKeyType = 'P-256' | 'P-384' | 'RSA';

export interface VerifiedCsr {
  readonly der: Uint8Array;
  /** DER SubjectPublicKeyInfo, exactly as in the request. */
  readonly spki: Uint8Array;
  readonly keyType: CsrKeyType;
  /** Key size in bits: 256, 384, or the RSA modulus length. */
  readonly keyBits: number;
  /**
   * The MUD URL the request asks to be certified (RFC 8520 section 10, in an extensionRequest
   * attribute, RFC 2985 section 5.4.2): the device's word for its intent (step 11).
   */
  readonly mudUrl: string | undefined;
  /**
   * The challengePassword attribute (RFC 2985 section 5.4.1), as text, when the request has
   * one: Wi-Fi Easy Connect binds a request to its exchange with it.
   */
  readonly challengePassword?: string;
}

/** The smallest RSA modulus certified (NIST SP 800-131A: 112-bit security). */
export const MIN_RSA_BITS = 2048;
/** The largest RSA modulus certified: bounds the cost of verifying a request. */
export const MAX_RSA_BITS = 8192;

const MAX_CSR_BYTES = 16 * 1024;
const CODE = 'ERR_CSR_MALFORMED';

const KeyOid = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  secp384r1: '1.3.132.0.34',
} as const;

/** Signature algorithms accepted on a request, with their key family and hash (RFC 5758, RFC 8017). */
const SIGNATURE_ALGORITHMS: Record<
  string,
  { family: 'ec' | 'rsa'; hash: 'sha256' | 'sha384' | 'sha512' }
> = {
  [Oid.ecdsaWithSha256]: { family: 'ec', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { family: 'ec', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { family: 'ec', hash: 'sha512' },
  '1.2.840.113549.1.1.11': { family: 'rsa', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { family: 'rsa', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { family: 'rsa', hash: 'sha512' },
};

export function decodeCsrBody(body: string): Uint8Array {
  const der = fromBase64(body);
  if (!der || der.length === 0) throw new AirlockError(CODE, 'the body is not base64');
  if (der.length > MAX_CSR_BYTES) throw new AirlockError(CODE, 'too large');
  return der;
}

/**
 * Parses the request, checks that its key is one the policy certifies (ERR_CSR_KEY) and that
 * it is signed by that key (ERR_CSR_SIGNATURE). Anything that is not a PKCS#10 request is
 * ERR_CSR_MALFORMED.
 */
export function verifyCsr(crypto: Crypto, der: Uint8Array): VerifiedCsr {
  const outer = new DerReader(der, CODE);
  const req = outer.enter(Tag.SEQUENCE);
  outer.end();
  const info = req.read(Tag.SEQUENCE);
  const sigAlgSeq = req.enter(Tag.SEQUENCE);
  const sigAlg = decodeOid(sigAlgSeq.read(Tag.OID).value, CODE);
  const sigParams = sigAlgSeq.done ? undefined : sigAlgSeq.read();
  sigAlgSeq.end();
  const sig = req.read(Tag.BIT_STRING).value;
  req.end();

  const fields = new DerReader(info.value, CODE);
  const version = fields.read(Tag.INTEGER).value;
  ensure(version.length === 1 && version[0] === 0, CODE, 'PKCS#10 version must be 0');
  fields.read(Tag.SEQUENCE); // subject: the registrar decides the subject itself
  const spkiTlv = fields.read(Tag.SEQUENCE);
  const attributes = fields.readOptional(0xa0);
  fields.end();
  const { mudUrl, challengePassword } = attributes
    ? requestedAttributes(attributes.value)
    : { mudUrl: undefined, challengePassword: undefined };

  const key = subjectKey(spkiTlv.value);
  const alg = SIGNATURE_ALGORITHMS[sigAlg];
  ensure(
    alg && alg.family === (key.keyType === 'RSA' ? 'rsa' : 'ec'),
    'ERR_CSR_SIGNATURE',
    'the signature algorithm does not fit the key',
  );
  // ECDSA AlgorithmIdentifiers have no parameters; RSA ones have NULL (RFC 5758, RFC 8017).
  ensure(
    alg.family === 'ec'
      ? sigParams === undefined
      : sigParams === undefined || (sigParams.tag === Tag.NULL && sigParams.value.length === 0),
    CODE,
    'bad signature algorithm parameters',
  );
  ensure(sig.length > 1 && sig[0] === 0, 'ERR_CSR_SIGNATURE');
  const ok =
    key.keyType === 'P-256' && alg.hash === 'sha256'
      ? crypto.verifyEs256(spkiTlv.raw, info.raw, sig.subarray(1), 'der')
      : crypto.verifySignature(spkiTlv.raw, alg.hash, info.raw, sig.subarray(1), 'der');
  ensure(ok, 'ERR_CSR_SIGNATURE');
  return {
    der,
    spki: spkiTlv.raw,
    ...key,
    mudUrl,
    ...(challengePassword !== undefined ? { challengePassword } : {}),
  };
}

const CHALLENGE_PASSWORD = '1.2.840.113549.1.9.7';
const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

/**
 * What the request's attributes ask for, read in one pass:
 * - the MUD URL extension (in an extensionRequest), if it asks for one; a MUD URL given twice,
 *   or not one printable IA5String, is ERR_CSR_MALFORMED;
 * - the challengePassword: one DirectoryString (UTF8String, PrintableString or IA5String, as
 *   hostap accepts); given twice, or of another type, ERR_CSR_MALFORMED.
 * Other attributes and extensions are the registrar's to ignore (it decides the LDevID's
 * contents itself).
 */
function requestedAttributes(attributes: Uint8Array): {
  mudUrl: string | undefined;
  challengePassword: string | undefined;
} {
  const attrs = new DerReader(attributes, CODE);
  let mudUrl: string | undefined;
  let challengePassword: string | undefined;
  while (!attrs.done) {
    const attr = attrs.enter(Tag.SEQUENCE);
    const type = decodeOid(attr.read(Tag.OID).value, CODE);
    const values = attr.enter(Tag.SET);
    attr.end();
    if (type === CHALLENGE_PASSWORD) {
      ensure(challengePassword === undefined, CODE, 'the challengePassword is given twice');
      const value = values.read();
      values.end();
      ensure(
        value.tag === Tag.UTF8String || value.tag === 0x13 || value.tag === 0x16,
        CODE,
        'the challengePassword is not a UTF8String, PrintableString or IA5String',
      );
      try {
        challengePassword = new TextDecoder('utf-8', { fatal: true }).decode(value.value);
      } catch {
        throw new AirlockError(CODE, 'the challengePassword is not UTF-8');
      }
      continue;
    }
    if (type !== EXTENSION_REQUEST) continue;
    while (!values.done) {
      const exts = values.enter(Tag.SEQUENCE);
      while (!exts.done) {
        const ext = exts.enter(Tag.SEQUENCE);
        const oid = decodeOid(ext.read(Tag.OID).value, CODE);
        ext.readOptional(Tag.BOOLEAN);
        const value = ext.read(Tag.OCTET_STRING).value;
        ext.end();
        if (oid !== Oid.mudUrl) continue;
        ensure(mudUrl === undefined, CODE, 'the MUD URL extension is requested twice');
        try {
          mudUrl = decodeIa5String(value);
        } catch {
          throw new AirlockError(CODE, 'the requested MUD URL is not a printable IA5String');
        }
      }
    }
  }
  return { mudUrl, challengePassword };
}

/** The key in a SubjectPublicKeyInfo: a type the policy certifies, or ERR_CSR_KEY. */
function subjectKey(spkiValue: Uint8Array): { keyType: CsrKeyType; keyBits: number } {
  const spki = new DerReader(spkiValue, CODE);
  const algSeq = spki.enter(Tag.SEQUENCE);
  const bits = spki.read(Tag.BIT_STRING).value;
  spki.end();
  const keyOid = decodeOid(algSeq.read(Tag.OID).value, CODE);
  const params = algSeq.done ? undefined : algSeq.read();
  algSeq.end();
  ensure(bits.length > 1 && bits[0] === 0, CODE, 'the public key is not a whole number of bytes');
  const point = bits.subarray(1);

  if (keyOid === Oid.ecPublicKey) {
    const curve = params?.tag === Tag.OID ? decodeOid(params.value, CODE) : undefined;
    // An uncompressed point (SEC 1 section 2.3.3): 0x04 || x || y.
    if (curve === Oid.secp256r1) {
      ensure(
        point.length === 65 && point[0] === 4,
        'ERR_CSR_KEY',
        'a P-256 key must be an uncompressed point',
      );
      return { keyType: 'P-256', keyBits: 256 };
    }
    if (curve === KeyOid.secp384r1) {
      ensure(
        point.length === 97 && point[0] === 4,
        'ERR_CSR_KEY',
        'a P-384 key must be an uncompressed point',
      );
      return { keyType: 'P-384', keyBits: 384 };
    }
    throw new AirlockError('ERR_CSR_KEY', 'ECDSA keys must be on P-256 or P-384');
  }
  if (keyOid === KeyOid.rsaEncryption) {
    ensure(
      params === undefined || (params.tag === Tag.NULL && params.value.length === 0),
      CODE,
      'bad rsaEncryption parameters',
    );
    const modulusBits = rsaModulusBits(point);
    ensure(
      modulusBits >= MIN_RSA_BITS,
      'ERR_CSR_KEY',
      `RSA keys must have at least ${MIN_RSA_BITS} bits`,
    );
    ensure(
      modulusBits <= MAX_RSA_BITS,
      'ERR_CSR_KEY',
      `RSA keys must have at most ${MAX_RSA_BITS} bits`,
    );
    return { keyType: 'RSA', keyBits: modulusBits };
  }
  throw new AirlockError(
    'ERR_CSR_KEY',
    'Airlock certifies ECDSA P-256 and P-384 keys and RSA keys of 2048 bits or more',
  );
}

/** RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 appendix A.1.1). */
function rsaModulusBits(der: Uint8Array): number {
  const r = new DerReader(der, 'ERR_CSR_KEY');
  const seq = r.enter(Tag.SEQUENCE);
  r.end();
  const n = seq.read(Tag.INTEGER).value;
  const e = seq.read(Tag.INTEGER).value;
  seq.end();
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  ensure(
    i < n.length && (n[n.length - 1]! & 1) === 1,
    'ERR_CSR_KEY',
    'the RSA modulus is not odd and positive',
  );
  ensure(
    e.length > 0 &&
      (e[0]! & 0x80) === 0 &&
      (e[e.length - 1]! & 1) === 1 &&
      !(e.length === 1 && e[0] === 1),
    'ERR_CSR_KEY',
    'bad RSA public exponent',
  );
  return (n.length - i - 1) * 8 + (32 - Math.clz32(n[i]!));
}

/** Device side: a request for `key`, subject CN=`commonName`, signed by that key (proof of possession). */
export function buildCsr(
  crypto: Crypto,
  key: PrivateKeyHandle,
  commonName: string,
  opts: { mudUrl?: string } = {},
): Uint8Array {
  const name = tlv(
    Tag.SEQUENCE,
    tlv(
      Tag.SET,
      tlv(
        Tag.SEQUENCE,
        encodeOid('2.5.4.3'),
        tlv(Tag.UTF8String, new TextEncoder().encode(commonName)),
      ),
    ),
  );
  // RFC 8520 section 10: the device asks for its MUD URL in an extensionRequest attribute.
  const attributes = opts.mudUrl
    ? tlv(
        0xa0,
        tlv(
          Tag.SEQUENCE,
          encodeOid(EXTENSION_REQUEST),
          tlv(
            Tag.SET,
            tlv(
              Tag.SEQUENCE,
              tlv(
                Tag.SEQUENCE,
                encodeOid(Oid.mudUrl),
                tlv(Tag.OCTET_STRING, encodeIa5String(opts.mudUrl)),
              ),
            ),
          ),
        ),
      )
    : tlv(0xa0);
  const info = tlv(Tag.SEQUENCE, tlv(Tag.INTEGER, new Uint8Array([0])), name, key.spki, attributes);
  const signature = p1363ToDer(crypto.signEs256(key, info));
  return tlv(
    Tag.SEQUENCE,
    info,
    tlv(Tag.SEQUENCE, encodeOid(Oid.ecdsaWithSha256)),
    tlv(Tag.BIT_STRING, new Uint8Array([0]), signature),
  );
}

/**
 * RFC 7030 section 4.5: what the policy accepts, as a CsrAttrs (SEQUENCE OF AttrOrOID):
 * ecdsa-with-SHA256 as the preferred signature algorithm; an id-ecPublicKey attribute whose
 * values are the curves certified (P-256, P-384); an rsaEncryption attribute whose value is
 * the smallest modulus size certified (as in draft-ietf-lamps-rfc7030-csrattrs, RFC 8295 style).
 */
export function csrAttributes(): Uint8Array {
  return tlv(
    Tag.SEQUENCE,
    encodeOid(Oid.ecdsaWithSha256),
    tlv(
      Tag.SEQUENCE,
      encodeOid(Oid.ecPublicKey),
      tlv(Tag.SET, encodeOid(KeyOid.secp384r1), encodeOid(Oid.secp256r1)) /* DER order */,
    ),
    tlv(
      Tag.SEQUENCE,
      encodeOid(KeyOid.rsaEncryption),
      tlv(Tag.SET, tlv(Tag.INTEGER, new Uint8Array([0x08, 0x00]))),
    ),
  );
}
