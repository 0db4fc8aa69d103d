/** A CSR's key, checked against the network's own before anything is signed (steps 15 and renewal). */
import { ensure } from '../../core/errors.js';
import { equalBytes } from '../../core/bytes.js';
import type { RegistrarContext } from './ports.js';

/**
 * The network's own keys are never a device's. Every other key is checked by the insert that
 * binds it to the device (CredentialIssuer.recordLdevid): a key certified before, for any
 * device, or any device's birth key, is ERR_CSR_KEY.
 */
export function ensureNotOurKey(ctx: RegistrarContext, spki: Uint8Array): void {
  ensure(
    !equalBytes(spki, ctx.pki.domainCa.cert.spki) && !equalBytes(spki, ctx.pki.registrar.cert.spki),
    'ERR_CSR_KEY',
    "the key is the network's own",
  );
}
