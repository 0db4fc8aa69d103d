/**
 * Verification service role configuration (RFC 9334 verifier; docs/ATTESTATION.md). Every key
 * is documented here; the CLI overrides them.
 */
import { defaultServerLimits, type ServerLimits } from '../../adapters/http/limits.js';
import pkg from '../../../package.json' with { type: 'json' };

/**
 * The HTTPS server's time limits, connection caps and drain bound are part of this
 * configuration (ServerLimits); their values are stated in the defaults below.
 */
export interface VerifierConfig extends ServerLimits {
  /** Display name: the CN of the verifier's CA and of its certificates. */
  name: string;
  /** Names in the verifier's TLS certificate (host names or IPv4 addresses): the URL relying parties use must name one. */
  hostnames: string[];
  /**
   * The verifier's public base URL (https://host:port), from which session URLs (`Location`)
   * are made. Empty: the scheme and Host of each request (so a client that reached the
   * verifier at some name gets session URLs at that name).
   */
  publicUrl: string;
  /** How long a challenge-response session waits for its evidence, in seconds (its nonce's life). Default 120. */
  sessionTtlSeconds: number;
  /**
   * Sessions are deleted this many seconds after they expire (a session is found by no request
   * once expired; the delay leaves it to be looked at meanwhile). Default one hour.
   */
  sessionRetentionSeconds: number;
  /**
   * How often the manufacturers that have a URL are asked for their current reference values
   * (`GET <url>/.well-known/airlock/reference-values`), in seconds, once the role serves.
   * 0: never (reference values are then only pushed to `/endorsement-provisioning/v1/submit`).
   */
  referenceValuesRefreshSeconds: number;
  /** How far in the future a token's `iat` may be (the device's clock ahead of ours), in seconds. */
  clockSkewSeconds: number;
  /** `ear.verifier-id.developer` of every result: who wrote this verifier. */
  developer: string;
  /** `ear.verifier-id.build` of every result: this verifier's name and version. */
  build: string;
  /** `ear.appraisal-policy-id` of every result: the appraisal of docs/ATTESTATION.md. */
  appraisalPolicyId: string;
}

export const verifierDefaults: VerifierConfig = {
  name: 'Airlock Verifier',
  hostnames: ['localhost', '127.0.0.1'],
  publicUrl: '',
  sessionTtlSeconds: 120,
  sessionRetentionSeconds: 3600,
  referenceValuesRefreshSeconds: 60,
  clockSkewSeconds: 300,
  developer: 'Airlock',
  build: `airlock ${(pkg as { version: string }).version}`,
  appraisalPolicyId: 'tag:airlock.example,2026:appraisal/1',
  // The HTTPS server's limits, each documented in src/adapters/http/limits.ts: TLS handshake
  // 10 s, request headers 10 s, whole request 30 s, idle keep-alive 30 s, a connection's life
  // 5 minutes and 100 requests, 1,024 connections and 64 per source, headers 16 KiB, request
  // target 2 KiB, shutdown drain 10 s.
  ...defaultServerLimits,
};

/** The CLI's default port of `airlock verifier serve`. */
export const VERIFIER_DEFAULT_PORT = 8446;
