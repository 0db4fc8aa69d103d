/**
 * Step 10 (NIST IR 8350 Figure 9): the secure channel is established. Nothing goes over the
 * wire: the channel opened in step 2 became trusted both ways when the network authenticated
 * the device (step 7) and the device the network (step 9). What this step adds is a type: the
 * steps that follow (14, 15) take only a SecureChannel, and only the proofs of both
 * authentications make one, so they cannot be called on a channel still provisional.
 */
import type { PledgeChannel } from '../../core/ports.js';
import type { DeviceAuthentication } from './step-07-device-authentication.js';
import type { NetworkOwner } from './step-09-network-authentication.js';

declare const authenticatedBothWays: unique symbol;

/** A pledge channel authenticated both ways. */
export type SecureChannel = PledgeChannel & { readonly [authenticatedBothWays]: true };

export function establishSecureChannel(
  channel: PledgeChannel,
  _proofs: { device: DeviceAuthentication; network: NetworkOwner },
): SecureChannel {
  return channel as SecureChannel;
}
