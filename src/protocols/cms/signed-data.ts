/**
 * CMS SignedData with encapsulated content (RFC 5652 section 5), as RFC 8366 section 5.1 and
 * RFC 8995 use it for `application/voucher-cms+json`: one SignerInfo identified by
 * issuerAndSerialNumber (or subjectKeyIdentifier when reading), signed attributes contentType,
 * messageDigest and signingTime (section 11), the signer's certificates in `certificates`.
 *
 * pkijs and asn1js give the ASN.1 structures only; every digest and signature goes through the
 * Crypto port (pkijs's own sign/verify would need a WebCrypto engine). Airlock signs ES256
 * (ecdsa-with-SHA256, RFC 5753/5754); it verifies ECDSA on any curve node:crypto knows and RSA
 * PKCS#1 v1.5, with SHA-256/384/512, as other implementations write them (a P-384 MASA key
 * signing with SHA-256, in the fountain corpus).
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { AirlockError } from '../../core/errors.js';
import { equalBytes, toHex } from '../../core/bytes.js';
import type { Crypto, HashName, PrivateKeyHandle } from '../../core/ports.js';
import { parseCertificate, type Certificate } from '../x509/certificate.js';
import { p1363ToDer } from '../x509/ecdsa.js';
import { DerReader, Tag, decodeOid, decodeTime, type Tlv } from '../x509/der.js';

export const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
export const OID_DATA_CONTENT = '1.2.840.113549.1.7.1';
/** id-ct-animaJSONVoucher (RFC 8366 section 8.3). */
export const ID_CT_ANIMA_JSON_VOUCHER = '1.2.840.113549.1.9.16.1.40';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';
const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14';
const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_SHA256 = '2.16.840.1.101.3.4.2.1';

const DIGESTS: Record<string, HashName> = {
  [OID_SHA256]: 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
/** Signature algorithms: the hash they fix, or null when the digestAlgorithm decides. */
const SIGNATURES: Record<string, { hash: HashName | null }> = {
  [OID_ECDSA_SHA256]: { hash: 'sha256' },
  '1.2.840.10045.4.3.3': { hash: 'sha384' },
  '1.2.840.10045.4.3.4': { hash: 'sha512' },
  '1.2.840.10045.2.1': { hash: null }, // id-ecPublicKey, as some signers write it
  '1.2.840.113549.1.1.1': { hash: null }, // rsaEncryption
  '1.2.840.113549.1.1.11': { hash: 'sha256' },
  '1.2.840.113549.1.1.12': { hash: 'sha384' },
  '1.2.840.113549.1.1.13': { hash: 'sha512' },
};

const MALFORMED = 'ERR_CMS_MALFORMED';
const MAX_BYTES = 256 * 1024;

export interface DecodedSignedData {
  readonly der: Uint8Array;
  readonly eContentType: string;
  /** The encapsulated content octets. */
  readonly content: Uint8Array;
  /** Every certificate in `certificates`, in order. */
  readonly certificates: readonly Certificate[];
  /** The certificate the SignerInfo names, first, then the others. */
  readonly signerChain: readonly Certificate[];
  readonly signingTime: Date | undefined;
  /** What the signature covers: the DER SET OF signed attributes (RFC 5652 section 5.4). */
  readonly signedAttributes: Uint8Array;
  readonly messageDigest: Uint8Array;
  readonly digest: HashName;
  readonly signatureHash: HashName;
  readonly signature: Uint8Array;
}

export interface SignInput {
  eContentType: string;
  content: Uint8Array;
  /** Signer certificate first, then any intermediates to include. */
  signerChain: readonly Certificate[];
  signingTime: Date;
  /** Leave the content out (RFC 5652 section 5.2: a detached signature, as RFC 8520 signs MUD files). */
  detached?: boolean;
}

/** Signs `content` with ES256; returns the DER ContentInfo. */
export function signSignedData(
  crypto: Crypto,
  key: PrivateKeyHandle,
  input: SignInput,
): Uint8Array {
  const signer = input.signerChain[0];
  if (!signer)
    throw new AirlockError('ERR_INTERNAL', 'a CMS signature needs the signer certificate');
  if (!equalBytes(signer.spki, key.spki))
    throw new AirlockError('ERR_INTERNAL', 'the signer certificate is not for this key');
  const certs = input.signerChain.map((c) => pkijs.Certificate.fromBER(new Uint8Array(c.der)));
  const attributes = [
    new pkijs.Attribute({
      type: OID_CONTENT_TYPE,
      values: [new asn1js.ObjectIdentifier({ value: input.eContentType })],
    }),
    new pkijs.Attribute({ type: OID_SIGNING_TIME, values: [signingTimeValue(input.signingTime)] }),
    new pkijs.Attribute({
      type: OID_MESSAGE_DIGEST,
      values: [new asn1js.OctetString({ valueHex: new Uint8Array(crypto.sha256(input.content)) })],
    }),
  ];
  // DER: the elements of a SET OF in the order of their encodings (X.690 section 11.6).
  const sorted = attributes
    .map((a) => ({ a, der: new Uint8Array(a.toSchema().toBER()) }))
    .sort((x, y) => compareBytes(x.der, y.der))
    .map((x) => x.a);
  const signedAttrs = new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: sorted });
  const setOf = new Uint8Array(signedAttrs.toSchema().toBER());
  setOf[0] = 0x31; // [0] IMPLICIT on the wire, SET OF when signed
  const signature = p1363ToDer(crypto.signEs256(key, setOf));

  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({
      issuer: certs[0]!.issuer,
      serialNumber: certs[0]!.serialNumber,
    }),
    digestAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID_SHA256 }),
    signedAttrs,
    signatureAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID_ECDSA_SHA256 }),
    signature: new asn1js.OctetString({ valueHex: new Uint8Array(signature) }),
  });
  const encap = new pkijs.EncapsulatedContentInfo({ eContentType: input.eContentType });
  // Primitive OCTET STRING (DER); pkijs's constructor would split it into a constructed one.
  if (!input.detached)
    encap.eContent = new asn1js.OctetString({ valueHex: new Uint8Array(input.content) });
  const signedData = new pkijs.SignedData({
    // RFC 5652 section 5.1: version 3 when eContentType is not id-data.
    version: input.eContentType === OID_DATA_CONTENT ? 1 : 3,
    digestAlgorithms: [new pkijs.AlgorithmIdentifier({ algorithmId: OID_SHA256 })],
    encapContentInfo: encap,
    certificates: certs,
    signerInfos: [signerInfo],
  });
  const contentInfo = new pkijs.ContentInfo({
    contentType: OID_SIGNED_DATA,
    content: signedData.toSchema(true),
  });
  return new Uint8Array(contentInfo.toSchema().toBER());
}

