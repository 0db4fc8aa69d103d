/**
 * Re-attestation after onboarding (NIST IR 8350 section 7): the network asks an onboarded
 * device for a fresh token, over a connection on which the device presents its current LDevID
 * and the network its registrar certificate, has the verifier appraise it, and puts the result
 * before the policy in force. A device whose result no longer admits it (contraindicated, or
 * denied by the policy) is marked for quarantine and an event is recorded and emitted;
 * enforcement comes with device intent.
 *
 * The device answers `POST /.well-known/airlock/attestation` with `{"nonce": ...}` by
 * `{"mediaType": ..., "token": ...}` (src/adapters/device/attestation-responder.ts).
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import type { PledgeChannel } from '../../core/ports.js';
import { parseCertificate, subjectCommonName } from '../../protocols/x509/certificate.js';
import { verifyChain } from '../../protocols/x509/chain.js';
import { ReattestationReply, parseJson } from '../../protocols/airlock/messages.js';
import type { IdentifiedDevice, RegistrarContext } from './ports.js';
import { decide, policyInForce } from './authorization.js';
import { namesAnotherDevice, readResult } from './step-03-attestation.js';

export interface ReattestationOutcome {
  serial: string;
  /** The verifier's status; undefined when the device could not be asked. */
  status?: string;
  /** Marked for quarantine by this appraisal. */
  quarantined: boolean;
  reasons: string[];
  /** The error that kept the device from being appraised, if any. */
  code?: string;
}

export interface ReattestationPorts {
  /** Opens a channel to the device's attestation URL, the network authenticated by its registrar certificate. */
  connect(url: string): Promise<PledgeChannel>;
  /** The device's manufacturer, from its birth certificate. */
  identify(idevidDer: Uint8Array): IdentifiedDevice;
}

/** Appraises one onboarded device again; what it found is recorded with the device. */
export async function reattest(
  ctx: RegistrarContext,
  ports: ReattestationPorts,
  device: { serial: string; url: string },
): Promise<ReattestationOutcome> {
  const at = () => ctx.clock.now();
  let outcome: ReattestationOutcome;
  let result: { status: string; claims: string; jwt: string } | undefined;
  try {
    if (!ctx.verifier) throw new AirlockError('ERR_CONFIG', 'no verification service');
    const row = await ctx.store.run((r) => r.devices.get(device.serial));
    if (!row) throw new AirlockError('ERR_DEVICE_NOT_FOUND');
    const identified = ports.identify(row.idevidDer);
    const session = await ctx.verifier.openSession();
    const channel = await ports.connect(device.url);
    let reply;
    try {
      await judgeDevice(ctx, channel, device.serial);
      reply = parseJson(
        (
          await channel.call('POST', '/.well-known/airlock/attestation', {
            body: JSON.stringify({ nonce: session.nonce }),
            contentType: 'application/json',
          })
        ).body,
        ReattestationReply,
      );
    } finally {
      await channel.close();
    }
    const other = namesAnotherDevice(reply.token, device.serial);
    if (other) throw new AirlockError('ERR_ATTESTATION_REFUSED', other);
    const { claims, jwt } = await ctx.verifier.appraise(session, reply.mediaType, reply.token);
    const party = ctx.manufacturers.partyOf(identified.trust);
    const read = readResult(claims, device.serial, party.id);
    const decision = decide(await ctx.store.run((r) => policyInForce(r)), {
      serial: device.serial,
      manufacturer: party,
      model: subjectCommonName(parseCertificate(row.idevidDer)),
      attestation: read.facts,
    });
    const admitted = read.status !== 'contraindicated' && decision.decision === 'allow';
    const reasons = [...read.reasons, ...(admitted ? [] : decision.reasons)];
    result = { status: read.status, claims: JSON.stringify(read.facts ?? {}), jwt };
    outcome = { serial: device.serial, status: read.status, quarantined: !admitted, reasons };
  } catch (e) {
    const code = isAirlockError(e) ? e.code : 'ERR_INTERNAL';
    outcome = { serial: device.serial, quarantined: false, reasons: [], code };
  }
  const when = at();
  await ctx.store.transaction(async (r) => {
    if (result)
      await r.devices.reattested(
        device.serial,
        { status: result.status, claims: result.claims, result: result.jwt },
        when,
      );
    if (outcome.quarantined)
      await r.devices.quarantine(
        device.serial,
        `re-attestation: ${outcome.status}; ${outcome.reasons.join('; ')}`.slice(0, 500),
        when,
      );
    await r.events.record(
      [
        {
          serial: device.serial,
          action: 're-attestation',
          outcome: outcome.code ? 'error' : outcome.quarantined ? 'warning' : 'ok',
          ...(outcome.code ? { code: outcome.code } : {}),
          detail: {
            status: outcome.status ?? null,
            quarantine: outcome.quarantined,
            reasons: outcome.reasons.join('; '),
          },
        },
      ],
      when,
    );
  });
  return outcome;
}

/**
 * The device at the other end presents its current LDevID: issued by this domain's CA, naming
 * this device, not revoked. Anything else (another device, a superseded credential) is
 * ERR_CERT_UNTRUSTED or ERR_CERT_REVOKED, and nothing is asked of it.
 */
async function judgeDevice(
  ctx: RegistrarContext,
  channel: PledgeChannel,
  serial: string,
): Promise<void> {
  const cert = parseCertificate(channel.peerCertificate());
  verifyChain(ctx.crypto, { leaf: cert, anchors: [ctx.pki.domainCa.cert], at: ctx.clock.now() });
  if (cert.subjectSerialNumber !== serial)
    throw new AirlockError('ERR_CERT_UNTRUSTED', 'the LDevID names another device');
  const current = await ctx.store.run((r) => ctx.credentials.isCurrent(cert.serial, r));
  if (current?.device !== serial)
    throw new AirlockError('ERR_CERT_REVOKED', 'the LDevID is not the current one');
}
