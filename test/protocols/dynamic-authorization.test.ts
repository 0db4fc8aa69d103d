/**
 * RFC 5176's Disconnect-Request and its answers (src/protocols/radius/dynamic-authorization.ts).
 * The request's two authenticators are checked here against RFC 5176 section 3.5 computed
 * independently with node:crypto; hostapd's acceptance of them is in
 * test/e2e/reauthentication.test.ts. Every answer that is not one made with the secret, to
 * this request, is refused.
 */
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeDisconnectResponse,
  encodeDisconnectRequest,
} from '../../src/protocols/radius/dynamic-authorization.js';
import { nodeMd5 } from '../../src/adapters/radius/disconnect.js';
import { parseStations } from '../../src/adapters/radius/hostapd-control.js';
import { errorCode } from '../support/errors.js';

const secret = Buffer.from('a shared secret of some length');
const md5 = (...parts: Uint8Array[]) => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
};

const request = () =>
  encodeDisconnectRequest(nodeMd5, secret, {
    userName: 'AL-0123456789AB',
    callingStationId: '02-00-00-00-00-01',
    identifier: 42,
    eventTimestamp: 1_800_000_000,
  });

/** An authenticator's answer, made as RFC 5176 says; `attrs` before the Message-Authenticator. */
function answer(
  req: Uint8Array,
  code: number,
  attrs: number[],
  o: { key?: Uint8Array; id?: number } = {},
): Buffer {
  const key = o.key ?? secret;
  const body = Buffer.from([...attrs, 80, 18, ...new Array<number>(16).fill(0)]);
  const len = 20 + body.length;
  const p = Buffer.concat([
    Buffer.from([code, o.id ?? req[1]!, len >> 8, len & 255]),
    Buffer.from(req.subarray(4, 20)),
    body,
  ]);
  p.set(createHmac('md5', key).update(p).digest(), len - 16);
  p.set(md5(p, key), 4);
  return p;
}

describe('Disconnect-Request (RFC 5176)', () => {
  it('carries the session and Event-Timestamp, with both authenticators made with the secret', () => {
    const p = Buffer.from(request());
    expect(p[0]).toBe(40);
    expect(p[1]).toBe(42);
    expect(p.readUInt16BE(2)).toBe(p.length);
    const attrs = p.subarray(20);
    // User-Name, Calling-Station-Id, Event-Timestamp, Message-Authenticator, in that order.
    expect([...attrs.subarray(0, 2)]).toEqual([1, 17]);
    expect(attrs.subarray(2, 17).toString()).toBe('AL-0123456789AB');
    expect([...attrs.subarray(17, 19)]).toEqual([31, 19]);
    expect([...attrs.subarray(36, 38)]).toEqual([55, 6]);
    expect(attrs.readUInt32BE(38)).toBe(1_800_000_000);
    expect([...attrs.subarray(42, 44)]).toEqual([80, 18]);
    // Message-Authenticator: HMAC-MD5 over the packet with it and the authenticator zeroed.
    const zeroed = Buffer.from(p);
    zeroed.fill(0, 4, 20);
    zeroed.fill(0, p.length - 16);
    expect(p.subarray(p.length - 16)).toEqual(createHmac('md5', secret).update(zeroed).digest());
    // Request Authenticator: MD5 over the packet, its authenticator zeroed, then the secret.
    const noAuth = Buffer.from(p);
    noAuth.fill(0, 4, 20);
    expect(p.subarray(4, 20)).toEqual(md5(noAuth, secret));
  });

  it('refuses a request that names no session, or values RADIUS cannot carry', async () => {
    const base = { identifier: 1, eventTimestamp: 1 };
    expect(await errorCode(() => encodeDisconnectRequest(nodeMd5, secret, base))).toBe(
      'ERR_CONFIG',
    );
    for (const bad of [
      { ...base, userName: '' },
      { ...base, userName: 'x'.repeat(254) },
      { ...base, userName: 'a', identifier: 256 },
      { ...base, userName: 'a', eventTimestamp: -1 },
    ])
      expect(await errorCode(() => encodeDisconnectRequest(nodeMd5, secret, bad))).toBe(
        'ERR_CONFIG',
      );
  });
});

describe('Disconnect-ACK and -NAK', () => {
  it('reads an ACK, and a NAK with its Error-Cause', () => {
    const req = request();
    expect(decodeDisconnectResponse(nodeMd5, secret, req, answer(req, 41, []))).toEqual({
      acknowledged: true,
      identifier: 42,
    });
    expect(
      decodeDisconnectResponse(nodeMd5, secret, req, answer(req, 42, [101, 6, 0, 0, 1, 247])),
    ).toEqual({ acknowledged: false, identifier: 42, errorCause: 503 });
  });

  it('refuses an answer made without the secret, to another request, tampered, or malformed', async () => {
    const req = request();
    const good = answer(req, 41, []);
    const tampered = Buffer.from(good);
    tampered[tampered.length - 1]! ^= 1; // the Message-Authenticator
    const forgedMa = answer(req, 41, []);
    // A Message-Authenticator made with another key, the response authenticator redone right.
    forgedMa.set(createHmac('md5', 'other').update(Buffer.alloc(4)).digest(), forgedMa.length - 16);
    forgedMa.set(
      md5(
        Buffer.concat([forgedMa.subarray(0, 4), req.subarray(4, 20), forgedMa.subarray(20)]),
        secret,
      ),
      4,
    );
    const overrun = Buffer.from(good);
    overrun[21] = 200;
    const cases: Array<[string, Uint8Array]> = [
      ['another secret', answer(req, 41, [], { key: Buffer.from('another secret') })],
      ['another identifier', answer(req, 41, [], { id: 43 })],
      ['not an answer', answer(req, 2, [])],
      ['tampered', tampered],
      ['a forged Message-Authenticator', forgedMa],
      ['short', good.subarray(0, 19)],
      [
        'its length beyond the datagram',
        Buffer.concat([good.subarray(0, 2), Buffer.from([1, 0]), good.subarray(4)]),
      ],
      ['an attribute overrunning it', overrun],
    ];
    for (const [why, packet] of cases)
      expect([
        why,
        await errorCode(() => decodeDisconnectResponse(nodeMd5, secret, req, packet)),
      ]).toEqual([why, 'ERR_TRANSPORT']);
  });
});

describe("hostapd's all_sta", () => {
  it('gives each station its MAC, the name it authenticated with, and whether its port is authorized', () => {
    const text = [
      '02:00:00:00:00:01',
      'flags=[AUTH][AUTHORIZED]',
      'dot1xAuthSessionUserName=AL-1',
      '02:00:00:00:00:02',
      'flags=[AUTH]',
      '',
    ].join('\n');
    expect(parseStations(text)).toEqual([
      { mac: '02:00:00:00:00:01', userName: 'AL-1', authorized: true },
      { mac: '02:00:00:00:00:02', authorized: false },
    ]);
  });
});
