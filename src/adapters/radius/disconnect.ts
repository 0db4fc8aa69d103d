/**
 * The network's RFC 5176 Dynamic Authorization client: a Disconnect-Request over UDP to an
 * authenticator's Dynamic Authorization Server (a switch, an access point, hostapd's
 * `radius_das_port`), sent again if unanswered, and its verified answer.
 */
import { createHash, createHmac, randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import { AirlockError } from '../../core/errors.js';
import { ipVersion } from '../../core/ip.js';
import {
  decodeDisconnectResponse,
  encodeDisconnectRequest,
  type DisconnectResponse,
  type Md5,
  type SessionSelector,
} from '../../protocols/radius/dynamic-authorization.js';

export const nodeMd5: Md5 = {
  md5: (...parts) => {
    const h = createHash('md5');
    for (const p of parts) h.update(p);
    return h.digest();
  },
  hmacMd5: (key, data) => createHmac('md5', key).update(data).digest(),
};

/** An authenticator's Dynamic Authorization Server (RFC 5176's default port is 3799). */
export interface DynamicAuthorizationServer {
  address: string;
  port: number;
}

export interface DisconnectOptions {
  /** How long to wait for each answer (default 1 s). */
  timeoutMs?: number;
  /** How many times to send it in all (default 3). */
  attempts?: number;
  /** Seconds since the epoch, for Event-Timestamp (default: now). */
  now?: number;
}

/**
 * Asks `server` to end the sessions `selector` names. Resolves with its answer (an ACK, or a
 * NAK and why); ERR_TRANSPORT when none that verifies arrives. An answer that does not verify
 * with the secret is dropped, as RFC 5176 section 3.5 says, and the wait goes on.
 */
export async function sendDisconnect(
  server: DynamicAuthorizationServer,
  secret: string,
  selector: SessionSelector,
  o: DisconnectOptions = {},
): Promise<DisconnectResponse> {
  const family = ipVersion(server.address);
  if (family === 0 || !Number.isInteger(server.port) || server.port < 1 || server.port > 65535)
    throw new AirlockError(
      'ERR_CONFIG',
      'a Dynamic Authorization Server is an IP address and port',
    );
  const key = Buffer.from(secret, 'utf8');
  const request = encodeDisconnectRequest(nodeMd5, key, {
    ...selector,
    identifier: randomInt(256),
    eventTimestamp: o.now ?? Math.floor(Date.now() / 1000),
  });
  const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
  try {
    return await new Promise<DisconnectResponse>((resolve, reject) => {
      let left = o.attempts ?? 3;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const send = () => {
        if (left-- === 0) {
          reject(
            new AirlockError(
              'ERR_TRANSPORT',
              `no answer from the Dynamic Authorization Server at ${server.address}:${server.port}`,
            ),
          );
          return;
        }
        socket.send(request, server.port, server.address, (e) => {
          if (e) {
            clearTimeout(timer);
            reject(new AirlockError('ERR_TRANSPORT', 'the Disconnect-Request could not be sent'));
          }
        });
        timer = setTimeout(send, o.timeoutMs ?? 1000);
      };
      socket.on('message', (packet, from) => {
        if (from.port !== server.port) return;
        try {
          const answer = decodeDisconnectResponse(nodeMd5, key, request, packet);
          clearTimeout(timer);
          resolve(answer);
        } catch {
          // not an answer to this request made with the secret: dropped
        }
      });
      socket.once('error', () => {
        clearTimeout(timer);
        reject(new AirlockError('ERR_TRANSPORT', 'the Disconnect-Request socket failed'));
      });
      send();
    });
  } finally {
    socket.close();
  }
}
