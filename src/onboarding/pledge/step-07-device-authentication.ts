/**
 * Step 7 (NIST IR 8350 Figure 9): the network authenticates the device. The device proves,
 * with its IDevID key and bound to this channel (its exported keying material), that it is the
 * device that received this voucher (RFC 8995 section 5.7 voucher status, with the request's
 * nonce): a status relayed from another channel does not verify.
 */
import type { PledgeChannel } from '../../core/ports.js';
import {
  CHANNEL_BINDING_LABEL,
  CHANNEL_BINDING_LENGTH,
  signVoucherStatus,
} from '../../protocols/brski/status.js';
import type { PledgeContext } from './context.js';
import type { PledgeIdentity } from './identity.js';
import type { TrustedIntroduction } from './step-05-trusted-introduction.js';

export interface DeviceAuthentication {
  /** The keying material the proof is bound to. */
  readonly channelBinding: Uint8Array;
}

export async function authenticateDevice(
  ctx: PledgeContext,
  channel: PledgeChannel,
  identity: PledgeIdentity,
  introduction: Pick<TrustedIntroduction, 'nonce'>,
): Promise<DeviceAuthentication> {
  const channelBinding = channel.exporter(CHANNEL_BINDING_LABEL, CHANNEL_BINDING_LENGTH);
  const status = signVoucherStatus(ctx.crypto, identity.idevidKey, identity.idevid, {
    ok: true,
    reason: 'voucher accepted',
    nonce: introduction.nonce,
    channelBinding,
  });
  await channel.call('POST', '/.well-known/brski/voucher_status', {
    body: status,
    contentType: 'application/jose',
  });
  return { channelBinding };
}
