import type { MinimumAssertion } from '../../protocols/voucher/voucher.js';

/**
 * Network role configuration (the owner's network onboarding component). Every key is
 * documented here; the CLI and environment override them.
 */
import { defaultServerLimits, type ServerLimits } from '../../adapters/http/limits.js';

/**
 * The HTTPS server's time limits, connection caps and drain bound are part of this
 * configuration (ServerLimits); their values are stated in the defaults below.
 */
export interface NetworkConfig extends ServerLimits {
  /** The network owner's display name; its party id is the hash of the domain CA key. */
  ownerName: string;
  /** The Wi-Fi network devices are given a per-device PSK for. */
  ssid: string;
  /** Step 14: where onboarded devices find their application server. */
  applicationUrl: string;
  /** Step 14: the application server's trust anchor (PEM). Empty: the domain CA. */
  applicationTrustAnchorPem: string;
  /** Lifetime of issued LDevIDs, in days. */
  ldevidValidityDays: number;
  /** Largest request body the registrar accepts, in bytes. */
  bodyLimitBytes: number;
  /** Fetch a device's declaration from its manufacturer when none is installed. */
  realtimeDeclarations: boolean;
  /** Names in the registrar's TLS certificate (host names or IPv4 addresses). */
  hostnames: string[];
  /**
   * The registrar's public base URL (https://host:port), where devices and relying parties
   * reach it: LDevIDs name `<publicUrl>/.well-known/airlock/crl` as their CRL distribution
   * point. Empty: the URL the registrar listens on.
   */
  publicUrl: string;
  /**
   * The weakest voucher assertion the registrar accepts from a MASA, by Airlock's ranking
   * none < logged < proximity (= agent-proximity) < verified (src/protocols/voucher/voucher.ts).
   * `logged` (the default) is met by every standard MASA; `proximity` requires the MASA to
   * have verified that the device named this registrar. Below it: ERR_VOUCHER_ASSERTION.
   */
  minimumVoucherAssertion: MinimumAssertion;
  /** How far in the future a voucher's created-on may be (the MASA's clock ahead of ours), in seconds. Default 5 minutes. */
  voucherClockSkewSeconds: number;
  /**
   * The x5c of registrar voucher requests (RFC 8995 section 5.5). `registrar-and-ca`: the
   * registrar certificate and the domain CA, so the MASA identifies the owner by the CA and the
   * voucher pins it. `registrar-only`: the registrar certificate alone; a MASA that accepts
   * it (Airlock's: `pinWhenNoCa`) identifies the domain by that certificate and pins it.
   */
  voucherRequestChain: 'registrar-and-ca' | 'registrar-only';
  /**
   * Report section 7: how often (seconds) every onboarded device that said where it answers is
   * asked for a fresh attestation token. 0: only on demand (`airlock network reattest`).
   */
  reattestationIntervalSeconds: number;
}

export const networkDefaults: NetworkConfig = {
  ownerName: 'Doe Family',
  ssid: 'airlock-iot',
  applicationUrl: 'https://127.0.0.1:8445/app',
  applicationTrustAnchorPem: '',
  ldevidValidityDays: 365,
  bodyLimitBytes: 64 * 1024,
  realtimeDeclarations: true,
  hostnames: ['localhost', '127.0.0.1'],
  publicUrl: '',
  minimumVoucherAssertion: 'logged',
  voucherClockSkewSeconds: 300,
  voucherRequestChain: 'registrar-and-ca',
  reattestationIntervalSeconds: 0,
  // The HTTPS server's limits, each documented in src/adapters/http/limits.ts: TLS handshake
  // 10 s, request headers 10 s, whole request 30 s, idle keep-alive 30 s, a connection's life
  // 5 minutes and 100 requests, 1,024 connections and 64 per source, headers 16 KiB, request
  // target 2 KiB, shutdown drain 10 s.
  ...defaultServerLimits,
};
