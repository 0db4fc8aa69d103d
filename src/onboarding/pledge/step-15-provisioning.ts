/**
 * Step 15 (NIST IR 8350 Figure 9): onboarding credentials are provisioned. Over the secure
 * channel the device learns the domain CA (EST cacerts, RFC 7030 section 4.1), has an LDevID
 * issued for a key it makes itself (simpleenroll, section 4.2) and receives a per-device Wi-Fi
 * PSK. The credentials are returned, not stored: the device reports their installation
 * (reportEnrollment, RFC 8995 section 5.9.4) and stores them only once the registrar accepted
 * that report, since a later onboarding of the same serial number supersedes them.
 */
import { AirlockError, ensure } from '../../core/errors.js';
import { equalBytes, toBase64 } from '../../core/bytes.js';
import type { AppBootstrap, OnboardingCredentials } from '../../core/credentials.js';
import type { PrivateKeyHandle } from '../../core/ports.js';
import { parseCertificate, type Certificate } from '../../protocols/x509/certificate.js';
import { verifyChain } from '../../protocols/x509/chain.js';
import type { VerifiedDeclarationChain } from '../../protocols/declaration/verify.js';
import { decodeCertsOnly } from '../../protocols/est/certs-only.js';
import { buildCsr } from '../../protocols/est/csr.js';
import { WifiReply, parseJson } from '../../protocols/airlock/messages.js';
import type { PledgeContext } from './context.js';
import type { NetworkOwner } from './step-09-network-authentication.js';
import type { SecureChannel } from './step-10-secure-channel.js';

export interface Provisioned {
  /** What the device stores once the registrar accepts its enrollment status. */
  readonly credentials: OnboardingCredentials;
  readonly ldevid: Certificate;
}

export async function provisionCredentials(
  ctx: PledgeContext,
  channel: SecureChannel,
  input: {
    serialNumber: string;
    /** Step 11: the MUD URL to convey in the CSR (RFC 8520 section 10). */
    mudUrl?: string;
    pinned: Certificate;
    networkOwner: NetworkOwner;
    declaration: VerifiedDeclarationChain;
    app: AppBootstrap;
  },
): Promise<Provisioned> {
  const { crypto, clock, keys } = ctx;
  const cacerts = decodeCertsOnly((await channel.call('GET', '/.well-known/est/cacerts')).body);
  const domainCa = estDomainCa(ctx, cacerts, input.pinned);
  const key = await keys.generateP256();
  const csrDer = buildCsr(
    crypto,
    key,
    input.serialNumber,
    input.mudUrl ? { mudUrl: input.mudUrl } : {},
  );
  const issued = decodeCertsOnly(
    (
      await channel.call('POST', '/.well-known/est/simpleenroll', {
        body: toBase64(csrDer),
        contentType: 'application/pkcs10',
      })
    ).body,
  );
  const ldevid = acceptLdevid(ctx, issued, { domainCa, key, serialNumber: input.serialNumber });
  const wifi = parseJson((await channel.call('POST', '/.well-known/airlock/wifi')).body, WifiReply);
  const credentials: OnboardingCredentials = {
    networkOwner: { id: input.networkOwner.id, name: input.networkOwner.name },
    domainCa: toBase64(domainCa.der),
    ldevid: toBase64(ldevid.der),
    ldevidChain: [toBase64(domainCa.der)],
    ldevidKey: toBase64(await keys.exportPkcs8(key)),
    wifi: { ssid: wifi.ssid, psk: wifi.psk, ...(wifi.address ? { address: wifi.address } : {}) },
    app: input.app,
    declaration: {
      sequence: input.declaration.latest.sequence,
      hash: input.declaration.latestHash,
    },
    onboardedAt: clock.now().toISOString(),
  };
  return { credentials, ldevid };
}

/**
 * The enrollment status (RFC 8995 section 5.9.4): the credentials are installed. The registrar
 * accepts it only while they are current (a later onboarding of this serial number revokes
 * them); a refusal is thrown, and the device then stores nothing.
 */
export async function reportEnrollment(channel: SecureChannel): Promise<void> {
  await channel.call('POST', '/.well-known/brski/enrollstatus', {
    body: JSON.stringify({ version: 1, status: true, reason: 'credentials installed' }),
    contentType: 'application/json',
  });
}

/** The one certificate of an EST certs-only answer. */
function issuedCertificate(certs: Uint8Array[]): Certificate {
  if (certs.length !== 1)
    throw new AirlockError('ERR_CERT_MALFORMED', `expected one certificate, got ${certs.length}`);
  return parseCertificate(certs[0]!);
}

/**
 * The CA that issues LDevIDs, from EST cacerts (RFC 7030 section 4.1), over the channel
 * already authenticated to the pinned certificate: the pinned domain CA itself, or, when the
 * voucher pinned the registrar's own certificate, the CA among cacerts that issued it.
 */
export function estDomainCa(
  ctx: Pick<PledgeContext, 'crypto' | 'clock'>,
  cacerts: readonly Uint8Array[],
  pinned: Certificate,
): Certificate {
  if (pinned.isCa) {
    ensure(
      cacerts.some((c) => equalBytes(c, pinned.der)),
      'ERR_NETWORK_UNTRUSTED',
      'the EST CA is not the pinned domain CA',
    );
    return pinned;
  }
  for (const der of cacerts) {
    const ca = parseCertificate(der);
    if (!ca.isCa || !equalBytes(ca.subjectDer, pinned.issuerDer)) continue;
    try {
      verifyChain(ctx.crypto, { leaf: pinned, anchors: [ca], at: ctx.clock.now() });
      return ca;
    } catch {
      // another CA of that name; keep looking
    }
  }
  throw new AirlockError(
    'ERR_NETWORK_UNTRUSTED',
    'no EST CA issued the pinned registrar certificate',
  );
}

/**
 * The LDevID the registrar issued is accepted only if it chains to the pinned domain CA, names
 * this device (subject serialNumber, IEEE 802.1AR) and certifies the key made here. A
 * registrar that relays the request elsewhere gets back a certificate naming someone else.
 * Renewal accepts its LDevID the same way.
 */
export function acceptLdevid(
  ctx: Pick<PledgeContext, 'crypto' | 'clock'>,
  issued: Uint8Array[],
  expected: { domainCa: Certificate; key: PrivateKeyHandle; serialNumber: string },
): Certificate {
  const ldevid = issuedCertificate(issued);
  verifyChain(ctx.crypto, { leaf: ldevid, anchors: [expected.domainCa], at: ctx.clock.now() });
  ensure(
    equalBytes(ldevid.spki, expected.key.spki),
    'ERR_NETWORK_LDEVID_MISMATCH',
    'the LDevID is for another key',
  );
  ensure(
    ldevid.subjectSerialNumber === expected.serialNumber,
    'ERR_NETWORK_LDEVID_MISMATCH',
    'the LDevID names another device',
  );
  return ldevid;
}
