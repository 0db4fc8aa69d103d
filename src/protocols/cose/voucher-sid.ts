/**
 * CBOR vouchers and voucher requests (RFC 9254 YANG-CBOR, SIDs from ietf-voucher@2025-12-18
 * and ietf-voucher-request@2025-12-18; test/fixtures/interop/vouchers/*.sid) to the JSON form
 * of RFC 8366bis, for the leaves Airlock reads. Member keys inside the container are SID
 * deltas (RFC 9254 section 3.2). The older fountain encoding (container 1001100 / 1001154,
 * from early constrained-voucher drafts), and the 2018 one (60200), are read too, for the leaves its files use.
 * Unknown members are kept under `sid:<number>`; binary values become base64 (RFC 7951
 * section 6.6), CBOR dates (tag 1) RFC 3339 strings.
 */
import { AirlockError } from '../../core/errors.js';
import { fromUtf8, toBase64 } from '../../core/bytes.js';

export type CborVoucherKind = 'voucher' | 'voucher-request';

interface Scheme {
  kind: CborVoucherKind;
  module: string;
  /** Leaf names by delta from the container's SID. */
  leaves: Record<number, string>;
}

const ASSERTIONS = ['verified', 'logged', 'proximity', 'agent-proximity'];

const SCHEMES = new Map<number, Scheme>([
  [
    2451,
    {
      kind: 'voucher',
      module: 'ietf-voucher:voucher',
      leaves: {
        1: 'assertion',
        2: 'created-on',
        3: 'domain-cert-revocation-checks',
        4: 'expires-on',
        5: 'idevid-issuer',
        6: 'last-renewal-date',
        7: 'nonce',
        8: 'pinned-domain-cert',
        9: 'pinned-domain-pubk',
        10: 'pinned-domain-pubk-sha256',
        11: 'serial-number',
        12: 'additional-configuration-url',
        13: 'est-domain',
        14: 'manufacturer-proprietary',
        15: 'extensions',
      },
    },
  ],
  [
    2501,
    {
      kind: 'voucher-request',
      module: 'ietf-voucher-request:voucher',
      leaves: {
        1: 'assertion',
        2: 'created-on',
        3: 'domain-cert-revocation-checks',
        4: 'expires-on',
        5: 'idevid-issuer',
        6: 'last-renewal-date',
        7: 'nonce',
        8: 'pinned-domain-cert',
        9: 'prior-signed-voucher-request',
        10: 'proximity-registrar-cert',
        11: 'proximity-registrar-pubk-sha256',
        12: 'proximity-registrar-pubk',
        13: 'serial-number',
        14: 'agent-provided-proximity-registrar-cert',
        15: 'agent-sign-cert',
        16: 'agent-signed-data',
        17: 'pinned-domain-pubk',
        18: 'pinned-domain-pubk-sha256',
        19: 'additional-configuration-url',
        20: 'est-domain',
        21: 'extensions',
        22: 'manufacturer-proprietary',
      },
    },
  ],
  // Pre-SID-file numbering (AnimaGUS-minerva/fountain spec/files).
  [
    1001100,
    {
      kind: 'voucher',
      module: 'ietf-voucher:voucher',
      leaves: {
        5: 'assertion',
        6: 'created-on',
        11: 'nonce',
        12: 'pinned-domain-cert',
        14: 'serial-number',
      },
    },
  ],
  [
    1001154,
    {
      kind: 'voucher-request',
      module: 'ietf-voucher-request:voucher',
      leaves: {
        1: 'assertion',
        2: 'created-on',
        7: 'nonce',
        10: 'serial-number',
        11: 'prior-signed-voucher-request',
        12: 'proximity-registrar-cert',
      },
    },
  ],
  // Older still (fountain vr_*.cwt, 2018): container 60200, negative deltas.
  [
    60200,
    {
      kind: 'voucher-request',
      module: 'ietf-voucher-request:voucher',
      leaves: {
        [-99]: 'assertion',
        [-98]: 'created-on',
        [-93]: 'nonce',
        [-89]: 'serial-number',
        [-88]: 'proximity-registrar-cert',
      },
    },
  ],
]);

export interface CborVoucher {
  readonly kind: CborVoucherKind;
  /** `{ "ietf-voucher:voucher": {...} }` or `{ "ietf-voucher-request:voucher": {...} }`. */
  readonly json: Record<string, Record<string, unknown>>;
}

/** Translates a decoded CBOR voucher payload (a one-entry map keyed by the container SID). */
export function cborVoucherToJson(
  payload: unknown,
  code: 'ERR_COSE_MALFORMED' | 'ERR_VOUCHER_MALFORMED' = 'ERR_COSE_MALFORMED',
): CborVoucher {
  if (!(payload instanceof Map) || payload.size !== 1)
    throw new AirlockError(code, 'the payload is not a one-member map');
  const [sid, body] = [...payload.entries()][0]!;
  const scheme = typeof sid === 'number' ? SCHEMES.get(sid) : undefined;
  if (!scheme) throw new AirlockError(code, `unknown voucher container SID ${String(sid)}`);
  if (!(body instanceof Map)) throw new AirlockError(code, 'the voucher container is not a map');
  const out: Record<string, unknown> = {};
  for (const [delta, value] of body) {
    if (typeof delta !== 'number') throw new AirlockError(code, 'a member key is not a SID delta');
    const name = scheme.leaves[delta] ?? `sid:${sid + delta}`;
    if (name in out) throw new AirlockError(code, `${name} appears twice`);
    out[name] = leafValue(name, value);
  }
  return { kind: scheme.kind, json: { [scheme.module]: out } };
}

function leafValue(name: string, v: unknown): unknown {
  if (name === 'assertion' && typeof v === 'number') return ASSERTIONS[v] ?? v;
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) {
    // serial-number is a string; the older encoding sends it as bytes.
    if (name === 'serial-number') {
      try {
        return fromUtf8(v);
      } catch {
        return toBase64(v);
      }
    }
    return toBase64(v);
  }
  return v;
}
