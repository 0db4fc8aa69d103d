/**
 * Step 6 (NIST IR 8350 Figure 9): the device information declaration is delivered to the
 * device, and checked back to its manufacturer: every link signed under the declaration
 * anchor the device was born with, by the manufacturer it names, for this serial number, and
 * not older than the last declaration this device accepted (no rollback to a former owner).
 */
import type { PledgeChannel } from '../../core/ports.js';
import {
  assertNotStale,
  verifyDeclarationChain,
  type VerifiedDeclarationChain,
} from '../../protocols/declaration/verify.js';
import { DeclarationReply, parseJson } from '../../protocols/airlock/messages.js';
import type { PledgeContext } from './context.js';
import type { PledgeIdentity } from './identity.js';

/**
 * `acceptedSequence` reads the sequence number of the declaration accepted at the device's
 * last onboarding (none for a new device); it is read once the chain has verified.
 */
export async function receiveDeclaration(
  ctx: PledgeContext,
  channel: PledgeChannel,
  identity: PledgeIdentity,
  acceptedSequence: () => Promise<number | undefined>,
): Promise<VerifiedDeclarationChain> {
  const { chain } = parseJson(
    (await channel.call('GET', '/.well-known/airlock/declaration')).body,
    DeclarationReply,
  );
  const declaration = verifyDeclarationChain(ctx.crypto, chain, {
    declarationAnchors: identity.declarationAnchors,
    manufacturerId: identity.manufacturerId,
    serialNumber: identity.serialNumber,
    at: ctx.clock.now(),
  });
  assertNotStale(declaration, await acceptedSequence());
  return declaration;
}
