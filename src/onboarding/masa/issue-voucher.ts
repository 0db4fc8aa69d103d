/**
 * Step 5 at the MASA (RFC 8995 section 5.5): verifies the registrar voucher request and the
 * pledge's request inside it, and issues a voucher only when the registrar's domain is the
 * device's owner or one of its authorized onboarders in the current declaration. Every request
 * and decision goes to the MASA's audit table; a nonce is used once.
 *
 * - Only a registrar certificate (id-kp-cmcRA, section 5.5.4) may sign the request: a device
 *   of the domain, whose LDevID also chains to the domain CA, cannot ask for a voucher.
 * - The domain is the CA at the end of x5c (party id: SHA-256 of its SPKI), which the voucher
 *   pins. With the registrar certificate alone (section 5.5), `pinWhenNoCa` decides: by
 *   default the registrar certificate is the domain's identity and what the voucher pins.
 * - `assertion` is `proximity` when the pledge named this very registrar (section 5.5.6),
 *   else `logged`. `idevid-issuer` is the IDevID's AuthorityKeyIdentifier keyIdentifier.
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { partyIdFromSpki } from '../../core/party.js';
import type { MasaRecords } from '../../core/store.js';
import { verifyRegistrarVoucherRequest } from '../../protocols/voucher/registrar-voucher-request.js';
import { signVoucherAs } from '../../protocols/voucher/voucher.js';
import {
  SIGNABLE,
  type EncodedVoucher,
  type VoucherMediaType,
} from '../../protocols/voucher/codec.js';
import { authorityKeyIdentifier } from '../../protocols/voucher/idevid-issuer.js';
import { mayOnboard } from '../../protocols/declaration/verify.js';
import type { MasaContext } from './ports.js';

/**
 * A registrar voucher request in any format Airlock reads; the voucher in `format` (the
 * negotiated Accept). A format Airlock cannot sign is ERR_VOUCHER_FORMAT, refused before
 * anything is checked or recorded.
 */
export async function issueVoucher(
  ctx: MasaContext,
  registrarVoucherRequest: EncodedVoucher,
  peer: string,
  format: VoucherMediaType,
): Promise<EncodedVoucher> {
  if (!SIGNABLE.includes(format))
    throw new AirlockError('ERR_VOUCHER_FORMAT', `Airlock does not sign ${format}`);
  const { crypto, pki, policy } = ctx;
  const at = ctx.clock.now();
  let serial: string | undefined;
  let registrarOwner: string | undefined;
  try {
    const rvr = verifyRegistrarVoucherRequest(crypto, registrarVoucherRequest.bytes, {
      mediaType: registrarVoucherRequest.mediaType,
      idevidAnchors: [pki.idevidCa.cert],
      at,
      clockSkewSeconds: policy.voucherRequestClockSkewSeconds,
      requireProximity: policy.requireProximity,
    });
    serial = rvr.serialNumber;
    if (!rvr.domainCa && policy.pinWhenNoCa === 'refuse')
      throw new AirlockError('ERR_VOUCHER_REQUEST_MALFORMED', 'x5c must end with the domain CA');
    // The voucher pins what identifies the domain: its CA, or else the registrar certificate.
    const pinned = rvr.domainCa ?? rvr.registrarCert;
    registrarOwner = partyIdFromSpki(crypto, pinned.spki);
    // Every minted device has a declaration from birth: none means we never made it.
    const latest = await ctx.declarations.latest(serial);
    if (!latest) throw new AirlockError('ERR_MASA_UNKNOWN_DEVICE', serial);
    if (!mayOnboard(latest.body, registrarOwner))
      throw new AirlockError('ERR_MASA_NOT_AUTHORIZED', `serial ${serial}`);
    const assertion = rvr.proximity ? 'proximity' : 'logged';
    const idevidIssuer = authorityKeyIdentifier(rvr.idevid);
    const voucher = signVoucherAs(crypto, format, pki.masa.key, [pki.masa.cert], {
      serialNumber: serial,
      nonce: rvr.nonce,
      pinnedDomainCert: pinned,
      createdOn: at,
      expiresOn: new Date(at.getTime() + policy.voucherLifetimeSeconds * 1000),
      assertion,
      ...(idevidIssuer ? { idevidIssuer } : {}),
    });
    await ctx.store.transaction(async (r) => {
      // The declaration the decision was made on is still the latest: a transfer or a removed
      // onboarder (which lock the device too) committed meanwhile refuses the voucher (fail closed).
      await r.devices.lock(serial!);
      if ((await r.declarations.latest(serial!))?.hash !== latest.hash)
        throw new AirlockError(
          'ERR_DECLARATION_STALE',
          'the declaration changed while the voucher was issued',
        );
      if (!(await r.masa.useNonce(serial!, rvr.nonce, at)))
        throw new AirlockError('ERR_VOUCHER_REQUEST_REPLAYED', `serial ${serial}`);
      await audit(r.masa, at, peer, serial!, 'ok', undefined, {
        owner: registrarOwner!,
        declaration: latest.body.sequence,
        assertion,
        pinned: rvr.domainCa ? 'domain-ca' : 'registrar-cert',
      });
      await ctx.log?.record(r.masa, {
        serial: serial!,
        at,
        domainCa: pinned,
        nonce: rvr.nonce,
        assertion,
      });
    });
    ctx.log?.rememberVerified(registrarVoucherRequest.bytes, serial, registrarOwner, at);
    return { mediaType: format, bytes: voucher };
  } catch (e) {
    const code = isAirlockError(e) ? e.code : 'ERR_INTERNAL';
    await ctx.store.run((r) =>
      audit(
        r.masa,
        at,
        peer,
        serial ?? null,
        'refused',
        code,
        registrarOwner ? { owner: registrarOwner } : {},
      ),
    );
    throw e;
  }
}

async function audit(
  records: MasaRecords,
  at: Date,
  actor: string,
  subject: string | null,
  outcome: string,
  code: string | undefined,
  detail: Record<string, string | number>,
): Promise<void> {
  await records.audit(
    { action: 'requestvoucher', actor, subject, outcome, code: code ?? null, detail },
    at,
  );
}