/** RFC 5652 section 11.3: UTCTime through 2049, GeneralizedTime after. */
function signingTimeValue(at: Date): asn1js.UTCTime | asn1js.GeneralizedTime {
  const whole = new Date(Math.floor(at.getTime() / 1000) * 1000);
  return whole.getUTCFullYear() < 2050
    ? new asn1js.UTCTime({ valueDate: whole })
    : new asn1js.GeneralizedTime({ valueDate: whole });
}

/**
 * Parses a SignedData ContentInfo with exactly one SignerInfo and its signer certificate. Does
 * not verify. DER is read with Airlock's DER walker (microseconds; asn1js's schema matching took
 * about 5 ms per voucher, on an endpoint anyone may call); BER that the walker refuses
 * (indefinite lengths, constructed strings) is read with pkijs, as before.
 */
export function decodeSignedData(der: Uint8Array, detached?: Uint8Array): DecodedSignedData {
  if (der.length === 0 || der.length > MAX_BYTES) throw new AirlockError(MALFORMED, 'size');
  let walked: DecodedSignedData | undefined;
  try {
    walked = walkSignedData(der, detached);
  } catch (e) {
    if (!(e instanceof AirlockError) || !e.message.includes('DER:')) throw e;
  }
  return walked ?? decodeSignedDataBer(der, detached);
}

/**
 * The content a SignedData signs: encapsulated, or (RFC 5652 section 5.2: eContent absent, a
 * detached signature, as RFC 8520 section 13 signs MUD files) the `detached` bytes the caller
 * holds. Both at once, or neither, is malformed.
 */
function contentOf(encapsulated: Uint8Array | undefined, detached: Uint8Array | undefined) {
  if (encapsulated !== undefined && detached !== undefined)
    throw new AirlockError(MALFORMED, 'a detached signature was expected, the content is inside');
  const content = encapsulated ?? detached;
  if (content === undefined) throw new AirlockError(MALFORMED, 'the content is detached');
  return content;
}

