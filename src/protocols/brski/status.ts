/**
 * Status telemetry (RFC 8995 sections 5.7 and 5.9.4). Airlock's pledge signs its voucher
 * status with the IDevID key and binds it to the voucher nonce and to the TLS channel
 * (an RFC 5705 / RFC 8446 exporter value): that signature is step 7 of NIST IR 8350, the
 * network's authentication of the device on this very channel.
 */
import { z } from 'zod';
import { ensure } from '../../core/errors.js';
import { checked } from '../schema.js';
import { equalBytes, fromBase64Url, toBase64, toBase64Url } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { decodeCompact, payloadJson, signCompact, verifyCompact } from '../jws/compact.js';
import type { Certificate } from '../x509/certificate.js';

export const StatusTelemetry = z.object({
  version: z.number().int().min(1),
  status: z.boolean(),
  reason: z.string().max(1024).optional(),
  'reason-context': z.record(z.string(), z.unknown()).optional(),
});
export type StatusTelemetry = z.infer<typeof StatusTelemetry>;

/** The label for the TLS exporter that binds the status to the channel. */
export const CHANNEL_BINDING_LABEL = 'EXPORTER-airlock-voucher-status';
export const CHANNEL_BINDING_LENGTH = 32;

export function signVoucherStatus(
  crypto: Crypto,
  idevidKey: PrivateKeyHandle,
  idevid: Certificate,
  status: { ok: boolean; reason: string; nonce: string; channelBinding: Uint8Array },
): string {
  const body: StatusTelemetry = {
    version: 1,
    status: status.ok,
    reason: status.reason,
    'reason-context': {
      nonce: status.nonce,
      'channel-binding': toBase64Url(status.channelBinding),
    },
  };
  return signCompact(
    crypto,
    idevidKey,
    { alg: 'ES256', typ: 'voucher-status+jws', x5c: [toBase64(idevid.der)] },
    body,
  );
}

export function verifyVoucherStatus(
  crypto: Crypto,
  text: string,
  ctx: { tlsClientCert: Certificate; nonce: string; channelBinding: Uint8Array },
): StatusTelemetry {
  const jws = decodeCompact(text);
  verifyCompact(crypto, jws, ctx.tlsClientCert.spki);
  const message = checked(StatusTelemetry, payloadJson(jws), 'ERR_INPUT_SCHEMA');
  const rc = message['reason-context'] ?? {};
  ensure(rc.nonce === ctx.nonce, 'ERR_REGISTRAR_BINDING', 'the status names another voucher');
  const binding =
    typeof rc['channel-binding'] === 'string' ? fromBase64Url(rc['channel-binding']) : undefined;
  ensure(
    binding && equalBytes(binding, ctx.channelBinding),
    'ERR_REGISTRAR_BINDING',
    'the status was made for another channel',
  );
  return message;
}
