/**
 * The MASA audit log (RFC 8995 section 5.8): every voucher the MASA issues is kept with its
 * domainID, nonce and assertion; a registrar that may onboard the device (its owner or an
 * authorized onboarder in the latest declaration, checked as for a voucher) gets the log of
 * that device by POSTing the registrar voucher request it sent. Every request and decision
 * goes to the MASA's own audit table.
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { partyIdFromSpki } from '../../core/party.js';
import { toBase64 } from '../../core/bytes.js';
import type { Crypto } from '../../core/ports.js';
import type { MasaRecords } from '../../core/store.js';
import { verifyRegistrarVoucherRequest } from '../../protocols/voucher/registrar-voucher-request.js';
import { mayOnboard } from '../../protocols/declaration/verify.js';
import { buildAuditLog, domainIdOf, type AuditLog } from '../../protocols/brski/audit-log.js';
import type { EncodedVoucher } from '../../protocols/voucher/codec.js';
import type { IssuedVoucher, MasaContext } from './ports.js';

/** The newest vouchers a log carries. */
const LOG_VOUCHERS = 4096;
const VERIFIED_CACHE_ENTRIES = 4096;
const VERIFIED_CACHE_MS = 300_000;

/** Records an issued voucher; call it in the transaction that issues it. */
export async function recordIssuedVoucher(
  crypto: Crypto,
  records: MasaRecords,
  v: IssuedVoucher,
): Promise<void> {
  await records.addVoucher(
    {
      serial: v.serial,
      domainId: domainIdOf(crypto, v.domainCa),
      ownerId: partyIdFromSpki(crypto, v.domainCa.spki),
      nonce: v.nonce,
      assertion: v.assertion,
    },
    v.at,
  );
}

/**
 * Registrar voucher requests this MASA verified when it issued their vouchers, by the
 * SHA-256 of their exact bytes, for a few minutes: a registrar asks for the audit log with
 * the very request it just sent (section 5.8), and the same bytes verify the same way. A miss
 * (another MASA node, or later) verifies in full. Who may read is still decided on the latest
 * declaration, every time.
 */
export class VerifiedRequests {
  readonly #verified = new Map<string, { serial: string; owner: string; until: number }>();

  constructor(private readonly crypto: Pick<Crypto, 'sha256'>) {}

  /** Remembers a request verified in full (on issuing its voucher). */
  remember(request: Uint8Array, serial: string, owner: string, at: Date): void {
    if (this.#verified.size >= VERIFIED_CACHE_ENTRIES)
      this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(toBase64(this.crypto.sha256(request)), {
      serial,
      owner,
      until: at.getTime() + VERIFIED_CACHE_MS,
    });
  }

  /** The device and domain of a request verified in the last few minutes. */
  get(request: Uint8Array, at: Date): { serial: string; owner: string } | undefined {
    const known = this.#verified.get(toBase64(this.crypto.sha256(request)));
    return known && known.until > at.getTime() ? known : undefined;
  }
}

/** What the audit log reads: no policy (a request is verified whatever its age or proximity), no log. */
export type AuditLogContext = Omit<MasaContext, 'policy' | 'log'>;

/** RFC 8995 section 5.8: the log of the device a registrar voucher request names, for that registrar. */
export async function auditLogFor(
  ctx: AuditLogContext,
  verified: VerifiedRequests,
  registrarVoucherRequest: EncodedVoucher,
  peer: string,
): Promise<AuditLog> {
  const at = ctx.clock.now();
  let serial: string | undefined;
  let owner: string | undefined;
  try {
    const known = verified.get(registrarVoucherRequest.bytes, at);
    if (known) {
      ({ serial, owner } = known);
    } else {
      const rvr = verifyRegistrarVoucherRequest(ctx.crypto, registrarVoucherRequest.bytes, {
        mediaType: registrarVoucherRequest.mediaType,
        idevidAnchors: [ctx.pki.idevidCa.cert],
        at,
        requireProximity: false,
      });
      serial = rvr.serialNumber;
      // The same identity the MASA gave the domain: its CA, or else the registrar certificate.
      owner = partyIdFromSpki(ctx.crypto, (rvr.domainCa ?? rvr.registrarCert).spki);
    }
    const latest = await ctx.declarations.latest(serial);
    if (!latest) throw new AirlockError('ERR_MASA_UNKNOWN_DEVICE', serial);
    if (!mayOnboard(latest.body, owner))
      throw new AirlockError('ERR_MASA_NOT_AUTHORIZED', `serial ${serial}`);
    const rows = await ctx.store.run((r) => r.masa.vouchersOf(serial!, LOG_VOUCHERS));
    const log = buildAuditLog(
      rows.map((r) => ({
        date: r.issuedAt,
        domainID: r.domainId,
        nonce: r.nonce,
        assertion: r.assertion,
      })),
    );
    await audit(ctx, at, peer, serial, 'ok', undefined, { owner, events: log.events.length });
    return log;
  } catch (e) {
    await audit(
      ctx,
      at,
      peer,
      serial ?? null,
      'refused',
      isAirlockError(e) ? e.code : 'ERR_INTERNAL',
      owner ? { owner } : {},
    );
    throw e;
  }
}

async function audit(
  ctx: AuditLogContext,
  at: Date,
  actor: string,
  subject: string | null,
  outcome: string,
  code: string | undefined,
  detail: Record<string, string | number>,
): Promise<void> {
  await ctx.store.run((r) =>
    r.masa.audit(
      { action: 'requestauditlog', actor, subject, outcome, code: code ?? null, detail },
      at,
    ),
  );
}
