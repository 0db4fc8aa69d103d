/**
 * Manufacturer role configuration. Every key is documented here; the CLI and environment
 * override them (AIRLOCK_MANUFACTURER_*).
 */
export interface ManufacturerConfig {
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
}

export const manufacturerDefaults: ManufacturerConfig = {
  name: 'Airlock Devices Inc.',
  publicUrl: 'https://127.0.0.1:8443',
  hostnames: ['localhost', '127.0.0.1'],
  mudBaseUrl: 'https://127.0.0.1:8443/mud',
  applicationUrl: 'https://127.0.0.1:8445/app',
  voucherLifetimeSeconds: 600,
  ownershipRequestSkewSeconds: 300,
};
