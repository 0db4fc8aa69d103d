/**
 * The device's 802.1X credentials as an EAP-TLS supplicant (wpa_supplicant, eapol_test) reads
 * them (docs/RADIUS.md): its LDevID with its chain, its private key and the owner's domain CA,
 * as PEM files in a directory of their own, mode 0700, each file 0600. Nothing else of the
 * device's secure store is written.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { toPem } from '../../core/bytes.js';

export interface EapTlsFiles {
  /** The EAP identity: the LDevID's common name, the device's serial number. */
  identity: string;
  certificate: string;
  key: string;
  ca: string;
}

export async function writeEapTlsFiles(
  dir: string,
  o: {
    identity: string;
    /** The LDevID, then its chain (DER). */
    chain: readonly Uint8Array[];
    keyPkcs8: Uint8Array;
    domainCa: Uint8Array;
  },
): Promise<EapTlsFiles> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  const files = {
    certificate: path.join(dir, 'ldevid.pem'),
    key: path.join(dir, 'ldevid.key'),
    ca: path.join(dir, 'domain-ca.pem'),
  };
  const write = async (file: string, text: string) => {
    await fs.rm(file, { force: true });
    await fs.writeFile(file, text, { mode: 0o600 });
  };
  await write(files.key, toPem('PRIVATE KEY', o.keyPkcs8));
  await write(files.certificate, o.chain.map((c) => toPem('CERTIFICATE', c)).join(''));
  await write(files.ca, toPem('CERTIFICATE', o.domainCa));
  return { identity: o.identity, ...files };
}
