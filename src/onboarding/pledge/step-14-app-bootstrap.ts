/**
 * Step 14 (NIST IR 8350 Figure 9): application-layer bootstrapping information. The device
 * sends the application URL its manufacturer gave it (if any) and receives how to reach and
 * authenticate the application server, over the channel both sides now trust.
 */
import type { AppBootstrap } from '../../core/credentials.js';
import { AppBootstrapReply, parseJson } from '../../protocols/airlock/messages.js';
import type { PledgeIdentity } from './identity.js';
import type { SecureChannel } from './step-10-secure-channel.js';

export async function exchangeAppBootstrap(
  channel: SecureChannel,
  identity: Pick<PledgeIdentity, 'applicationUrl'>,
  attestationUrl?: string,
): Promise<AppBootstrap> {
  return parseJson(
    (
      await channel.call('POST', '/.well-known/airlock/app-bootstrap', {
        body: JSON.stringify({
          'application-url': identity.applicationUrl ?? null,
          // Report section 7: where the device answers re-attestation, if it does.
          ...(attestationUrl ? { 'attestation-url': attestationUrl } : {}),
        }),
        contentType: 'application/json',
      })
    ).body,
    AppBootstrapReply,
  );
}