/** The DER walk of a SignedData (RFC 5652 section 5): the same checks as the BER path below. */
export function walkSignedData(der: Uint8Array, detached?: Uint8Array): DecodedSignedData {
  const top = new DerReader(der, MALFORMED);
  const ci = top.enter(Tag.SEQUENCE);
  top.end();
  if (decodeOid(ci.read(Tag.OID).value, MALFORMED) !== OID_SIGNED_DATA)
    throw new AirlockError(MALFORMED, 'not a SignedData');
  const explicit = ci.enter(0xa0);
  ci.end();
  const sd = explicit.enter(Tag.SEQUENCE);
  explicit.end();
  sd.read(Tag.INTEGER);
  const digestAlgorithms: string[] = [];
  const algs = sd.enter(Tag.SET);
  while (!algs.done) digestAlgorithms.push(algorithmOf(algs.read(Tag.SEQUENCE)));
  const encap = sd.enter(Tag.SEQUENCE);
  const eContentType = decodeOid(encap.read(Tag.OID).value, MALFORMED);
  const wrapped = encap.readOptional(0xa0);
  encap.end();
  let encapsulated: Uint8Array | undefined;
  if (wrapped) {
    const octets = new DerReader(wrapped.value, MALFORMED);
    encapsulated = octets.read(Tag.OCTET_STRING).value;
    octets.end();
  }
  const content = contentOf(encapsulated, detached);

  const certificates: Certificate[] = [];
  const certSet = sd.readOptional(0xa0);
  if (certSet) {
    const certs = new DerReader(certSet.value, MALFORMED);
    while (!certs.done) {
      const c = certs.read();
      if (c.tag === Tag.SEQUENCE) certificates.push(parseCertificate(c.raw)); // other choices: not signers
    }
  }
  sd.readOptional(0xa1); // crls
  const infos = sd.enter(Tag.SET);
  sd.end();
  const si = infos.enter(Tag.SEQUENCE);
  if (!infos.done) throw new AirlockError(MALFORMED, 'exactly one signer is accepted');

  si.read(Tag.INTEGER);
  let signer: Certificate | undefined;
  if (si.peekTag() === Tag.SEQUENCE) {
    const ias = si.enter(Tag.SEQUENCE);
    const issuer = ias.read(Tag.SEQUENCE).raw;
    const serial = toHex(stripZeros(ias.read(Tag.INTEGER).value));
    ias.end();
    signer = certificates.find((c) => c.serial === serial && equalBytes(c.issuerDer, issuer));
  } else {
    signer = signerByKeyId(si.read(0x80).value, certificates);
  }
  if (!signer) throw new AirlockError(MALFORMED, 'the signer certificate is not in the SignedData');
  const digestAlgorithm = algorithmOf(si.read(Tag.SEQUENCE));
  const signedAttrsTlv = si.readOptional(0xa0);
  const signatureAlgorithm = algorithmOf(si.read(Tag.SEQUENCE));
  const signature = si.read(Tag.OCTET_STRING).value;
  si.readOptional(0xa1); // unsigned attributes
  si.end();

  let attributes: SignedAttributes | undefined;
  if (signedAttrsTlv) {
    const attrs = new Map<string, Tlv[]>();
    const list = new DerReader(signedAttrsTlv.value, MALFORMED);
    while (!list.done) {
      const a = list.enter(Tag.SEQUENCE);
      const type = decodeOid(a.read(Tag.OID).value, MALFORMED);
      const valuesReader = a.enter(Tag.SET);
      a.end();
      const values: Tlv[] = [];
      while (!valuesReader.done) values.push(valuesReader.read());
      if (attrs.has(type)) throw new AirlockError(MALFORMED, `the attribute ${type} appears twice`);
      attrs.set(type, values);
    }
    const ct = singleTlv(attrs, OID_CONTENT_TYPE);
    const md = singleTlv(attrs, OID_MESSAGE_DIGEST);
    const st = attrs.has(OID_SIGNING_TIME) ? singleTlv(attrs, OID_SIGNING_TIME) : undefined;
    // Signed as a SET OF (RFC 5652 section 5.4), sent as [0] IMPLICIT.
    const encoded = new Uint8Array(signedAttrsTlv.raw);
    encoded[0] = Tag.SET;
    attributes = {
      encoded,
      contentType: ct?.tag === Tag.OID ? decodeOid(ct.value, MALFORMED) : undefined,
      messageDigest: md?.tag === Tag.OCTET_STRING ? md.value : undefined,
      signingTime:
        st && (st.tag === Tag.UTCTime || st.tag === Tag.GeneralizedTime)
          ? decodeTime(st, MALFORMED)
          : undefined,
    };
  }
  return completeSignedData({
    der,
    eContentType,
    content,
    certificates,
    signer,
    digestAlgorithms,
    digestAlgorithm,
    signatureAlgorithm,
    attributes,
    signature,
  });
}

