import { toBase64, toBase64Url, utf8 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { signCompact } from '../jws/compact.js';
import type { Certificate } from '../x509/certificate.js';
import type { DeclarationBody } from './schema.js';

export const DECLARATION_JWS_TYP = 'airlock-declaration+jws';

/** Signs a declaration with the manufacturer's declaration key. */
export function signDeclaration(
  crypto: Crypto,
  key: PrivateKeyHandle,
  signerChain: readonly Certificate[],
  body: DeclarationBody,
): string {
  const x5c = signerChain.map((c) => toBase64(c.der));
  return signCompact(
    crypto,
    key,
    { alg: 'ES256', typ: DECLARATION_JWS_TYP, x5c },
    { 'airlock-declaration': body },
  );
}

/** The link value a successor puts in `previous`. */
export function declarationHash(crypto: Crypto, compact: string): string {
  return toBase64Url(crypto.sha256(utf8(compact)));
}
