/**
 * The MASA audit log (RFC 8995 section 5.8): the registrar POSTs the registrar voucher request
 * it sent to `/.well-known/brski/requestauditlog` and the MASA answers, in JSON (section
 * 5.8.1), every voucher it issued for that device: when, to which domain (domainID), with
 * which nonce and assertion. A registrar reads it to see which other domains have claimed the
 * device (section 5.8.3).
 *
 * domainID (section 5.8.2): the pinned domain certificate's subjectKeyIdentifier when it has
 * one, else the RFC 7093 section 2 method 1 key identifier (the leftmost 160 bits of the
 * SHA-256 of the subjectPublicKey bits); base64 in the log.
 *
 * Truncation (section 5.8.1): entries of one domain beyond the most recent `perDomain` are
 * dropped ("nonced duplicates", or "nonceless duplicates" for vouchers without a nonce) and
 * counted in that domain's latest kept event's `truncated`; beyond `total` events the oldest
 * go ("arbitrary"). Counts are strings of digits, as in the RFC's example.
 */
import { z } from 'zod';
import { AirlockError } from '../../core/errors.js';
import { checked } from '../schema.js';
import { toBase64 } from '../../core/bytes.js';
import type { Crypto } from '../../core/ports.js';
import { DerReader, Tag } from '../x509/der.js';
import type { Certificate } from '../x509/certificate.js';
import { Oid } from '../x509/oids.js';

export const AUDIT_LOG_MEDIA_TYPE = 'application/json';

const Count = z.string().regex(/^\d{1,9}$/);

export const AuditLogEvent = z.object({
  date: z.iso.datetime({ offset: true }),
  domainID: z.string().min(1).max(256),
  nonce: z.string().max(256).nullable().optional(),
  assertion: z.string().min(1).max(64),
  truncated: Count.optional(),
});
export type AuditLogEvent = z.infer<typeof AuditLogEvent>;

export const AuditLog = z.object({
  version: z.literal('1'),
  events: z.array(AuditLogEvent).max(1024),
  truncation: z
    .object({
      'nonced duplicates': Count.optional(),
      'nonceless duplicates': Count.optional(),
      arbitrary: Count.optional(),
    })
    .optional(),
});
export type AuditLog = z.infer<typeof AuditLog>;

/** The domainID of a pinned domain certificate (section 5.8.2), base64. */
export function domainIdOf(crypto: Pick<Crypto, 'sha256'>, cert: Certificate): string {
  const ski = cert.extensions.get(Oid.subjectKeyIdentifier);
  if (ski) return toBase64(new DerReader(ski, 'ERR_CERT_MALFORMED').read(Tag.OCTET_STRING).value);
  const r = new DerReader(cert.spki, 'ERR_CERT_MALFORMED').enter(Tag.SEQUENCE);
  r.read(Tag.SEQUENCE);
  const bits = r.read(Tag.BIT_STRING).value;
  return toBase64(crypto.sha256(bits.subarray(1)).subarray(0, 20));
}

/** One voucher the MASA issued, as it keeps it. */
export interface IssuedVoucherEntry {
  date: string;
  domainID: string;
  nonce: string | null;
  assertion: string;
}

/** The log for one device from its issued vouchers (any order), newest first, truncated. */
export function buildAuditLog(
  entries: readonly IssuedVoucherEntry[],
  limits: { perDomain: number; total: number } = { perDomain: 16, total: 256 },
): AuditLog {
  const newest = [...entries].sort((a, b) => (a.date < b.date ? 1 : a.date > b.date ? -1 : 0));
  const perDomain = new Map<string, { kept: number; event?: AuditLogEvent }>();
  let noncedDuplicates = 0;
  let noncelessDuplicates = 0;
  const kept: AuditLogEvent[] = [];
  for (const e of newest) {
    const d = perDomain.get(e.domainID) ?? { kept: 0 };
    perDomain.set(e.domainID, d);
    if (d.kept >= limits.perDomain) {
      if (e.nonce === null) noncelessDuplicates++;
      else noncedDuplicates++;
      d.event!.truncated = String(Number(d.event!.truncated ?? '0') + 1);
      continue;
    }
    const event: AuditLogEvent = {
      date: e.date,
      domainID: e.domainID,
      nonce: e.nonce,
      assertion: e.assertion,
      truncated: '0',
    };
    if (d.kept === 0) d.event = event;
    d.kept++;
    kept.push(event);
  }
  const arbitrary = Math.max(0, kept.length - limits.total);
  return {
    version: '1',
    events: kept.slice(0, limits.total),
    truncation: {
      'nonced duplicates': String(noncedDuplicates),
      'nonceless duplicates': String(noncelessDuplicates),
      arbitrary: String(arbitrary),
    },
  };
}

/** A MASA's answer, read (section 5.8.1). ERR_MASA_ANSWER_MALFORMED when it is not an audit log. */
export function parseAuditLog(text: string): AuditLog {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new AirlockError('ERR_MASA_ANSWER_MALFORMED', 'the audit log is not JSON', { cause });
  }
  return checked(AuditLog, json, 'ERR_MASA_ANSWER_MALFORMED', 'the audit log');
}

/** The domains other than `ownDomainId` that the log says claimed the device, newest claim first. */
export function otherDomains(
  log: AuditLog,
  ownDomainId: string,
): { domainID: string; lastClaimed: string; vouchers: number }[] {
  const out = new Map<string, { domainID: string; lastClaimed: string; vouchers: number }>();
  for (const e of log.events) {
    if (e.domainID === ownDomainId) continue;
    const d = out.get(e.domainID) ?? { domainID: e.domainID, lastClaimed: e.date, vouchers: 0 };
    d.vouchers += 1 + Number(e.truncated ?? '0');
    if (e.date > d.lastClaimed) d.lastClaimed = e.date;
    out.set(e.domainID, d);
  }
  return [...out.values()].sort((a, b) => (a.lastClaimed < b.lastClaimed ? 1 : -1));
}
