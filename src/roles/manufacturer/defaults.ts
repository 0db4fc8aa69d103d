/**
 * Manufacturer role configuration. Every key is documented here; the CLI and environment
 * override them (AIRLOCK_MANUFACTURER_*).
 */
import { defaultServerLimits, type ServerLimits } from '../../adapters/http/limits.js';

/**
 * The HTTPS server's time limits, connection caps and drain bound are part of this
 * configuration (ServerLimits); their values are stated in the defaults below.
 */
export interface ManufacturerConfig extends ServerLimits {
  /** Display name; also the O= of every IDevID. */
  name: string;
  /** Public base URL of this role (MASA, declarations). Goes into every IDevID as the MASA URL. */
  publicUrl: string;
  /** Names in the services' TLS certificate (host names or IPv4 addresses): the MASA URL's host must be one. */
  hostnames: string[];
  /** Device intent (MUD) base URL; each model's MUD file is `<mudBaseUrl>/<model>.json`. */
  mudBaseUrl: string;
  /** Application server URL installed in birth credentials (report section 5.1.1, step 5). */
  applicationUrl: string;
  /** How long a voucher is valid after issue, in seconds. Nonce-bound vouchers are short-lived. */
  voucherLifetimeSeconds: number;
  /** How far an ownership operation's created-on may be from the manufacturer's clock. */
  ownershipRequestSkewSeconds: number;
  /**
   * MASA: how far in the future a voucher request's `created-on` (registrar's or pledge's)
   * may be, in seconds, for clocks that run ahead of ours. Later ones are refused
   * (ERR_VOUCHER_REQUEST_NOT_YET_VALID). Default 5 minutes.
   */
  voucherRequestClockSkewSeconds: number;
  /**
   * MASA: what a voucher pins when the registrar voucher request's x5c is the registrar
   * certificate alone (RFC 8995 section 5.5 allows it), so that no domain CA is known.
   * `registrar-cert`: the domain is identified by the registrar certificate itself (its party
   * id is the SHA-256 of ITS SubjectPublicKeyInfo, as for a CA) and the voucher pins that
   * certificate. `refuse`: such requests are ERR_VOUCHER_REQUEST_MALFORMED. A chain that ends
   * in a CA always identifies the domain by that CA, and the voucher pins the CA.
   */
  pinWhenNoCa: 'registrar-cert' | 'refuse';
  /**
   * MASA: refuse a pledge request that names no registrar (no proximity-registrar-cert).
   * When false (the default), such a request gets a voucher asserting `logged`; one that
   * names the signing registrar gets `proximity`; one that names another is always refused.
   */
  requireProximity: boolean;
}

export const manufacturerDefaults: ManufacturerConfig = {
  name: 'Airlock Devices Inc.',
  publicUrl: 'https://127.0.0.1:8443',
  hostnames: ['localhost', '127.0.0.1'],
  mudBaseUrl: 'https://127.0.0.1:8443/mud',
  applicationUrl: 'https://127.0.0.1:8445/app',
  voucherLifetimeSeconds: 600,
  ownershipRequestSkewSeconds: 300,
  voucherRequestClockSkewSeconds: 300,
  pinWhenNoCa: 'registrar-cert',
  requireProximity: false,
  // The HTTPS server's limits, each documented in src/adapters/http/limits.ts: TLS handshake
  // 10 s, request headers 10 s, whole request 30 s, idle keep-alive 30 s, a connection's life
  // 5 minutes and 100 requests, 1,024 connections and 64 per source, headers 16 KiB, request
  // target 2 KiB, shutdown drain 10 s.
  ...defaultServerLimits,
};
