/**
 * Credential renewal (RFC 7030 section 4.2.2), after Figure 9: a new key and LDevID,
 * authenticated by the current LDevID over a channel validated against the domain CA from the
 * start, with a registrar (RA) certificate. The new LDevID is accepted only once it is
 * verified (it chains to the domain CA, names this device and holds the key made here); the
 * caller stores what this returns.
 */
import { toBase64 } from '../../core/bytes.js';
import type { OnboardingCredentials } from '../../core/credentials.js';
import type {
  ChannelLimits,
  PledgeChannel,
  PledgeConnector,
  PrivateKeyHandle,
} from '../../core/ports.js';
import {
  parseCertificate,
  parseCertificateBase64,
  type Certificate,
} from '../../protocols/x509/certificate.js';
import { decodeCertsOnly } from '../../protocols/est/certs-only.js';
import { buildCsr } from '../../protocols/est/csr.js';
import type { PledgeContext } from './context.js';
import { importStoredKey } from './stored-key.js';
import { authenticateNetwork } from './step-09-network-authentication.js';
import { acceptLdevid } from './step-15-provisioning.js';

/** The current onboarding credentials, opened: what renewal authenticates with and to. */
export interface CurrentLdevid {
  readonly domainCa: Certificate;
  readonly ldevid: Certificate;
  readonly key: PrivateKeyHandle;
}

export async function openCurrentLdevid(
  ctx: PledgeContext,
  current: OnboardingCredentials,
): Promise<CurrentLdevid> {
  const domainCa = parseCertificateBase64(current.domainCa);
  const ldevid = parseCertificateBase64(current.ldevid);
  return {
    domainCa,
    ldevid,
    key: await importStoredKey(ctx.keys, current.ldevidKey, 'the LDevID key'),
  };
}

/** A channel to the registrar, authenticated by the current LDevID and validated against the domain CA. */
export function connectForRenewal(
  connect: PledgeConnector,
  registrarUrl: string,
  current: CurrentLdevid,
  limits: ChannelLimits,
): Promise<PledgeChannel> {
  return connect(registrarUrl, {
    credentials: { chain: [current.ldevid.der], key: current.key },
    trustAnchors: [current.domainCa.der],
    limits,
  });
}

export async function renewLdevid(
  ctx: PledgeContext,
  channel: PledgeChannel,
  input: {
    credentials: OnboardingCredentials;
    current: CurrentLdevid;
    serialNumber: string;
    requireRa: boolean;
  },
): Promise<{ credentials: OnboardingCredentials; ldevid: Certificate }> {
  const { crypto, keys } = ctx;
  const { domainCa } = input.current;
  // The channel checked the chain to the domain CA; the certificate must also be a registrar's.
  authenticateNetwork(ctx, parseCertificate(channel.peerCertificate()), domainCa, {
    requireRa: input.requireRa,
  });
  const key = await keys.generateP256();
  const issued = decodeCertsOnly(
    (
      await channel.call('POST', '/.well-known/est/simplereenroll', {
        body: toBase64(buildCsr(crypto, key, input.serialNumber)),
        contentType: 'application/pkcs10',
      })
    ).body,
  );
  const ldevid = acceptLdevid(ctx, issued, { domainCa, key, serialNumber: input.serialNumber });
  return {
    credentials: {
      ...input.credentials,
      ldevid: toBase64(ldevid.der),
      ldevidKey: toBase64(await keys.exportPkcs8(key)),
    },
    ldevid,
  };
}
