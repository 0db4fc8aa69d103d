/**
 * Step 9 (NIST IR 8350 Figure 9): the device authenticates the network, and checks that the
 * network's owner may onboard it. Until now the registrar's certificate was provisional; it is
 * judged against the domain certificate the voucher pinned, and the owner that certificate
 * names must be the device's owner or an onboarder the declaration authorizes.
 */
import { AirlockError, ensure } from '../../core/errors.js';
import { partyIdFromSpki } from '../../core/party.js';
import type { Clock, Crypto } from '../../core/ports.js';
import { Oid } from '../../protocols/x509/oids.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import { verifyChain } from '../../protocols/x509/chain.js';
import { mayOnboard, type VerifiedDeclarationChain } from '../../protocols/declaration/verify.js';

/** The network owner, as the pinned certificate names it and the declaration calls it. */
export interface NetworkOwner {
  readonly id: string;
  readonly name: string;
}

/**
 * RFC 8995 sections 2.3.2 and 5.6.2: the provisional server certificate chains to the pinned
 * domain CA and, unless `requireRa` is off, is a registrar certificate (id-kp-cmcRA): every
 * LDevID of the domain chains to the same CA, and none of them may act as the registrar.
 * Renewal checks its registrar the same way.
 */
export function authenticateNetwork(
  ctx: { crypto: Crypto; clock: Clock },
  registrarCert: Certificate,
  pinnedDomainCa: Certificate,
  opts: { requireRa: boolean } = { requireRa: true },
): void {
  try {
    verifyChain(ctx.crypto, {
      leaf: registrarCert,
      anchors: [pinnedDomainCa],
      at: ctx.clock.now(),
    });
  } catch (cause) {
    throw new AirlockError('ERR_NETWORK_UNTRUSTED', undefined, { cause });
  }
  if (opts.requireRa)
    ensure(
      registrarCert.extendedKeyUsage?.includes(Oid.cmcRA),
      'ERR_NETWORK_NOT_REGISTRAR',
      'the registrar certificate lacks id-kp-cmcRA',
    );
}

/** The owner the pinned certificate names may onboard this device: its owner, or an authorized onboarder. */
export function authorizeNetworkOwner(
  ctx: { crypto: Crypto },
  pinned: Certificate,
  declaration: VerifiedDeclarationChain,
  serialNumber: string,
): NetworkOwner {
  const id = partyIdFromSpki(ctx.crypto, pinned.spki);
  const latest = declaration.latest;
  if (!mayOnboard(latest, id))
    throw new AirlockError('ERR_NETWORK_NOT_AUTHORIZED', `serial ${serialNumber}`);
  const name =
    latest.owner.id === id
      ? latest.owner.name
      : latest['authorized-onboarders'].find((p) => p.id === id)!.name;
  return { id, name };
}
