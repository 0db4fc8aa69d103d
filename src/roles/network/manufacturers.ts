/**
 * The manufacturers a network trusts, and which one a given device or declaration belongs to.
 * Each manufacturer's CAs are used only for their own purpose and only for its own devices.
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { equalBytes } from '../../core/bytes.js';
import type { Crypto } from '../../core/ports.js';
import { partyIdFromSpki } from '../../core/party.js';
import { verifyChain } from '../../protocols/x509/chain.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import { verifyDeclarationChain, type VerifiedDeclarationChain } from '../../protocols/declaration/verify.js';
import type { ManufacturerTrust } from '../shared/trust.js';

export class TrustedManufacturers {
  constructor(
    private readonly crypto: Crypto,
    readonly all: readonly ManufacturerTrust[],
  ) {}

  /** The manufacturer whose IDevID CA issued `idevid`, verified; ERR_IDEVID_UNTRUSTED if none. */
  ofBirthCertificate(idevid: Certificate, at: Date): ManufacturerTrust {
    for (const m of this.all) {
      if (!equalBytes(m.idevidCa.subjectDer, idevid.issuerDer)) continue;
      try {
        verifyChain(this.crypto, { leaf: idevid, anchors: [m.idevidCa], at });
        return m;
      } catch (cause) {
        throw new AirlockError('ERR_IDEVID_UNTRUSTED', undefined, { cause });
      }
    }
    throw new AirlockError('ERR_IDEVID_UNTRUSTED', 'no trusted manufacturer issued this birth certificate');
  }

  /**
   * The manufacturer of a birth certificate already verified on this device's voucher request
   * (the session holds its exact bytes): found by issuer, without verifying it again.
   */
  ofVerifiedBirthCertificate(idevid: Certificate): ManufacturerTrust {
    const m = this.all.find((t) => equalBytes(t.idevidCa.subjectDer, idevid.issuerDer));
    if (!m) throw new AirlockError('ERR_IDEVID_UNTRUSTED', 'no trusted manufacturer issued this birth certificate');
    return m;
  }

  /** Verifies a declaration chain against the one manufacturer it names. */
  verifyDeclarations(chain: readonly string[], serialNumber: string, at: Date, only?: ManufacturerTrust): VerifiedDeclarationChain {
    let last: unknown;
    for (const m of only ? [only] : this.all) {
      try {
        return verifyDeclarationChain(this.crypto, chain, { declarationAnchors: [m.declarationsCa], manufacturerId: partyIdFromSpki(this.crypto, m.root.spki), serialNumber, at });
      } catch (e) {
        if (!isAirlockError(e)) throw e;
        last = e;
      }
    }
    throw last ?? new AirlockError('ERR_DECLARATION_CHAIN', 'no trusted manufacturer');
  }
}
