/**
 * The PledgeChannel port on TLS: one PeerConnection (connection.ts) per channel, opened with
 * the pledge's certificate chain and key. node:tls wants the key itself, as PEM, so it is
 * read out of the key store here, in the adapter, and nowhere else: fine for software keys;
 * a hardware key store would need a TLS stack that signs through it (an OpenSSL provider).
 */
import { toPem } from '../../core/bytes.js';
import type {
  ChannelRequest,
  ChannelResponse,
  KeyStore,
  PledgeChannel,
  PledgeConnector,
} from '../../core/ports.js';
import { softwareKeyStore } from '../crypto/software-key-store.js';
import { PeerConnection } from './connection.js';

/** A connector that opens TLS 1.3 connections, the pledge's key read from `keys`. */
export function tlsPledgeConnector(keys: KeyStore = softwareKeyStore): PledgeConnector {
  return async (url, { credentials, trustAnchors, limits }) => {
    const key = toPem('PRIVATE KEY', await keys.exportPkcs8(credentials.key));
    const conn = await PeerConnection.open(url, {
      ...limits,
      cert: credentials.chain.map((der) => toPem('CERTIFICATE', der)).join(''),
      key,
      ...(trustAnchors
        ? { ca: trustAnchors.map((der) => toPem('CERTIFICATE', der)).join('') }
        : {}),
    });
    return new TlsPledgeChannel(conn);
  };
}

/** A pledge channel over one TLS connection. */
export class TlsPledgeChannel implements PledgeChannel {
  constructor(readonly connection: PeerConnection) {}

  peerCertificate(): Uint8Array {
    return this.connection.peerCertificate();
  }

  exporter(label: string, length: number): Uint8Array {
    return this.connection.exportKeyingMaterial(length, label);
  }

  call(method: 'GET' | 'POST', path: string, request?: ChannelRequest): Promise<ChannelResponse> {
    return this.connection.call(method, path, request);
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
