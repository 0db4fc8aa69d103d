/**
 * The one place where Airlock error codes become HTTP status codes, and back: RFC 9457
 * problem details, with `code` carrying the AirlockError code.
 */
import { AirlockError, ErrorCodes, type ErrorCode } from '../../core/errors.js';

export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

const status: Partial<Record<ErrorCode, number>> = {
  ERR_INPUT_TOO_LARGE: 413,
  ERR_INPUT_MEDIA_TYPE: 415,
  ERR_VOUCHER_FORMAT: 406,
  ERR_HTTP_URI_TOO_LONG: 414,
  ERR_HTTP_HEADERS_TOO_LARGE: 431,
  ERR_HTTP_TIMEOUT: 408,
  ERR_HTTP_OVERLOADED: 503,
  ERR_HTTP_SHUTTING_DOWN: 503,
  ERR_IDEVID_MISSING: 401,
  ERR_LDEVID_MISSING: 401,
  ERR_IDEVID_UNTRUSTED: 403,
  ERR_IDEVID_MISMATCH: 403,
  ERR_MASA_NOT_AUTHORIZED: 403,
  ERR_DECLARATION_FORBIDDEN: 403,
  ERR_REGISTRAR_BINDING: 403,
  ERR_CERT_UNTRUSTED: 403,
  ERR_CERT_REVOKED: 403,
  ERR_CERT_EXPIRED: 403,
  ERR_VOUCHER_REQUEST_PROXIMITY: 403,
  ERR_VOUCHER_REQUEST_NOT_RA: 403,
  ERR_VOUCHER_ASSERTION: 403,
  ERR_NETWORK_UNTRUSTED: 403,
  ERR_NETWORK_NOT_AUTHORIZED: 403,
  ERR_NETWORK_NOT_REGISTRAR: 403,
  ERR_NETWORK_LDEVID_MISMATCH: 403,
  ERR_EAT_KEY_UNTRUSTED: 403,
  ERR_ATTESTATION_REFUSED: 403,
  ERR_POLICY_DENIED: 403,
  ERR_EAR_UNTRUSTED: 502,
  ERR_VERIFIER_UNREACHABLE: 502,
  ERR_VERIFIER_REFUSED: 502,
  ERR_ATTESTATION_SESSION: 404,
  ERR_FIRMWARE_UNKNOWN: 404,
  ERR_FIRMWARE_EXISTS: 409,
  ERR_MUD_SIGNER_UNTRUSTED: 403,
  ERR_MUD_SIGNER_CHANGED: 403,
  ERR_ENFORCEMENT_FAILED: 500,
  ERR_MUD_FETCH: 502,
  ERR_MUD_LOCATOR_CONFLICT: 409,
  ERR_DPP_DUPLICATE: 409,
  ERR_DPP_NO_KEY: 409,
  ERR_NETWORK_ACCESS_REFUSED: 403,
  ERR_REFERENCE_VALUES_ROLLBACK: 409,
  ERR_NOT_FOUND: 404,
  ERR_DEVICE_NOT_FOUND: 404,
  ERR_MASA_UNKNOWN_DEVICE: 404,
  ERR_DECLARATION_NOT_FOUND: 404,
  ERR_PARTY_UNKNOWN: 404,
  ERR_VOUCHER_REQUEST_REPLAYED: 409,
  ERR_DECLARATION_STALE: 409,
  ERR_DEVICE_STATE: 409,
  ERR_REGISTRAR_SEQUENCE: 409,
  ERR_DEVICE_NOT_ONBOARDED: 409,
  ERR_MASA_UNREACHABLE: 502,
  ERR_MASA_REFUSED: 502,
  ERR_MASA_ANSWER_MALFORMED: 502,
  ERR_VOUCHER_OTHER_DOMAIN: 502,
  ERR_PEER_REFUSED: 502,
  ERR_TRANSPORT: 502,
  ERR_INTERNAL: 500,
  ERR_SECURE_STORE: 500,
  ERR_KEY_MALFORMED: 500,
  ERR_CONFIG: 500,
};

export function httpStatus(code: ErrorCode): number {
  return status[code] ?? 400;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
}

export function toProblem(e: AirlockError): Problem {
  const s = httpStatus(e.code);
  return {
    type: `urn:airlock:error:${e.code}`,
    title: ErrorCodes[e.code],
    status: s,
    code: e.code,
    // Internal errors say nothing more: their messages may name internals.
    ...(s >= 500 && e.code === 'ERR_INTERNAL'
      ? {}
      : { detail: bareDetail(e.message) || e.message }),
  };
}

/** A peer's problem body back into an AirlockError with the peer's code. */
export function fromProblem(statusCode: number, body: string): AirlockError {
  try {
    const p = JSON.parse(body) as Partial<Problem>;
    if (typeof p.code === 'string' && p.code in ErrorCodes) {
      const detail = typeof p.detail === 'string' ? bareDetail(p.detail.slice(0, 500)) : undefined;
      return new AirlockError(p.code as ErrorCode, detail || undefined, {
        details: { status: statusCode },
      });
    }
  } catch {
    // fall through
  }
  return new AirlockError('ERR_PEER_REFUSED', `HTTP ${statusCode}`, {
    details: { status: statusCode },
  });
}

/**
 * A whole HTTP/1.1 response carrying `e`'s problem body, for a raw socket on which no
 * request object exists (Node's parser refused the request before any route saw it). It
 * always closes the connection.
 */
export function rawProblemResponse(e: AirlockError): string {
  const p = toProblem(e);
  const body = JSON.stringify(p);
  return `HTTP/1.1 ${p.status} ${reasonPhrase(p.status)}\r\nContent-Type: ${PROBLEM_MEDIA_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

function reasonPhrase(s: number): string {
  return (
    {
      400: 'Bad Request',
      408: 'Request Timeout',
      413: 'Content Too Large',
      414: 'URI Too Long',
      431: 'Request Header Fields Too Large',
      503: 'Service Unavailable',
    }[s] ?? 'Error'
  );
}

const titles = Object.values(ErrorCodes) as string[];
/**
 * A message without the code titles it starts with: AirlockError prefixes its title, so a
 * message that crossed a role (problem detail, back to an error, to a problem again) would
 * otherwise repeat it ("the MASA refused ...: the MASA refused ...: ...").
 */
export function bareDetail(message: string): string {
  let m = message;
  for (let again = true; again;) {
    again = false;
    for (const t of titles) {
      if (m === t) return '';
      if (m.startsWith(`${t}: `)) {
        m = m.slice(t.length + 2);
        again = true;
      }
    }
  }
  return m;
}
