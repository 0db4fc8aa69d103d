/**
 * Benchmark child process: a bare TLS 1.3 server that requires and verifies a client
 * certificate against the manufacturer's IDevID CA (no HTTP, no application work).
 * Receives { type: 'start', caPem } over IPC, answers { type: 'listening', port }.
 * Each connection: after the handshake (client certificate verified), one byte, then close.
 */
import * as tls from 'node:tls';
import * as nodeCrypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { NodeCrypto, generateP256Key, privateKeyPem } from '../src/adapters/crypto/node-crypto.js';
import { issueCertificate } from '../src/protocols/x509/issue.js';
import { toPem } from '../src/core/bytes.js';
import { cn, type CertificateTemplate } from '../src/protocols/x509/profiles.js';

if (typeof process.send !== 'function') {
  process.stderr.write('bench/tls-baseline-server.ts must be spawned with an IPC channel\n');
  process.exit(2);
}

let server: tls.Server | undefined;
const stop = () => {
  server?.close();
  process.exit(0);
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);

process.on('message', (m: { type?: string; caPem?: string }) => {
  if (m.type === 'stop') stop();
  if (m.type === 'cpu') process.send!({ type: 'cpu', usage: process.cpuUsage() });
  if (m.type !== 'start' || typeof m.caPem !== 'string') return;
  void (async () => {
    // Any P-256 server certificate: self-signed, made here.
    const key = generateP256Key();
    const now = Date.now();
    const { der } = issueCertificate(
      new NodeCrypto(),
      {
        subject: [cn('tls-baseline')],
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 86_400_000),
        keyUsage: ['digitalSignature'],
        ca: false,
        dnsNames: ['localhost'],
      } satisfies CertificateTemplate,
      key.spki,
      { key },
    );
    server = tls.createServer(
      {
        key: privateKeyPem(key),
        cert: toPem('CERTIFICATE', der),
        ca: m.caPem,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
        ALPNProtocols: ['http/1.1'],
        // As the registrar's server (src/adapters/http/server.ts): no stateless session tickets.
        secureOptions: nodeCrypto.constants.SSL_OP_NO_TICKET,
      },
      (socket) => {
        socket.on('error', () => undefined);
        socket.end(Buffer.from([1]));
      },
    );
    let reported = false;
    server.on('tlsClientError', (e) => {
      if (!reported)
        process.stderr.write(`tls baseline server: first client error: ${e.message}\n`);
      reported = true;
    });
    server.listen(0, '127.0.0.1', () => {
      process.send!({
        type: 'listening',
        port: (server!.address() as AddressInfo).port,
        fingerprint: nodeCrypto.createHash('sha256').update(der).digest('hex').slice(0, 16),
      });
    });
  })().catch((e: unknown) => {
    process.stderr.write(`tls baseline server: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
});
