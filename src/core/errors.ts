/**
 * One error type for all of Airlock, with a closed set of codes `ERR_<AREA>_<WHAT>`.
 * Tests assert codes, never wording. Only protocol bindings (src/adapters/http) map codes
 * to HTTP status; messages never carry secrets.
 */
export const ErrorCodes = {
  // Generic input
  ERR_INPUT_MALFORMED_JSON: 'the body is not well-formed JSON',
  ERR_INPUT_SCHEMA: 'the message does not match its schema',
  ERR_INPUT_TOO_LARGE: 'the request body exceeds the size limit',
  ERR_INPUT_MEDIA_TYPE: 'unsupported media type',
  ERR_HTTP_MALFORMED: 'the request is not well-formed HTTP/1.1',
  ERR_HTTP_URI_TOO_LONG: 'the request target exceeds the length limit',
  ERR_HTTP_HEADERS_TOO_LARGE: 'the request headers exceed the size limit',
  ERR_HTTP_TIMEOUT: 'the request was not received within the time limit',
  ERR_HTTP_OVERLOADED: 'the server holds as many connections as it allows',
  ERR_HTTP_SHUTTING_DOWN: 'the server is shutting down',
  // JWS
  ERR_JWS_MALFORMED: 'the JWS is not well-formed',
  ERR_JWS_ALGORITHM: 'the JWS algorithm is not accepted',
  ERR_JWS_SIGNATURE: 'the JWS signature does not verify',
  // CMS and COSE signed objects
  ERR_CMS_MALFORMED: 'the CMS SignedData is not well-formed',
  ERR_CMS_SIGNATURE: 'the CMS signature does not verify',
  ERR_COSE_MALFORMED: 'the COSE_Sign1 object is not well-formed',
  ERR_COSE_SIGNATURE: 'the COSE signature does not verify',
  // Certificates
  ERR_CERT_MALFORMED: 'the certificate cannot be parsed',
  ERR_CERT_UNTRUSTED: 'the certificate does not chain to a trust anchor',
  ERR_CERT_EXPIRED: 'the certificate is outside its validity period',
  ERR_CERT_REVOKED: 'the certificate has been revoked',
  // Device identity
  ERR_IDEVID_MISSING: 'no device birth certificate was presented',
  ERR_LDEVID_MISSING: 'no LDevID was presented',
  ERR_IDEVID_UNTRUSTED: 'the birth certificate is not from a known manufacturer',
  ERR_IDEVID_MISMATCH: 'the signer is not the device that holds the TLS connection',
  ERR_IDEVID_INVALID: 'the birth certificate lacks a required field',
  // Vouchers and voucher requests
  ERR_VOUCHER_MALFORMED: 'the voucher does not match its schema',
  ERR_VOUCHER_FORMAT: 'the voucher format is not supported here',
  ERR_VOUCHER_SIGNER_UNTRUSTED: 'the voucher is not signed by the manufacturer',
  ERR_VOUCHER_SERIAL_MISMATCH: 'the voucher is for another device',
  ERR_VOUCHER_NONCE_MISMATCH: "the voucher does not carry this request's nonce",
  ERR_VOUCHER_EXPIRED: 'the voucher has expired',
  ERR_VOUCHER_NOT_YET_VALID: 'the voucher was created later than now plus the allowed clock skew',
  ERR_VOUCHER_ASSERTION: "the voucher's assertion is below the required minimum",
  ERR_VOUCHER_IDEVID_ISSUER: 'the voucher names another birth certificate issuer',
  ERR_VOUCHER_REQUEST_MALFORMED: 'the voucher request does not match its schema',
  ERR_VOUCHER_REQUEST_REPLAYED: 'the voucher request reuses a nonce',
  ERR_VOUCHER_REQUEST_PROXIMITY: 'the voucher request names another registrar',
  ERR_VOUCHER_REQUEST_NOT_RA:
    'the voucher request is not signed by a registrar certificate (id-kp-cmcRA)',
  ERR_VOUCHER_REQUEST_NOT_YET_VALID:
    'the voucher request was created later than now plus the allowed clock skew',
  // MASA
  ERR_MASA_UNKNOWN_DEVICE: 'the MASA knows no such device',
  ERR_MASA_NOT_AUTHORIZED: "the registrar's owner may not onboard this device",
  ERR_MASA_UNREACHABLE: 'the MASA could not be reached',
  ERR_MASA_REFUSED: 'the MASA refused the voucher request',
  ERR_MASA_ANSWER_MALFORMED: 'the MASA answered with something other than what was asked for',
  ERR_VOUCHER_OTHER_DOMAIN: 'the voucher pins another domain',
  // Declarations
  ERR_DECLARATION_MALFORMED: 'the declaration does not match its schema',
  ERR_DECLARATION_CHAIN: 'the declaration chain is broken',
  ERR_DECLARATION_STALE: 'the declaration is not the latest in its chain',
  ERR_DECLARATION_FORBIDDEN: 'only the device owner may change its declaration',
  ERR_DECLARATION_NOT_FOUND: 'no declaration exists for this device',
  // Network authentication (device side)
  ERR_NETWORK_UNTRUSTED: 'the registrar certificate does not chain to the pinned domain CA',
  ERR_NETWORK_NOT_AUTHORIZED:
    'the network owner is neither the device owner nor an authorized onboarder',
  ERR_NETWORK_NOT_REGISTRAR: 'the registrar certificate is not a registrar (RA) certificate',
  ERR_NETWORK_LDEVID_MISMATCH: 'the issued LDevID names another device or another key',
  // Registrar / EST
  ERR_REGISTRAR_SEQUENCE: 'the onboarding step is out of order',
  ERR_REGISTRAR_BINDING: 'the status proof is not bound to this channel',
  ERR_CSR_MALFORMED: 'the PKCS#10 request cannot be parsed',
  ERR_CSR_SIGNATURE: 'the PKCS#10 request signature does not verify',
  ERR_CSR_KEY: 'the PKCS#10 request key is not acceptable',
  // Attestation (RFC 9334 RATS: EAT evidence, EAR results) and the verification service
  ERR_EAT_MALFORMED: 'the attestation token (EAT) does not match its schema',
  ERR_EAT_KEY_UNTRUSTED: 'the attestation token is not signed by a key the manufacturer certified',
  ERR_EAT_NONCE: "the attestation token does not carry this session's nonce",
  ERR_EAT_CLAIMS: 'the attestation claims contradict each other or the reference values',
  ERR_EAR_MALFORMED: 'the attestation result (EAR) does not match its schema',
  ERR_EAR_UNTRUSTED: 'the attestation result is not signed by the configured verifier',
  ERR_ATTESTATION_REFUSED: 'the device is not trustworthy enough to onboard',
  ERR_ATTESTATION_SESSION: 'no such attestation session, or it has expired or was used',
  ERR_VERIFIER_UNREACHABLE: 'the verification service could not be reached',
  ERR_VERIFIER_REFUSED: 'the verification service refused the request',
  ERR_REFERENCE_VALUES_MALFORMED: 'the reference values do not match their schema or signer',
  ERR_REFERENCE_VALUES_ROLLBACK: 'the reference values are older than those already held',
  ERR_FIRMWARE_UNKNOWN: 'no such firmware release',
  ERR_FIRMWARE_EXISTS: 'that firmware version was already released',
  // Device intent (RFC 8520 MUD, RFC 8519 ACLs)
  ERR_MUD_MALFORMED: 'the MUD file does not match RFC 8520',
  ERR_MUD_SIGNATURE: "the MUD file's signature does not verify",
  ERR_MUD_SIGNER_UNTRUSTED: 'the MUD file is not signed by a trusted manufacturer',
  ERR_MUD_SIGNER_CHANGED:
    'the MUD file is signed by another key than the one first seen for its URL',
  ERR_MUD_UNENFORCEABLE: 'the MUD file asks for what this network cannot enforce',
  ERR_MUD_FETCH: 'the MUD file could not be fetched',
  ERR_MUD_LOCATOR_CONFLICT: 'the device reports another MUD URL than the one it was onboarded with',
  ERR_ENFORCEMENT_FAILED: 'the rules could not be installed',
  // Secure connection establishment (report section 5.3)
  ERR_NETWORK_ACCESS_REFUSED: 'the network did not authorize the device on its port',
  // Wi-Fi Easy Connect (DPP)
  ERR_DPP_URI: 'the DPP bootstrapping URI is not well-formed',
  ERR_DPP_FRAME: 'the DPP frame is not well-formed',
  ERR_DPP_AUTH: 'the DPP authentication failed',
  ERR_DPP_DUPLICATE: 'the DPP bootstrapping key, or the serial it gives, is added already',
  ERR_DPP_NO_KEY: 'the device has no DPP bootstrapping key',
  ERR_DPP_CONNECTOR: 'the DPP Connector is not valid',
  ERR_DPP_CSR: 'the certificate request in the DPP Configuration Request is not valid',
  // Authorization policy (report section 5.1.2)
  ERR_POLICY_INVALID: 'the authorization policy is invalid',
  ERR_POLICY_DENIED: 'the authorization policy does not admit the device',
  // Devices, inventory, lifecycle
  ERR_DEVICE_NOT_FOUND: 'no such device',
  ERR_DEVICE_STATE: 'the device is not in a state that allows this',
  ERR_DEVICE_NOT_ONBOARDED: 'the device holds no onboarding credentials',
  ERR_SECURE_STORE: 'the secure store cannot be read',
  ERR_KEY_MALFORMED: 'the private key cannot be read',
  ERR_PARTY_UNKNOWN: 'no such party',
  // Transport, configuration, internal
  ERR_TRANSPORT: 'the connection failed',
  ERR_PEER_REFUSED: 'the peer refused the request',
  ERR_CONFIG: 'the configuration is invalid',
  ERR_NOT_FOUND: 'no such resource',
  ERR_INTERNAL: 'internal error',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class AirlockError extends Error {
  override readonly name = 'AirlockError';
  readonly code: ErrorCode;
  /** Structured, non-secret details for logs and problem bodies. */
  readonly details: Readonly<Record<string, string | number | boolean>>;

  constructor(
    code: ErrorCode,
    detail?: string,
    options?: { cause?: unknown; details?: Record<string, string | number | boolean> },
  ) {
    super(
      detail ? `${ErrorCodes[code]}: ${detail}` : ErrorCodes[code],
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.details = Object.freeze({ ...(options?.details ?? {}) });
  }
}

export function isAirlockError(e: unknown, code?: ErrorCode): e is AirlockError {
  return e instanceof AirlockError && (code === undefined || e.code === code);
}

/** Throws `code` unless `condition` holds. */
export function ensure(condition: unknown, code: ErrorCode, detail?: string): asserts condition {
  if (!condition) throw new AirlockError(code, detail);
}
