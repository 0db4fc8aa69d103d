/**
 * A tiny authoritative DNS server for tests (RFC 1035 over UDP on 127.0.0.1): A records from a
 * table the test changes at will, with a TTL; a name it does not hold is NXDOMAIN, and any
 * other type an empty answer. Enough for node:dns's resolver to ask it.
 */
import * as dgram from 'node:dgram';

export interface TestDns {
  /** `address:port`, for DnsResolver's servers. */
  server: string;
  /** The A records of `name` from now on (none: NXDOMAIN). */
  set(name: string, addresses: string[], ttl?: number): void;
  close(): Promise<void>;
}

export async function startTestDns(): Promise<TestDns> {
  const records = new Map<string, { addresses: string[]; ttl: number }>();
  const socket = dgram.createSocket('udp4');
  socket.on('message', (q, peer) => {
    if (q.length < 17) return;
    let i = 12;
    const labels: string[] = [];
    while (i < q.length && q[i] !== 0) {
      const n = q[i]!;
      labels.push(q.subarray(i + 1, i + 1 + n).toString('latin1'));
      i += n + 1;
    }
    const qtype = q.readUInt16BE(i + 1);
    const question = q.subarray(12, i + 5);
    const name = labels.join('.').toLowerCase();
    const held = records.get(name);
    const answers = held && qtype === 1 ? held.addresses : [];
    const head = Buffer.alloc(12);
    q.copy(head, 0, 0, 2); // id
    head.writeUInt16BE(0x8400 | (held ? 0 : 3), 2); // response, authoritative, NOERROR or NXDOMAIN
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(answers.length, 6);
    const rrs = answers.map((a) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // the question's name
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(held!.ttl, 6);
      rr.writeUInt16BE(4, 10);
      a.split('.').forEach((o, k) => rr.writeUInt8(Number(o), 12 + k));
      return rr;
    });
    socket.send(Buffer.concat([head, question, ...rrs]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return {
    server: `127.0.0.1:${socket.address().port}`,
    set: (name, addresses, ttl = 1) => records.set(name.toLowerCase(), { addresses, ttl }),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
