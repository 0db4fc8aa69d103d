/**
 * The pledge voucher request (RFC 8995 section 3.3 and 5.2): built and signed by the device
 * with its IDevID key, checked by the registrar against the TLS client certificate.
 */
import { AirlockError, ensure } from '../../core/errors.js';
import { equalBytes, fromBase64, toBase64 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { signCompact, verifyCompact } from '../jws/compact.js';
import type { Certificate } from '../x509/certificate.js';
import { decodeVoucherRequest, type SignedArtifact } from './artifact.js';
import type { VoucherRequestBody } from './schema.js';

export interface PledgeVoucherRequestInput {
  serialNumber: string;
  nonce: string;
  createdOn: Date;
  /** The registrar's TLS server certificate, as the pledge saw it (provisionally). */
  proximityRegistrarCert: Uint8Array;
}

export function signPledgeVoucherRequest(crypto: Crypto, idevidKey: PrivateKeyHandle, idevid: Certificate, input: PledgeVoucherRequestInput): string {
  const body: VoucherRequestBody = {
    assertion: 'proximity',
    'serial-number': input.serialNumber,
    nonce: input.nonce,
    'created-on': input.createdOn.toISOString(),
    'proximity-registrar-cert': toBase64(input.proximityRegistrarCert),
  };
  return signCompact(crypto, idevidKey, { alg: 'ES256', typ: 'voucher-jws+json', x5c: [toBase64(idevid.der)] }, { 'ietf-voucher-request:voucher': body });
}

export interface VerifiedPledgeVoucherRequest {
  readonly artifact: SignedArtifact<VoucherRequestBody>;
  readonly serialNumber: string;
  readonly nonce: string;
}

/**
 * Registrar side (RFC 8995 section 5.5): the request is signed by the very certificate the
 * pledge presented in TLS, names that certificate's serial number and this registrar.
 */
export function verifyPledgeVoucherRequest(
  crypto: Crypto,
  text: string,
  ctx: { tlsClientCert: Certificate; registrarCert: Certificate },
): VerifiedPledgeVoucherRequest {
  const artifact = decodeVoucherRequest(text);
  const signer = artifact.signerChain[0]!;
  if (!equalBytes(signer.der, ctx.tlsClientCert.der)) throw new AirlockError('ERR_IDEVID_MISMATCH', 'x5c differs from the TLS client certificate');
  verifyCompact(crypto, artifact.jws, signer.spki);
  const body = artifact.body;
  ensure(body['serial-number'] === signer.subjectSerialNumber, 'ERR_IDEVID_MISMATCH', 'serial-number differs from the certificate');
  ensure(body.nonce, 'ERR_VOUCHER_REQUEST_MALFORMED', 'a nonce is required');
  const prox = fromBase64(body['proximity-registrar-cert'] ?? '');
  ensure(prox && equalBytes(prox, ctx.registrarCert.der), 'ERR_VOUCHER_REQUEST_PROXIMITY');
  return { artifact, serialNumber: body['serial-number'], nonce: body.nonce };
}
