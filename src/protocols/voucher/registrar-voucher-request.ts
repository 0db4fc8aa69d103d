/**
 * The registrar voucher request (RFC 8995 section 5.5): the registrar wraps the pledge's
 * request, signs it with its own key, and sends it to the MASA, which checks both layers.
 *
 * - The signer must be a registrar: its certificate carries id-kp-cmcRA (section 5.5.4), so
 *   that no other certificate of the domain (a device's LDevID) can ask for a voucher.
 * - x5c is the registrar certificate, then optionally its chain up to the domain CA (section
 *   5.5: one end-entity certificate is enough). With a chain, the last certificate is the
 *   domain CA; without one, the MASA knows only the registrar certificate (masa.ts decides).
 * - `prior-signed-voucher-request` is YANG `binary`: the base64 of the pledge's artifact
 *   bytes (a JWS's UTF-8 text in any serialization, or CMS DER). A raw compact JWS string, as
 *   the anima-jws-voucher examples carry, is accepted too. The registrar request is signed in
 *   the pledge request's format.
 * - `created-on` of either layer later than now plus the allowed skew is refused.
 * - Proximity (section 5.5.6): the pledge's `proximity-registrar-cert` must be the signer's
 *   certificate when present; when absent, proximity is not verified (or, if required, refused).
 */
import { AirlockError, ensure } from '../../core/errors.js';
import { equalBytes, fromBase64, fromUtf8, toBase64, utf8 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { verifyChain } from '../x509/chain.js';
import type { Certificate } from '../x509/certificate.js';
import { Oid } from '../x509/oids.js';
import { decodeVoucherRequest } from './artifact.js';
import {
  VOUCHER_CMS_MEDIA_TYPE,
  VOUCHER_JWS_MEDIA_TYPE,
  signVoucherArtifact,
  type EncodedVoucher,
  type VoucherMediaType,
} from './codec.js';
import type { VerifiedPledgeVoucherRequest } from './pledge-voucher-request.js';
import type { VoucherRequestBody } from './schema.js';
import { ensureNotFromFuture } from './voucher.js';

/** YANG binary of the pledge's artifact: the base64 of its bytes. */
export function encodePriorSignedVoucherRequest(artifact: Uint8Array | string): string {
  return toBase64(typeof artifact === 'string' ? utf8(artifact) : artifact);
}

/**
 * The pledge's artifact from `prior-signed-voucher-request`: base64 of CMS DER or of a JWS
 * (any serialization), or (legacy, the anima-jws-voucher examples) a compact JWS as it is.
 */
export function decodePriorSignedVoucherRequest(value: string): EncodedVoucher {
  const text = value.trim();
  if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(text))
    return { mediaType: VOUCHER_JWS_MEDIA_TYPE, bytes: utf8(text) };
  const bytes = fromBase64(text);
  if (!bytes || bytes.length === 0)
    throw new AirlockError(
      'ERR_VOUCHER_REQUEST_MALFORMED',
      'prior-signed-voucher-request is not base64',
    );
  if (bytes[0] === 0x30) return { mediaType: VOUCHER_CMS_MEDIA_TYPE, bytes };
  let decoded: string;
  try {
    decoded = fromUtf8(bytes).trim();
  } catch (cause) {
    throw new AirlockError(
      'ERR_VOUCHER_REQUEST_MALFORMED',
      'prior-signed-voucher-request is neither CMS nor a JWS',
      { cause },
    );
  }
  const compact = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(decoded);
  if (!compact && !decoded.startsWith('{'))
    throw new AirlockError(
      'ERR_VOUCHER_REQUEST_MALFORMED',
      'prior-signed-voucher-request is neither CMS nor a JWS',
    );
  return { mediaType: VOUCHER_JWS_MEDIA_TYPE, bytes: utf8(decoded) };
}

/** A JWS registrar voucher request (General JSON serialization), as text. */
export function signRegistrarVoucherRequest(
  crypto: Crypto,
  registrarKey: PrivateKeyHandle,
  chain: { registrarCert: Certificate; domainCa?: Certificate | undefined },
  pledge: VerifiedPledgeVoucherRequest,
  createdOn: Date,
): string {
  return fromUtf8(
    signRegistrarVoucherRequestAs(
      crypto,
      VOUCHER_JWS_MEDIA_TYPE,
      registrarKey,
      chain,
      pledge,
      createdOn,
    ),
  );
}

export function signRegistrarVoucherRequestAs(
  crypto: Crypto,
  format: VoucherMediaType,
  registrarKey: PrivateKeyHandle,
  /** Without `domainCa`, x5c is the registrar certificate alone. */
  chain: { registrarCert: Certificate; domainCa?: Certificate | undefined },
  pledge: VerifiedPledgeVoucherRequest,
  createdOn: Date,
): Uint8Array {
  const body: VoucherRequestBody = {
    assertion: 'proximity',
    'serial-number': pledge.serialNumber,
    nonce: pledge.nonce,
    'created-on': createdOn.toISOString(),
    'prior-signed-voucher-request': encodePriorSignedVoucherRequest(pledge.artifact.bytes),
  };
  const signerChain = [chain.registrarCert, ...(chain.domainCa ? [chain.domainCa] : [])];
  return signVoucherArtifact(
    crypto,
    format,
    registrarKey,
    signerChain,
    { 'ietf-voucher-request:voucher': body },
    createdOn,
  );
}

