/**
 * The device's side of re-attestation (NIST IR 8350 section 7): an HTTPS endpoint where the
 * device presents its LDevID, accepts only its network's registrar (a certificate of its
 * domain CA with id-kp-cmcRA, checked here, not by OpenSSL's purpose rules), and answers
 * `POST /.well-known/airlock/attestation` with `{"nonce": ...}` by a fresh token for that
 * nonce: `{"mediaType": ..., "token": ...}`. Anything else is 404; anyone else is refused.
 */
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { toPem } from '../../core/bytes.js';
import type { Crypto } from '../../core/ports.js';
import { parseCertificate } from '../../protocols/x509/certificate.js';
import { verifyChain } from '../../protocols/x509/chain.js';
import { Oid } from '../../protocols/x509/oids.js';

export interface AttestationResponderOptions {
  crypto: Crypto;
  now: () => Date;
  /** The LDevID and the domain CA (DER), and the LDevID's key (PKCS#8 DER). */
  ldevidChain: readonly Uint8Array[];
  ldevidKeyPkcs8: Uint8Array;
  domainCa: Uint8Array;
  /** The evidence for a nonce (base64url). */
  evidence(nonce: string): Promise<{ mediaType: string; token: string } | undefined>;
  host?: string;
  port?: number;
}

export interface AttestationResponder {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 4096;

export async function serveAttestation(
  o: AttestationResponderOptions,
): Promise<AttestationResponder> {
  const domainCa = parseCertificate(o.domainCa);
  const server = https.createServer(
    {
      key: toPem('PRIVATE KEY', o.ldevidKeyPkcs8),
      cert: o.ldevidChain.map((c) => toPem('CERTIFICATE', c)).join(''),
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    (req, res) => {
      const fail = (status: number) => {
        res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' }).end();
      };
      if (!isRegistrar(o, domainCa, req.socket as TLSSocket)) return fail(403);
      if (req.method !== 'POST' || req.url !== '/.well-known/airlock/attestation') return fail(404);
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > MAX_BODY) req.destroy();
      });
      req.on('end', () => {
        let nonce: unknown;
        try {
          nonce = (JSON.parse(body) as { nonce?: unknown }).nonce;
        } catch {
          return fail(400);
        }
        if (typeof nonce !== 'string' || !/^[A-Za-z0-9_-]{11,86}$/.test(nonce)) return fail(400);
        o.evidence(nonce).then(
          (e) => {
            if (!e) return fail(404);
            res
              .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
              .end(JSON.stringify(e));
          },
          () => fail(500),
        );
      });
    },
  );
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `https://${address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The peer is a registrar of this device's domain: its certificate chains to the domain CA and carries id-kp-cmcRA. */
function isRegistrar(
  o: AttestationResponderOptions,
  domainCa: ReturnType<typeof parseCertificate>,
  socket: TLSSocket,
): boolean {
  try {
    const peer = socket.getPeerCertificate(true);
    if (!peer?.raw) return false;
    const leaf = parseCertificate(new Uint8Array(peer.raw));
    verifyChain(o.crypto, { leaf, anchors: [domainCa], at: o.now() });
    return leaf.extendedKeyUsage?.includes(Oid.cmcRA) === true;
  } catch {
    return false;
  }
}
