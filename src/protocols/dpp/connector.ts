/**
 * DPP Connectors (Wi-Fi Easy Connect v2 section 4.2 and 6.4.3): a JWS in compact
 * serialization, signed by the Configurator's C-sign key, whose payload (a `dppCon` object)
 * names the device's groups and netRole and its netAccessKey (the Enrollee's protocol key of
 * the exchange that configured it), and optionally an expiry. With the C-sign key's public
 * JWK in the Configuration Object, any peer configured by the same Configurator verifies it.
 *
 * As hostap writes them (dpp.c dpp_build_conf_obj_dpp, dpp_sign_connector): the protected
 * header {"typ":"dppCon","kid":...,"alg":"ES256"}; the payload {"groups":[{"groupId":"*",
 * "netRole":"sta"}],"netAccessKey":{JWK},"expiry":"YYYY-MM-DDTHH:MM:SSZ"}; JWKs of kty EC with
 * crv P-256, P-384, P-521, BP-256, BP-384 or BP-512 and x, y base64url of the coordinates at
 * the field's length; the kid is base64url(SHA-256(uncompressed C-sign point)). Airlock's
 * C-sign key is P-256 (ES256), as hostap's default.
 *
 * Refusals: ERR_DPP_CONNECTOR with `details.reason` (`malformed`, `signature`, `expired`,
 * `key`). Pure: signatures through the Crypto port.
 */