/** The signed attributes a reader found: their SET OF encoding (what is signed) and the three Airlock reads. */
interface SignedAttributes {
  encoded: Uint8Array;
  contentType: string | undefined;
  messageDigest: Uint8Array | undefined;
  signingTime: Date | undefined;
}

/** What either reader takes out of a SignedData, before the checks they share. */
interface SignedDataParts {
  der: Uint8Array;
  eContentType: string;
  content: Uint8Array;
  certificates: Certificate[];
  signer: Certificate;
  digestAlgorithms: readonly string[];
  digestAlgorithm: string;
  signatureAlgorithm: string;
  attributes: SignedAttributes | undefined;
  signature: Uint8Array;
}

/** The checks both readers share (RFC 5652 sections 5.1, 5.3, 11), and the decoded result. */
function completeSignedData(p: SignedDataParts): DecodedSignedData {
  // RFC 5652 section 5.1: digestAlgorithms lists the signers' digest algorithms.
  if (!p.digestAlgorithms.includes(p.digestAlgorithm))
    throw new AirlockError(MALFORMED, "the signer's digest algorithm is not in digestAlgorithms");
  const digest = DIGESTS[p.digestAlgorithm];
  if (!digest) throw new AirlockError(MALFORMED, `digest algorithm ${p.digestAlgorithm}`);
  const sigAlg = SIGNATURES[p.signatureAlgorithm];
  if (!sigAlg) throw new AirlockError(MALFORMED, `signature algorithm ${p.signatureAlgorithm}`);
  // Without signed attributes the signature would be over the content itself; RFC 8366 vouchers carry them.
  const a = p.attributes;
  if (!a) throw new AirlockError(MALFORMED, 'signed attributes are missing');
  if (a.contentType !== p.eContentType)
    throw new AirlockError(MALFORMED, 'the contentType attribute does not match the content');
  if (!a.messageDigest) throw new AirlockError(MALFORMED, 'the messageDigest attribute is missing');
  return {
    der: p.der,
    eContentType: p.eContentType,
    content: p.content,
    certificates: p.certificates,
    signerChain: [p.signer, ...p.certificates.filter((c) => c !== p.signer)],
    signingTime: a.signingTime,
    signedAttributes: a.encoded,
    messageDigest: a.messageDigest,
    digest,
    signatureHash: sigAlg.hash ?? digest,
    signature: p.signature,
  };
}

/** The OID of an AlgorithmIdentifier. */
function algorithmOf(t: Tlv): string {
  return decodeOid(new DerReader(t.value, MALFORMED).read(Tag.OID).value, MALFORMED);
}

function singleTlv(attrs: Map<string, Tlv[]>, type: string): Tlv | undefined {
  const values = attrs.get(type);
  if (!values) return undefined;
  if (values.length !== 1)
    throw new AirlockError(MALFORMED, `the attribute ${type} must have one value`);
  return values[0];
}

/** The certificate whose subjectKeyIdentifier is `keyId`. */
function signerByKeyId(keyId: Uint8Array, certs: readonly Certificate[]): Certificate | undefined {
  return certs.find((c) => {
    const ext = c.extensions.get(OID_SUBJECT_KEY_IDENTIFIER);
    // The extension value is an OCTET STRING holding the identifier.
    return (
      ext !== undefined && ext.length >= 2 && ext[0] === 0x04 && equalBytes(ext.subarray(2), keyId)
    );
  });
}

