/**
 * The MUD URL where a device emits it (RFC 8520 sections 9 and 11): the byte layouts of the
 * DHCPv4 option (RFC 2132 framing, RFC 3396 splitting), the DHCPv6 option (RFC 8415 framing)
 * and the LLDP TLV (IEEE 802.1AB), each with what a reader must refuse.
 */
import { describe, expect, it } from 'vitest';
import { dhcpv4MudUrl, dhcpv6MudUrl, lldpMudUrl } from '../../src/protocols/mud/locators.js';
import { codeOf } from '../support/errors.js';

const URL_ = 'https://maker.example/mud/t1.json';
const ascii = (s: string) => [...Buffer.from(s, 'latin1')];

function dhcpv4(options: number[]): Uint8Array {
  const m = new Uint8Array(240 + options.length);
  m[0] = 1; // BOOTREQUEST
  m[1] = 1; // Ethernet
  m[2] = 6;
  m.set([0x02, 0x00, 0x5e, 0x10, 0x20, 0x30], 28);
  m.set([0x63, 0x82, 0x53, 0x63], 236);
  m.set(options, 240);
  return m;
}

function dhcpv6(type: number, options: Array<[number, number[]]>): Uint8Array {
  const body = options.flatMap(([code, v]) => [
    code >> 8,
    code & 255,
    v.length >> 8,
    v.length & 255,
    ...v,
  ]);
  return new Uint8Array([type, 0xab, 0xcd, 0xef, ...body]);
}

const tlv = (type: number, value: number[]) => [
  (type << 1) | (value.length >> 8),
  value.length & 255,
  ...value,
];
const mudTlv = (url: string) => tlv(127, [0x00, 0x00, 0x5e, 0x01, ...ascii(url)]);
const chassis = tlv(1, [4, 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30]);
const portId = tlv(2, [7, ...ascii('eth0')]);
const ttl = tlv(3, [0, 120]);
const end = tlv(0, []);

describe('DHCPv4 option 161', () => {
  it('reads the URL, the client MAC, the message type and the requested address', () => {
    const m = dhcpv4([53, 1, 3, 50, 4, 10, 1, 0, 2, 0, 161, URL_.length, ...ascii(URL_), 255]);
    expect(dhcpv4MudUrl(m)).toEqual({
      mac: '02:00:5e:10:20:30',
      messageType: 3,
      requestedAddress: '10.1.0.2',
      mudUrl: URL_,
    });
    expect(dhcpv4MudUrl(dhcpv4([53, 1, 1, 255])).mudUrl).toBeUndefined();
  });

  it('joins an option split in parts (RFC 3396)', () => {
    const [a, b] = [URL_.slice(0, 10), URL_.slice(10)];
    const m = dhcpv4([161, a.length, ...ascii(a), 0, 53, 1, 1, 161, b.length, ...ascii(b), 255]);
    expect(dhcpv4MudUrl(m).mudUrl).toBe(URL_);
  });

  it.each([
    ['too short', new Uint8Array(100)],
    [
      'a server message',
      (() => {
        const m = dhcpv4([255]);
        m[0] = 2;
        return m;
      })(),
    ],
    [
      'no magic cookie',
      (() => {
        const m = dhcpv4([255]);
        m[236] = 0;
        return m;
      })(),
    ],
    ['no end option', dhcpv4([53, 1, 1])],
    ['a truncated option', dhcpv4([161, 40, ...ascii('https://x')])],
    ['an http URL', dhcpv4([161, 18, ...ascii('http://x.example/a'), 255])],
    [
      'a URL with a control byte',
      dhcpv4([161, 11, ...ascii('https://x.e'), 255].map((b, i) => (i === 5 ? 1 : b))),
    ],
  ])('refuses %s: ERR_INPUT_SCHEMA', (_, m) => {
    expect(codeOf(() => dhcpv4MudUrl(m))).toBe('ERR_INPUT_SCHEMA');
  });
});

describe('DHCPv6 option 112', () => {
  it('reads the URL and the client DUID', () => {
    const m = dhcpv6(1, [
      [1, [0, 3, 0, 1, 2, 0, 0x5e, 1, 2, 3]],
      [112, ascii(URL_)],
      [8, [0, 0]],
    ]);
    expect(dhcpv6MudUrl(m)).toEqual({
      messageType: 1,
      clientId: '0003000102005e010203',
      mudUrl: URL_,
    });
  });

  it.each([
    ['a relay message', dhcpv6(12, [])],
    ['a truncated option', new Uint8Array([1, 0, 0, 0, 0, 112, 0, 50, ...ascii('https://x')])],
    [
      'the URL twice',
      dhcpv6(1, [
        [112, ascii(URL_)],
        [112, ascii(URL_)],
      ]),
    ],
    ['an http URL', dhcpv6(1, [[112, ascii('http://x.example/a')]])],
  ])('refuses %s: ERR_INPUT_SCHEMA', (_, m) => {
    expect(codeOf(() => dhcpv6MudUrl(m))).toBe('ERR_INPUT_SCHEMA');
  });
});

describe('the LLDP MUD URL TLV', () => {
  it('reads the URL from an LLDPDU and from a whole frame, with the chassis ID', () => {
    const pdu = new Uint8Array([...chassis, ...portId, ...ttl, ...mudTlv(URL_), ...end]);
    expect(lldpMudUrl(pdu)).toEqual({ chassisId: '0402005e102030', mudUrl: URL_ });
    const frame = new Uint8Array([
      ...[1, 0x80, 0xc2, 0, 0, 0x0e],
      ...[2, 0, 0x5e, 0x10, 0x20, 0x30],
      0x88,
      0xcc,
      ...pdu,
    ]);
    expect(lldpMudUrl(frame).mudUrl).toBe(URL_);
    // Another organization's TLV, or another IANA subtype, is not a MUD URL.
    const other = tlv(127, [0x00, 0x80, 0xc2, 0x01, 0, 1]);
    const otherSubtype = tlv(127, [0x00, 0x00, 0x5e, 0x02, ...ascii(URL_)]);
    expect(
      lldpMudUrl(new Uint8Array([...chassis, ...portId, ...ttl, ...other, ...otherSubtype, ...end]))
        .mudUrl,
    ).toBeUndefined();
  });

  it.each([
    ['no End TLV', [...chassis, ...portId, ...ttl]],
    ['a first TLV that is not the chassis ID', [...portId, ...chassis, ...ttl, ...end]],
    ['a truncated TLV', [...chassis, 0xfe, 0x40, 0, 0]],
    ['the URL twice', [...chassis, ...mudTlv(URL_), ...mudTlv(URL_), ...end]],
    ['an http URL', [...chassis, ...mudTlv('http://x.example/a'), ...end]],
  ])('refuses %s: ERR_INPUT_SCHEMA', (_, bytes) => {
    expect(codeOf(() => lldpMudUrl(new Uint8Array(bytes)))).toBe('ERR_INPUT_SCHEMA');
  });
});