import { AirlockError } from '../../core/errors.js';
import { concatBytes, fromBase64Url, toBase64Url, utf8 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { decodeCompact, payloadJson } from '../jws/compact.js';
import { encodeBootstrappingKey, type DppCurve } from './bootstrapping-key.js';
import { DPP_CURVES, dppCurveParams } from './curves.js';

/** A public key as a JSON Web Key (RFC 7517), as DPP carries it. */
export interface DppJwk {
  kty: 'EC';
  crv: DppCurve;
  x: string;
  y: string;
  kid?: string;
}

/** The Configurator's C-sign key: a P-256 signing key, its public point and its key ID. */
export interface DppCsignKey {
  key: PrivateKeyHandle;
  /** Uncompressed public point. */
  publicKey: Uint8Array;
  kid: string;
}

export interface DppConnectorGroup {
  groupId: string;
  netRole: string;
}

export interface DppConnectorPayload {
  groups: DppConnectorGroup[];
  /** The netAccessKey: its curve and uncompressed point. */
  netAccessKey: { curve: DppCurve; point: Uint8Array };
  /** When the netAccessKey expires; none: it does not. */
  expiry?: Date;
}

function refuse(reason: string, detail: string): never {
  throw new AirlockError('ERR_DPP_CONNECTOR', detail, { details: { reason } });
}

/** The JWK of an uncompressed point on `curve`. */
export function dppJwk(curve: DppCurve, point: Uint8Array, kid?: string): DppJwk {
  const n = dppCurveParams(curve).primeLength;
  if (point.length !== 1 + 2 * n || point[0] !== 0x04)
    refuse('key', `the point is not an uncompressed ${curve} point`);
  return {
    kty: 'EC',
    crv: curve,
    x: toBase64Url(point.subarray(1, 1 + n)),
    y: toBase64Url(point.subarray(1 + n)),
    ...(kid !== undefined ? { kid } : {}),
  };
}

/**
 * The curve and uncompressed point of a JWK: kty EC, a DPP curve, x and y of the field's
 * length. Whether the point is on the curve is the caller's to ask (Crypto.ecPoint).
 */
export function jwkPoint(jwk: unknown): { curve: DppCurve; point: Uint8Array } {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
    refuse('malformed', 'the JWK is not an object');
  const { kty, crv, x, y } = jwk as Record<string, unknown>;
  if (kty !== 'EC') refuse('malformed', 'the JWK is not of kty EC');
  const curve = DPP_CURVES.find((c) => c === crv);
  if (!curve) refuse('malformed', 'the JWK names no DPP curve');
  const n = dppCurveParams(curve).primeLength;
  const xs = typeof x === 'string' ? fromBase64Url(x) : undefined;
  const ys = typeof y === 'string' ? fromBase64Url(y) : undefined;
  if (xs?.length !== n || ys?.length !== n)
    refuse('malformed', `the JWK's coordinates are not ${n} octets each`);
  return { curve, point: concatBytes(Uint8Array.of(0x04), xs, ys) };
}

/**
 * The key ID of a C-sign key, as hostap makes and checks it (dpp_check_pubkey_match):
 * base64url of SHA-256 of its uncompressed point.
 */
export function csignKid(crypto: Pick<Crypto, 'sha256'>, publicKey: Uint8Array): string {
  return toBase64Url(crypto.sha256(publicKey));
}

/** ISO 8601 as hostap reads it: YYYY-MM-DDTHH:MM:SSZ. */
function expiryString(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * YYYY-MM-DDTHH:MM:SS with Z or an offset, every field in its range (no 24:00, no 30
 * February): the time it names, or undefined.
 */
function isoTime(text: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(Z|([+-])(\d{2}):(\d{2}))$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const local = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  if (
    local.getUTCFullYear() !== y ||
    local.getUTCMonth() !== mo - 1 ||
    local.getUTCDate() !== d ||
    local.getUTCHours() !== h ||
    local.getUTCMinutes() !== mi ||
    local.getUTCSeconds() !== se
  )
    return undefined;
  if (m[7] === 'Z') return local;
  const oh = Number(m[9]);
  const om = Number(m[10]);
  if (oh > 23 || om > 59) return undefined;
  return new Date(local.getTime() - (m[8] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000);
}

/** Signs a Connector for `payload` with the C-sign key. */
export function signConnector(
  crypto: Pick<Crypto, 'signEs256'>,
  csign: DppCsignKey,
  payload: DppConnectorPayload,
): string {
  if (payload.groups.length === 0) refuse('malformed', 'a Connector names at least one group');
  const header = { typ: 'dppCon', kid: csign.kid, alg: 'ES256' };
  const body = {
    groups: payload.groups.map((g) => ({ groupId: g.groupId, netRole: g.netRole })),
    netAccessKey: dppJwk(payload.netAccessKey.curve, payload.netAccessKey.point),
    ...(payload.expiry ? { expiry: expiryString(payload.expiry) } : {}),
  };
  const input = `${toBase64Url(utf8(JSON.stringify(header)))}.${toBase64Url(utf8(JSON.stringify(body)))}`;
  return `${input}.${toBase64Url(crypto.signEs256(csign.key, utf8(input)))}`;
}

/**
 * Verifies a Connector with the C-sign key `csign` (its JWK, P-256) and reads it: the header
 * must say typ dppCon and alg ES256, the signature verify, the payload name at least one group
 * and a netAccessKey, and an expiry, when there is one, lie after `now`.
 */
export function verifyConnector(
  crypto: Pick<Crypto, 'verifyEs256' | 'sha256'>,
  csign: DppJwk,
  signedConnector: string,
  now: Date,
): DppConnectorPayload {
  const c = jwkPoint(csign);
  if (c.curve !== 'P-256') refuse('key', 'the C-sign key is not P-256 (ES256)');
  let jws;
  try {
    jws = decodeCompact(signedConnector);
  } catch {
    refuse('malformed', 'the Connector is not a compact JWS');
  }
  if (jws.header.typ !== 'dppCon') refuse('malformed', 'the Connector is not of typ dppCon');
  // As hostap: the kid names the C-sign key (SHA-256 of its uncompressed point).
  if (jws.header.kid !== csignKid(crypto, c.point))
    refuse('key', 'the Connector names another C-sign key (kid)');
  if (
    !crypto.verifyEs256(
      encodeBootstrappingKey('P-256', c.point).spkiDer,
      jws.signingInput,
      jws.signature,
    )
  )
    refuse('signature', 'the Connector does not verify with the C-sign key');
  let body: Record<string, unknown>;
  try {
    body = payloadJson(jws) as Record<string, unknown>;
  } catch {
    refuse('malformed', 'the Connector payload is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    refuse('malformed', 'the Connector payload is not an object');
  const groups = body.groups;
  if (!Array.isArray(groups) || groups.length === 0)
    refuse('malformed', 'the Connector names no group');
  const read: DppConnectorGroup[] = groups.map((g: unknown) => {
    const { groupId, netRole } = (g ?? {}) as Record<string, unknown>;
    if (typeof groupId !== 'string' || typeof netRole !== 'string')
      refuse('malformed', 'a Connector group lacks groupId or netRole');
    return { groupId, netRole };
  });
  const netAccessKey = jwkPoint(body.netAccessKey);
  let expiry: Date | undefined;
  if (body.expiry !== undefined) {
    expiry = typeof body.expiry === 'string' ? isoTime(body.expiry) : undefined;
    if (!expiry) refuse('malformed', 'the Connector expiry is not an ISO 8601 time');
    if (expiry.getTime() <= now.getTime()) refuse('expired', 'the Connector has expired');
  }
  return { groups: read, netAccessKey, ...(expiry ? { expiry } : {}) };
}