/** The BER path (pkijs), for SignedData that is not DER. */
export function decodeSignedDataBer(der: Uint8Array, detached?: Uint8Array): DecodedSignedData {
  let signedData: pkijs.SignedData;
  try {
    const asn1 = asn1js.fromBER(new Uint8Array(der));
    if (asn1.offset === -1 || asn1.offset !== der.length)
      throw new Error(asn1.result.error || 'trailing bytes');
    const contentInfo = new pkijs.ContentInfo({ schema: asn1.result });
    if (contentInfo.contentType !== OID_SIGNED_DATA) throw new Error('not a SignedData');
    signedData = new pkijs.SignedData({ schema: contentInfo.content });
  } catch (cause) {
    if (cause instanceof AirlockError) throw cause;
    throw new AirlockError(MALFORMED, 'not a CMS SignedData', { cause });
  }
  const eContent = signedData.encapContentInfo.eContent;
  if (eContent !== undefined && !(eContent instanceof asn1js.OctetString))
    throw new AirlockError(MALFORMED, 'the content is not an OCTET STRING');
  const content = contentOf(eContent ? new Uint8Array(eContent.getValue()) : undefined, detached);
  const eContentType = signedData.encapContentInfo.eContentType;

  const certificates: Certificate[] = [];
  for (const c of signedData.certificates ?? []) {
    if (!(c instanceof pkijs.Certificate)) continue; // attribute certificates and others: not signers
    certificates.push(parseCertificate(new Uint8Array(c.toSchema().toBER())));
  }
  if (signedData.signerInfos.length !== 1)
    throw new AirlockError(
      MALFORMED,
      `exactly one signer is accepted, found ${signedData.signerInfos.length}`,
    );
  const si = signedData.signerInfos[0]!;
  const signer = findSigner(si, certificates);
  if (!signer) throw new AirlockError(MALFORMED, 'the signer certificate is not in the SignedData');

  let attributes: SignedAttributes | undefined;
  if (si.signedAttrs) {
    const attrs = new Map<string, asn1js.AsnType[]>();
    for (const a of si.signedAttrs.attributes) {
      if (attrs.has(a.type))
        throw new AirlockError(MALFORMED, `the attribute ${a.type} appears twice`);
      attrs.set(a.type, a.values);
    }
    const ct = single(attrs, OID_CONTENT_TYPE);
    const md = single(attrs, OID_MESSAGE_DIGEST);
    const st = attrs.has(OID_SIGNING_TIME) ? single(attrs, OID_SIGNING_TIME) : undefined;
    const encoded = new Uint8Array(si.signedAttrs.encodedValue); // pkijs has retagged it as SET OF
    if (encoded[0] !== Tag.SET) throw new AirlockError(MALFORMED, 'signed attributes');
    attributes = {
      encoded,
      contentType: ct instanceof asn1js.ObjectIdentifier ? ct.valueBlock.toString() : undefined,
      messageDigest: md instanceof asn1js.OctetString ? new Uint8Array(md.getValue()) : undefined,
      signingTime:
        st instanceof asn1js.UTCTime || st instanceof asn1js.GeneralizedTime
          ? st.toDate()
          : undefined,
    };
  }
  return completeSignedData({
    der,
    eContentType,
    content,
    certificates,
    signer,
    digestAlgorithms: signedData.digestAlgorithms.map((d) => d.algorithmId),
    digestAlgorithm: si.digestAlgorithm.algorithmId,
    signatureAlgorithm: si.signatureAlgorithm.algorithmId,
    attributes,
    signature: new Uint8Array(si.signature.getValue()),
  });
}

/**
 * Checks the messageDigest over the content and the signature over the signed attributes,
 * with `spki` (by default the signer certificate's key). Who the signer is, is the caller's.
 */
export function verifySignedData(
  crypto: Crypto,
  sd: DecodedSignedData,
  spki: Uint8Array = sd.signerChain[0]!.spki,
): void {
  if (!equalBytes(crypto.digest(sd.digest, sd.content), sd.messageDigest))
    throw new AirlockError('ERR_CMS_SIGNATURE', 'the message digest does not match the content');
  if (!crypto.verifySignature(spki, sd.signatureHash, sd.signedAttributes, sd.signature, 'der'))
    throw new AirlockError('ERR_CMS_SIGNATURE');
}

function single(attrs: Map<string, asn1js.AsnType[]>, type: string): asn1js.AsnType | undefined {
  const values = attrs.get(type);
  if (!values) return undefined;
  if (values.length !== 1)
    throw new AirlockError(MALFORMED, `the attribute ${type} must have one value`);
  return values[0];
}

/** RFC 5652 section 5.3: the SignerIdentifier names the certificate by issuer and serial, or by key identifier. */
function findSigner(si: pkijs.SignerInfo, certs: readonly Certificate[]): Certificate | undefined {
  const sid = si.sid as unknown;
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    const issuer = new Uint8Array(sid.issuer.toSchema().toBER());
    const serial = toHex(stripZeros(sid.serialNumber.valueBlock.valueHexView));
    return certs.find((c) => c.serial === serial && equalBytes(c.issuerDer, issuer));
  }
  if (
    sid instanceof asn1js.BaseBlock &&
    sid.idBlock.tagClass === 3 &&
    sid.idBlock.tagNumber === 0
  ) {
    const view = (sid.valueBlock as unknown as { valueHexView?: Uint8Array }).valueHexView;
    return view ? signerByKeyId(view, certs) : undefined;
  }
  return undefined;
}

function stripZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
