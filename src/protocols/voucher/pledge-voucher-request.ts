/**
 * The pledge voucher request (RFC 8995 section 3.3 and 5.2): built and signed by the device
 * with its IDevID key, checked by the registrar against the TLS client certificate.
 */
import { AirlockError, ensure } from '../../core/errors.js';
import { equalBytes, fromBase64, fromUtf8, toBase64 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import type { Certificate } from '../x509/certificate.js';
import { decodeVoucherRequest, type SignedArtifact } from './artifact.js';
import { VOUCHER_JWS_MEDIA_TYPE, signVoucherArtifact, type VoucherMediaType } from './codec.js';
import type { VoucherRequestBody } from './schema.js';

export interface PledgeVoucherRequestInput {
  serialNumber: string;
  nonce: string;
  createdOn: Date;
  /** The registrar's TLS server certificate, as the pledge saw it (provisionally). */
  proximityRegistrarCert: Uint8Array;
}

/** A JWS pledge voucher request (General JSON serialization), as text. */
export function signPledgeVoucherRequest(
  crypto: Crypto,
  idevidKey: PrivateKeyHandle,
  idevid: Certificate,
  input: PledgeVoucherRequestInput,
): string {
  return fromUtf8(
    signPledgeVoucherRequestAs(crypto, VOUCHER_JWS_MEDIA_TYPE, idevidKey, idevid, input),
  );
}

export function signPledgeVoucherRequestAs(
  crypto: Crypto,
  format: VoucherMediaType,
  idevidKey: PrivateKeyHandle,
  idevid: Certificate,
  input: PledgeVoucherRequestInput,
): Uint8Array {
  const body: VoucherRequestBody = {
    assertion: 'proximity',
    'serial-number': input.serialNumber,
    nonce: input.nonce,
    'created-on': input.createdOn.toISOString(),
    'proximity-registrar-cert': toBase64(input.proximityRegistrarCert),
  };
  return signVoucherArtifact(
    crypto,
    format,
    idevidKey,
    [idevid],
    { 'ietf-voucher-request:voucher': body },
    input.createdOn,
  );
}

export interface VerifiedPledgeVoucherRequest {
  readonly artifact: SignedArtifact<VoucherRequestBody>;
  readonly serialNumber: string;
  readonly nonce: string;
}

export interface PledgeVoucherRequestContext {
  tlsClientCert: Certificate;
  registrarCert: Certificate;
  mediaType?: VoucherMediaType;
  /**
   * The device's serial number as the registrar read it from the birth certificate, where its
   * manufacturer's trust says it is (RFC 8995 section 2.3.1: subject serialNumber, CN or
   * hardwareModuleName). Default: the subject's serialNumber, as in Airlock's birth certificates.
   */
  serialNumber?: string;
}

/**
 * Registrar side (RFC 8995 section 5.5): the request is signed by the very certificate the
 * pledge presented in TLS, names that certificate's serial number and this registrar.
 */
export function verifyPledgeVoucherRequest(
  crypto: Crypto,
  request: string | Uint8Array,
  ctx: PledgeVoucherRequestContext,
): VerifiedPledgeVoucherRequest {
  const artifact = decodeVoucherRequest(request, ctx.mediaType);
  const signer = artifact.signerChain[0]!;
  if (!equalBytes(signer.der, ctx.tlsClientCert.der))
    throw new AirlockError('ERR_IDEVID_MISMATCH', 'x5c differs from the TLS client certificate');
  artifact.verify(crypto, signer.spki);
  const body = artifact.body;
  const expected = ctx.serialNumber ?? signer.subjectSerialNumber;
  ensure(
    expected !== undefined && body['serial-number'] === expected,
    'ERR_IDEVID_MISMATCH',
    'serial-number differs from the certificate',
  );
  ensure(body.nonce, 'ERR_VOUCHER_REQUEST_MALFORMED', 'a nonce is required');
  const prox = fromBase64(body['proximity-registrar-cert'] ?? '');
  ensure(prox && equalBytes(prox, ctx.registrarCert.der), 'ERR_VOUCHER_REQUEST_PROXIMITY');
  return { artifact, serialNumber: body['serial-number'], nonce: body.nonce };
}
