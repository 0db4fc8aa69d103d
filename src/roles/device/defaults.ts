/**
 * Device agent (pledge) configuration. Every key is documented here; the CLI overrides them.
 * The defaults are the safe ones: a setting that weakens a check says so when it is used.
 */
export interface DeviceConfig {
  /**
   * Step 9 (RFC 8995 sections 2.3.2 and 5.6.2): besides chaining to the pinned domain CA, the
   * registrar's TLS certificate must carry the extended key usage id-kp-cmcRA. Without it any
   * certificate of the domain, another device's LDevID included, could pose as the registrar.
   * Turn off only for a registrar whose certificate lacks the purpose (RFC 8995 makes it a
   * SHOULD); the device then trusts every holder of a domain certificate as a registrar.
   */
  requireRegistrarRa: boolean;
  /** Limits on every exchange with the registrar, so that a stalled peer cannot hang the device. */
  connection: {
    /** TCP connect plus the TLS handshake, in milliseconds. */
    handshakeTimeoutMs: number;
    /** One request, from sending it to the last byte of the answer (headers and body), in milliseconds. */
    requestTimeoutMs: number;
    /** Largest answer body accepted, in bytes. */
    maxResponseBytes: number;
  };
}

export const deviceDefaults: DeviceConfig = {
  requireRegistrarRa: true,
  connection: {
    handshakeTimeoutMs: 15_000,
    requestTimeoutMs: 30_000,
    maxResponseBytes: 1024 * 1024,
  },
};
