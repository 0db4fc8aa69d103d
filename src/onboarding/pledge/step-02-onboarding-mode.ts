/**
 * Step 2 (NIST IR 8350 Figure 9): the device, in onboarding mode, contacts the onboarding
 * component: it opens its channel to the registrar, presenting its IDevID. The channel is
 * provisional (RFC 8995 section 5.1): the registrar is not authenticated until step 9, and
 * nothing it says is trusted before then except what the voucher vouches for.
 */
import type { ChannelLimits, PledgeChannel, PledgeConnector } from '../../core/ports.js';
import type { PledgeIdentity } from './identity.js';

export function enterOnboardingMode(
  connect: PledgeConnector,
  registrarUrl: string,
  identity: PledgeIdentity,
  limits: ChannelLimits,
): Promise<PledgeChannel> {
  return connect(registrarUrl, {
    credentials: { chain: identity.idevidChain, key: identity.idevidKey },
    limits,
  });
}