export interface VerifiedRegistrarVoucherRequest {
  readonly serialNumber: string;
  readonly nonce: string;
  readonly registrarCert: Certificate;
  /** The CA at the end of x5c, which issued the registrar certificate; undefined when x5c is the registrar certificate alone. */
  readonly domainCa: Certificate | undefined;
  readonly idevid: Certificate;
  /** The pledge named this registrar's certificate (proximity-registrar-cert), so the MASA may assert `proximity`. */
  readonly proximity: boolean;
}

export interface VerifyRegistrarVoucherRequestContext {
  idevidAnchors: readonly Certificate[];
  at: Date;
  /** How far in the future either layer's created-on may be. Default 300 s. */
  clockSkewSeconds?: number;
  /** Refuse a pledge request without proximity-registrar-cert (default) rather than report `proximity: false`. */
  requireProximity?: boolean;
  /** The request's format; JWS unless said. */
  mediaType?: VoucherMediaType;
}

export function isRegistrarCertificate(cert: Certificate): boolean {
  return cert.extendedKeyUsage?.includes(Oid.cmcRA) === true;
}

/**
 * MASA side (RFC 8995 section 5.5): the registrar's certificate (id-kp-cmcRA) and signature,
 * its chain to the domain CA when one is given, the pledge's signature inside, the pledge's
 * IDevID to the manufacturer's anchors, the creation times, and that both layers agree on
 * serial number, nonce and registrar.
 */
export function verifyRegistrarVoucherRequest(
  crypto: Crypto,
  request: string | Uint8Array,
  ctx: VerifyRegistrarVoucherRequestContext,
): VerifiedRegistrarVoucherRequest {
  const skew = ctx.clockSkewSeconds ?? 300;
  const rvr = decodeVoucherRequest(request, ctx.mediaType);
  const registrarCert = rvr.signerChain[0]!;
  if (!isRegistrarCertificate(registrarCert))
    throw new AirlockError(
      'ERR_VOUCHER_REQUEST_NOT_RA',
      `"${registrarCert.subject}" lacks id-kp-cmcRA`,
    );
  rvr.verify(crypto, registrarCert.spki);
  let domainCa: Certificate | undefined;
  if (rvr.signerChain.length >= 2) {
    domainCa = rvr.signerChain[rvr.signerChain.length - 1]!;
    // The domain is a CA that issued the registrar certificate, never that certificate again.
    ensure(
      domainCa.isCa && !equalBytes(domainCa.der, registrarCert.der),
      'ERR_VOUCHER_REQUEST_MALFORMED',
      'the last certificate of the chain is not a CA',
    );
    verifyChain(crypto, {
      leaf: registrarCert,
      intermediates: rvr.signerChain.slice(1, -1),
      anchors: [domainCa],
      at: ctx.at,
    });
  } else {
    // Only the registrar certificate: its own validity, and nothing to chain it to.
    verifyChain(crypto, { leaf: registrarCert, anchors: [registrarCert], at: ctx.at });
  }
  ensureNotFromFuture(rvr.body['created-on'], ctx.at, skew, 'ERR_VOUCHER_REQUEST_NOT_YET_VALID');

  const prior = rvr.body['prior-signed-voucher-request'];
  ensure(prior, 'ERR_VOUCHER_REQUEST_MALFORMED', 'prior-signed-voucher-request is required');
  const priorArtifact = decodePriorSignedVoucherRequest(prior);
  const pvr = decodeVoucherRequest(priorArtifact.bytes, priorArtifact.mediaType);
  const idevid = pvr.signerChain[0]!;
  pvr.verify(crypto, idevid.spki);
  try {
    verifyChain(crypto, {
      leaf: idevid,
      intermediates: pvr.signerChain.slice(1),
      anchors: ctx.idevidAnchors,
      at: ctx.at,
    });
  } catch (cause) {
    throw new AirlockError('ERR_IDEVID_UNTRUSTED', undefined, { cause });
  }
  ensureNotFromFuture(pvr.body['created-on'], ctx.at, skew, 'ERR_VOUCHER_REQUEST_NOT_YET_VALID');
  const serial = rvr.body['serial-number'];
  ensure(
    pvr.body['serial-number'] === serial && idevid.subjectSerialNumber === serial,
    'ERR_IDEVID_MISMATCH',
    'serial numbers differ',
  );
  ensure(
    pvr.body.nonce && pvr.body.nonce === rvr.body.nonce,
    'ERR_VOUCHER_NONCE_MISMATCH',
    'the registrar and pledge nonces differ',
  );
  const named = pvr.body['proximity-registrar-cert'];
  if (named === undefined) {
    ensure(
      ctx.requireProximity === false,
      'ERR_VOUCHER_REQUEST_PROXIMITY',
      'the pledge named no registrar',
    );
  } else {
    const prox = fromBase64(named);
    ensure(
      prox && equalBytes(prox, registrarCert.der),
      'ERR_VOUCHER_REQUEST_PROXIMITY',
      'the pledge saw another registrar',
    );
  }
  return {
    serialNumber: serial,
    nonce: pvr.body.nonce,
    registrarCert,
    domainCa,
    idevid,
    proximity: named !== undefined,
  };
}
