/**
 * The certificate chain a TLS client presented (leaf first, then the issuers it sent, in
 * order), parsed once per connection. The server requests but does not judge it (server.ts):
 * a route decides what the chain proves.
 *
 * A resumed TLS session carries the client's certificate but not the issuers it sent
 * (OpenSSL keeps only the leaf): the issuers a client sent with that same leaf in a full
 * handshake are remembered (public certificates, a bounded number) and supplied again.
 */
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { parseCertificate, type Certificate } from '../../protocols/x509/certificate.js';

const chains = new WeakMap<object, Certificate[]>();
const issuersByLeaf = new Map<string, Certificate[]>();
const MAX_REMEMBERED = 1024;

export function clientCertificateChain(req: FastifyRequest): Certificate[] {
  const socket = req.raw.socket as TLSSocket;
  let chain = chains.get(socket);
  if (chain === undefined) {
    chain = [];
    if (typeof socket.getPeerCertificate === 'function') {
      let c: DetailedPeerCertificate | undefined = socket.getPeerCertificate(
        true,
      ) as DetailedPeerCertificate;
      const seen = new Set<string>();
      while (c && c.raw && chain.length < 8) {
        const key = c.fingerprint256;
        if (seen.has(key)) break;
        seen.add(key);
        try {
          chain.push(parseCertificate(new Uint8Array(c.raw)));
        } catch {
          break;
        }
        c = c.issuerCertificate;
      }
    }
    const leaf = chain[0];
    if (leaf) {
      const key = Buffer.from(leaf.der).toString('base64');
      if (chain.length > 1) {
        if (issuersByLeaf.size >= MAX_REMEMBERED && !issuersByLeaf.has(key))
          issuersByLeaf.delete(issuersByLeaf.keys().next().value!);
        issuersByLeaf.set(key, chain.slice(1));
      } else if (socket.isSessionReused()) {
        chain.push(...(issuersByLeaf.get(key) ?? []));
      }
    }
    chains.set(socket, chain);
  }
  return chain;
}
