/**
 * RADIUS Dynamic Authorization (RFC 5176): the Disconnect-Request a network sends an
 * authenticator (a switch, an access point, hostapd) to end a device's session, and the
 * Disconnect-ACK or -NAK it answers with. Ending the session makes the device authenticate
 * again, and that authentication sees what changed: its new segment's VLAN, or a refusal.
 *
 * The packet (RFC 2865 section 3) is code, identifier, length, a 16-octet authenticator and the
 * attributes. A request is protected twice, as RFC 5176 section 3.5 and RFC 3579 section 3.2 say:
 * - Message-Authenticator = HMAC-MD5(secret, the packet with it and the authenticator zeroed);
 * - Request Authenticator = MD5(code, identifier, length, 16 zero octets, attributes, secret).
 * A response's authenticator is MD5(code, identifier, length, the request's authenticator,
 * attributes, secret); a response that does not verify is not one.
 *
 * Pure: MD5 and HMAC-MD5 are handed in (the adapter uses node:crypto).
 */
import { AirlockError } from '../../core/errors.js';
import { concatBytes as concat, equalBytes as equal, utf8 } from '../../core/bytes.js';

export interface Md5 {
  md5(...parts: Uint8Array[]): Uint8Array;
  hmacMd5(key: Uint8Array, data: Uint8Array): Uint8Array;
}

export const CODE = {
  disconnectRequest: 40,
  disconnectAck: 41,
  disconnectNak: 42,
} as const;

const ATTR = {
  userName: 1,
  nasIpAddress: 4,
  callingStationId: 31,
  eventTimestamp: 55,
  messageAuthenticator: 80,
  errorCause: 101,
} as const;

/** RFC 5176 section 3.5's Error-Cause values an authenticator may answer with. */
export const ERROR_CAUSE: Readonly<Record<number, string>> = {
  201: 'Residual Session Context Removed',
  401: 'Unsupported Attribute',
  402: 'Missing Attribute',
  403: 'NAS Identification Mismatch',
  404: 'Invalid Request',
  405: 'Unsupported Service',
  406: 'Unsupported Extension',
  407: 'Invalid Attribute Value',
  501: 'Administratively Prohibited',
  502: 'Request Not Routable (Proxy)',
  503: 'Session Context Not Found',
  504: 'Session Context Not Removable',
  505: 'Other Proxy Processing Error',
  506: 'Resources Unavailable',
  507: 'Request Initiated',
  508: 'Multiple Session Selection Unsupported',
};

/** Whose session to end: at least one of these. */
export interface SessionSelector {
  /** The name the device authenticated with (its EAP identity: Airlock's devices use their serial). */
  userName?: string;
  /** Its MAC address, written as RFC 3580 section 3.21 says (`00-10-A4-23-19-C0`). */
  callingStationId?: string;
}

export interface DisconnectRequest extends SessionSelector {
  identifier: number;
  /** Seconds since the epoch (Event-Timestamp, RFC 5176 section 3.2): what makes a replay stale. */
  eventTimestamp: number;
}

function attribute(type: number, value: Uint8Array): Uint8Array {
  if (value.length === 0 || value.length > 253)
    throw new AirlockError('ERR_CONFIG', `RADIUS attribute ${type}: 1 to 253 octets`);
  return concat(Uint8Array.of(type, value.length + 2), value);
}

function u32(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
}

/** The Disconnect-Request, authenticated with the shared secret. */
export function encodeDisconnectRequest(
  digest: Md5,
  secret: Uint8Array,
  req: DisconnectRequest,
): Uint8Array {
  if (req.userName === undefined && req.callingStationId === undefined)
    throw new AirlockError('ERR_CONFIG', 'a Disconnect-Request names the session to end');
  if (!Number.isInteger(req.identifier) || req.identifier < 0 || req.identifier > 255)
    throw new AirlockError('ERR_CONFIG', 'a RADIUS identifier is 0 to 255');
  if (!Number.isInteger(req.eventTimestamp) || req.eventTimestamp < 0)
    throw new AirlockError('ERR_CONFIG', 'Event-Timestamp is whole seconds since 1970');
  const attributes = concat(
    ...(req.userName !== undefined ? [attribute(ATTR.userName, utf8(req.userName))] : []),
    ...(req.callingStationId !== undefined
      ? [attribute(ATTR.callingStationId, utf8(req.callingStationId))]
      : []),
    attribute(ATTR.eventTimestamp, u32(req.eventTimestamp)),
    attribute(ATTR.messageAuthenticator, new Uint8Array(16)),
  );
  const length = 20 + attributes.length;
  const packet = concat(
    Uint8Array.of(CODE.disconnectRequest, req.identifier, length >> 8, length & 255),
    new Uint8Array(16),
    attributes,
  );
  // Message-Authenticator over the packet with it and the authenticator zeroed (its value is last).
  packet.set(digest.hmacMd5(secret, packet), length - 16);
  packet.set(digest.md5(packet, secret), 4);
  return packet;
}

export interface DisconnectResponse {
  acknowledged: boolean;
  identifier: number;
  /** RFC 5176's Error-Cause, when the authenticator gave one. */
  errorCause?: number;
}

/**
 * An authenticator's answer to `request`: ERR_TRANSPORT for anything that is not a
 * well-formed Disconnect-ACK or -NAK to it with a response authenticator (and, when it carries
 * one, a Message-Authenticator) made with the shared secret.
 */
export function decodeDisconnectResponse(
  digest: Md5,
  secret: Uint8Array,
  request: Uint8Array,
  packet: Uint8Array,
): DisconnectResponse {
  const bad = (why: string) => new AirlockError('ERR_TRANSPORT', `RADIUS response: ${why}`);
  if (packet.length < 20) throw bad('shorter than its header');
  const code = packet[0]!;
  const length = (packet[2]! << 8) | packet[3]!;
  if (length < 20 || length > packet.length) throw bad('its length is wrong');
  const p = packet.subarray(0, length);
  if (code !== CODE.disconnectAck && code !== CODE.disconnectNak)
    throw bad(`code ${code} is not a Disconnect-ACK or -NAK`);
  if (p[1] !== request[1]) throw bad('it answers another request');
  const requestAuthenticator = request.subarray(4, 20);
  const expected = digest.md5(p.subarray(0, 4), requestAuthenticator, p.subarray(20), secret);
  if (!equal(expected, p.subarray(4, 20))) throw bad('its authenticator is not the secret’s');
  let errorCause: number | undefined;
  for (let at = 20; at < length;) {
    const type = p[at]!;
    const len = p[at + 1] ?? 0;
    if (len < 2 || at + len > length) throw bad('an attribute overruns it');
    if (type === ATTR.errorCause && len === 6) {
      errorCause = ((p[at + 2]! << 24) | (p[at + 3]! << 16) | (p[at + 4]! << 8) | p[at + 5]!) >>> 0;
    }
    if (type === ATTR.messageAuthenticator) {
      if (len !== 18) throw bad('its Message-Authenticator is not 16 octets');
      const zeroed = new Uint8Array(p); // a copy (a Buffer's slice would not be)
      zeroed.set(new Uint8Array(16), at + 2);
      zeroed.set(requestAuthenticator, 4);
      if (!equal(digest.hmacMd5(secret, zeroed), p.subarray(at + 2, at + 18)))
        throw bad('its Message-Authenticator is not the secret’s');
    }
    at += len;
  }
  return {
    acknowledged: code === CODE.disconnectAck,
    identifier: p[1]!,
    ...(errorCause !== undefined ? { errorCause } : {}),
  };
}
