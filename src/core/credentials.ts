/** The entries of a device's secure store. */
export const SecureStoreEntry = {
  birth: 'birth',
  onboarding: 'onboarding',
  /** What a Wi-Fi Easy Connect Configurator gave the device (docs/DPP.md). */
  dpp: 'dpp-configuration',
} as const;

/**
 * The network a DPP Configurator gave the device, as its secure store keeps it: the SSID and
 * the credential of its kind. Secret (the passphrase, the netAccessKey).
 */
export interface DppConfigurationRecord {
  receivedAt: string;
  /** The Configurator proved it knows the device's bootstrapping key (it scanned its URI). */
  mutual: boolean;
  /** Who initiated: the device (`initiator`, it scanned the Configurator's URI) or the Configurator. */
  role: 'initiator' | 'responder';
  kind: 'sta-psk' | 'sta-sae' | 'sta-dpp';
  akm: string;
  ssid: string;
  passphrase?: string;
  pskHex?: string;
  /** sta-dpp: the signed Connector, the C-sign and ppKey JWKs, the netAccessKey's scalar (base64). */
  signedConnector?: string;
  csign?: Record<string, string>;
  ppKey?: Record<string, string>;
  netAccessKey?: string;
}

/**
 * What a device holds (NIST IR 8350 section 3), as stored in its secure store. Binary values
 * are base64 so that the records are plain JSON.
 */

/** Device bootstrapping credentials: installed at manufacture, never change. */
export interface BirthCredentials {
  serialNumber: string;
  model: string;
  /** IDevID certificate, then the IDevID CA. */
  idevidChain: string[];
  /** PKCS#8 private key of the IDevID. Secret. */
  idevidKey: string;
  /** The manufacturer's root certificate: it names the manufacturer (its party id). */
  manufacturerAnchor: string;
  /** The only anchor for vouchers: the CA of the manufacturer's MASA signing keys. */
  masaAnchor: string;
  /** The only anchor for declarations: the CA of the manufacturer's declaration signing keys. */
  declarationAnchor: string;
  masaUrl: string;
  mudUrl?: string;
  /** Application-layer bootstrapping information from the manufacturer (report step 5 of 5.1.1). */
  application?: { url: string };
  /** Whether the device boots only firmware its manufacturer signed, and so can attest (report section 5.2 step 1). */
  secureBoot?: boolean;
  /** The attestation key (PKCS#8 base64, secret) and its chain (AK certificate, attestation CA; base64 DER). Present when secureBoot. */
  attestation?: { key: string; chain: string[] };
  /** The manufacturer's supply-chain evidence (EAT JWT, supply-chain profile) for a device that cannot attest. */
  supplyChainEvidence?: string;
  /** The firmware flashed at the factory: the latest released version of the model when minted, if any. */
  firmware?: { name: string; version: string };
  /**
   * The Wi-Fi Easy Connect (DPP) bootstrapping key (docs/DPP.md): `privateKey` its private
   * scalar, big-endian, base64 (as the DPP code takes it; secret); `uri` its DPP URI (`I:` the
   * serial as `SN=<serial>`, `V:2`, `K:` the public key), what its QR code shows. Absent on a
   * device minted before DPP keys were.
   */
  dpp?: { curve: 'P-256'; privateKey: string; uri: string };
}

/** Onboarding credentials: locally significant, replaced on every onboarding. */
export interface OnboardingCredentials {
  networkOwner: { id: string; name: string };
  /** The domain CA pinned by the voucher. */
  domainCa: string;
  /** LDevID certificate for EAP-TLS, with its chain. */
  ldevid: string;
  ldevidChain: string[];
  /** PKCS#8 private key of the LDevID, generated on the device. Secret. */
  ldevidKey: string;
  /** Per-device Wi-Fi credentials. The PSK is secret. */
  /** `address`: where the network enforces intent, the address its rules are keyed by. */
  wifi: { ssid: string; psk: string; address?: string };
  app: AppBootstrap;
  declaration: { sequence: number; hash: string };
  onboardedAt: string;
}

/** Step 14: how to reach and authenticate the application layer. */
export interface AppBootstrap {
  applicationUrl: string;
  /** PEM trust anchor of the application server. */
  trustAnchor: string;
}
