/**
 * The registrar voucher request (RFC 8995 section 5.5): the registrar wraps the pledge's
 * request, signs it with its own key, and sends it to the MASA, which checks both layers.
 */
import { AirlockError, ensure } from '../../core/errors.js';
import { equalBytes, fromBase64, toBase64 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { signCompact, verifyCompact } from '../jws/compact.js';
import { verifyChain } from '../x509/chain.js';
import type { Certificate } from '../x509/certificate.js';
import { decodeVoucherRequest } from './artifact.js';
import type { VerifiedPledgeVoucherRequest } from './pledge-voucher-request.js';
import type { VoucherRequestBody } from './schema.js';

export function signRegistrarVoucherRequest(
  crypto: Crypto,
  registrarKey: PrivateKeyHandle,
  chain: { registrarCert: Certificate; domainCa: Certificate },
  pledge: VerifiedPledgeVoucherRequest,
  createdOn: Date,
): string {
  const body: VoucherRequestBody = {
    assertion: 'proximity',
    'serial-number': pledge.serialNumber,
    nonce: pledge.nonce,
    'created-on': createdOn.toISOString(),
    'prior-signed-voucher-request': pledge.artifact.jws.compact,
  };
  const x5c = [toBase64(chain.registrarCert.der), toBase64(chain.domainCa.der)];
  return signCompact(crypto, registrarKey, { alg: 'ES256', typ: 'voucher-jws+json', x5c }, { 'ietf-voucher-request:voucher': body });
}

export interface VerifiedRegistrarVoucherRequest {
  readonly serialNumber: string;
  readonly nonce: string;
  readonly registrarCert: Certificate;
  /** The CA that issued the registrar certificate: it identifies the network owner. */
  readonly domainCa: Certificate;
  readonly idevid: Certificate;
}

/**
 * MASA side (RFC 8995 section 5.5): the registrar's signature, its certificate's issuer (the
 * domain CA, last in x5c), the pledge's signature inside, the pledge's IDevID to the
 * manufacturer's anchors, and that both layers agree on serial number, nonce and registrar.
 */
export function verifyRegistrarVoucherRequest(
  crypto: Crypto,
  text: string,
  ctx: { idevidAnchors: readonly Certificate[]; at: Date },
): VerifiedRegistrarVoucherRequest {
  const rvr = decodeVoucherRequest(text);
  const registrarCert = rvr.signerChain[0]!;
  verifyCompact(crypto, rvr.jws, registrarCert.spki);
  ensure(rvr.signerChain.length >= 2, 'ERR_VOUCHER_REQUEST_MALFORMED', 'x5c must end with the domain CA');
  const domainCa = rvr.signerChain[rvr.signerChain.length - 1]!;
  verifyChain(crypto, { leaf: registrarCert, intermediates: rvr.signerChain.slice(1, -1), anchors: [domainCa], at: ctx.at });

  const prior = rvr.body['prior-signed-voucher-request'];
  ensure(prior, 'ERR_VOUCHER_REQUEST_MALFORMED', 'prior-signed-voucher-request is required');
  const pvr = decodeVoucherRequest(prior);
  const idevid = pvr.signerChain[0]!;
  verifyCompact(crypto, pvr.jws, idevid.spki);
  try {
    verifyChain(crypto, { leaf: idevid, intermediates: pvr.signerChain.slice(1), anchors: ctx.idevidAnchors, at: ctx.at });
  } catch (cause) {
    throw new AirlockError('ERR_IDEVID_UNTRUSTED', undefined, { cause });
  }
  const serial = rvr.body['serial-number'];
  ensure(pvr.body['serial-number'] === serial && idevid.subjectSerialNumber === serial, 'ERR_IDEVID_MISMATCH', 'serial numbers differ');
  ensure(pvr.body.nonce && pvr.body.nonce === rvr.body.nonce, 'ERR_VOUCHER_NONCE_MISMATCH', 'the registrar and pledge nonces differ');
  const prox = fromBase64(pvr.body['proximity-registrar-cert'] ?? '');
  ensure(prox && equalBytes(prox, registrarCert.der), 'ERR_VOUCHER_REQUEST_PROXIMITY', 'the pledge saw another registrar');
  return { serialNumber: serial, nonce: pvr.body.nonce, registrarCert, domainCa, idevid };
}
