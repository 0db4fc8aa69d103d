/**
 * The pledge's identity, from the birth credentials in its secure store (report section 5.1.1):
 * its IDevID and chain, the handle of its birth key, and the anchors it was born with. Opened
 * before anything is sent, so that a corrupt store fails before the device contacts anyone.
 */
import { AirlockError } from '../../core/errors.js';
import { fromBase64 } from '../../core/bytes.js';
import type { BirthCredentials } from '../../core/credentials.js';
import { partyIdFromSpki } from '../../core/party.js';
import type { PrivateKeyHandle } from '../../core/ports.js';
import { parseCertificateBase64, type Certificate } from '../../protocols/x509/certificate.js';
import type { PledgeContext } from './context.js';
import { importStoredKey } from './stored-key.js';

export interface PledgeIdentity {
  readonly serialNumber: string;
  readonly idevid: Certificate;
  /** The IDevID, then its CA (DER): what the pledge presents to the registrar. */
  readonly idevidChain: readonly Uint8Array[];
  readonly idevidKey: PrivateKeyHandle;
  /** The manufacturer's party id: the only one that may sign declarations for this device. */
  readonly manufacturerId: string;
  /** The only anchors for vouchers and for declarations. */
  readonly masaAnchors: readonly Certificate[];
  readonly declarationAnchors: readonly Certificate[];
  /** Application-layer bootstrapping information from the manufacturer, if any (step 14). */
  readonly applicationUrl: string | undefined;
  /** How the device proves its firmware (step 1): its attestation key, or the manufacturer's evidence, or nothing. */
  readonly attestation: AttestationIdentity;
}

export type AttestationIdentity =
  | {
      kind: 'key';
      model: string;
      key: PrivateKeyHandle;
      /** The AK certificate, then the attestation CA. */
      chain: readonly Certificate[];
      manufacturerId: string;
    }
  | { kind: 'supply-chain'; evidence: string }
  | { kind: 'none' };

export async function openBirthCredentials(
  ctx: PledgeContext,
  birth: BirthCredentials,
): Promise<PledgeIdentity> {
  const idevid = parseCertificateBase64(birth.idevidChain[0]!);
  const manufacturerId = partyIdFromSpki(
    ctx.crypto,
    parseCertificateBase64(birth.manufacturerAnchor).spki,
  );
  const masaAnchors = [parseCertificateBase64(birth.masaAnchor)];
  const declarationAnchors = [parseCertificateBase64(birth.declarationAnchor)];
  const idevidChain = birth.idevidChain.map((c) => fromBase64(c));
  if (idevidChain.some((c) => c === undefined))
    throw new AirlockError('ERR_SECURE_STORE', 'the birth certificate chain is corrupt');
  const idevidKey = await importStoredKey(ctx.keys, birth.idevidKey, 'the birth key');
  let attestation: AttestationIdentity = { kind: 'none' };
  if (birth.secureBoot && birth.attestation)
    attestation = {
      kind: 'key',
      model: birth.model,
      key: await importStoredKey(ctx.keys, birth.attestation.key, 'the attestation key'),
      chain: birth.attestation.chain.map((c) => parseCertificateBase64(c)),
      manufacturerId,
    };
  else if (birth.supplyChainEvidence)
    attestation = { kind: 'supply-chain', evidence: birth.supplyChainEvidence };
  return {
    serialNumber: birth.serialNumber,
    idevid,
    idevidChain: idevidChain as Uint8Array[],
    idevidKey,
    manufacturerId,
    masaAnchors,
    declarationAnchors,
    applicationUrl: birth.application?.url,
    attestation,
  };
}
