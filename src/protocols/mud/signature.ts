/**
 * A MUD file's signature (RFC 8520 section 13): a detached CMS SignedData over the exact bytes
 * of the file, by a signer that chains to a trust anchor the administrator configured for MUD
 * (the manufacturer's), valid at `at` (a test clock may move it). Three ways to fail, told apart:
 * ERR_CMS_MALFORMED (not a detached SignedData), ERR_MUD_SIGNATURE (it does not sign these
 * bytes), ERR_MUD_SIGNER_UNTRUSTED (the signer does not chain to an anchor at `at`, expired
 * certificates included).
 */
import { AirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import { decodeSignedData, verifySignedData } from '../cms/signed-data.js';
import type { Certificate } from '../x509/certificate.js';
import { verifyChain } from '../x509/chain.js';

export interface MudSignatureInput {
  /** The MUD file, byte for byte as it was fetched. */
  mud: Uint8Array;
  /** The DER SignedData fetched from the file's `mud-signature` URL. */
  signature: Uint8Array;
  anchors: readonly Certificate[];
  at: Date;
}

/** The signer's certificate, once the signature and its chain are verified. */
export function verifyMudSignature(crypto: Crypto, input: MudSignatureInput): Certificate {
  const sd = decodeSignedData(input.signature, input.mud);
  try {
    verifySignedData(crypto, sd);
  } catch (cause) {
    throw new AirlockError('ERR_MUD_SIGNATURE', 'the signature does not sign these bytes', {
      cause,
    });
  }
  const signer = sd.signerChain[0]!;
  try {
    verifyChain(crypto, {
      leaf: signer,
      intermediates: sd.certificates.filter((c) => c !== signer),
      anchors: input.anchors,
      at: input.at,
    });
  } catch (cause) {
    throw new AirlockError(
      'ERR_MUD_SIGNER_UNTRUSTED',
      `"${signer.subject}": ${cause instanceof AirlockError ? cause.message : 'not trusted'}`,
      { cause },
    );
  }
  return signer;
}
