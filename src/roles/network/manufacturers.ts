/**
 * The manufacturers a network trusts, and which one a given device or declaration belongs to.
 * Each manufacturer's CAs are used only for their own purpose and only for its own devices.
 * Airlock manufacturers come with a trust bundle; a manufacturer that is not Airlock with a
 * foreign trust file (shared/trust.ts), which says where its birth certificates carry the
 * serial number (RFC 8995 section 2.3.1) and may override their MASA URL (section 2.3.2).
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { equalBytes, toHex } from '../../core/bytes.js';
import type { Crypto } from '../../core/ports.js';
import { partyIdFromSpki } from '../../core/party.js';
import { verifyChain } from '../../protocols/x509/chain.js';
import {
  hardwareModuleName,
  subjectCommonName,
  type Certificate,
} from '../../protocols/x509/certificate.js';
import {
  verifyDeclarationChain,
  type VerifiedDeclarationChain,
} from '../../protocols/declaration/verify.js';
import {
  isForeign,
  type AnyManufacturerTrust,
  type ForeignManufacturerTrust,
  type ManufacturerTrust,
} from '../shared/trust.js';

/**
 * The device's serial number, read from its birth certificate where `trust` says it is (an
 * Airlock manufacturer: the subject's serialNumber). A hardwareModuleName's hwSerialNum is
 * octets: printable ASCII is taken as text, anything else as upper-case hex.
 * ERR_IDEVID_INVALID when the certificate has none there.
 */
export function serialOf(idevid: Certificate, trust: AnyManufacturerTrust): string {
  const from = isForeign(trust) ? trust.serialNumberFrom : 'serialNumber';
  let serial: string | undefined;
  switch (from) {
    case 'serialNumber':
      serial = idevid.subjectSerialNumber;
      break;
    case 'cn':
      serial = subjectCommonName(idevid);
      break;
    case 'hardwareModuleName': {
      const hmn = hardwareModuleName(idevid);
      if (hmn)
        serial = /^[\x21-\x7e]+$/.test(String.fromCharCode(...hmn.hwSerialNum))
          ? String.fromCharCode(...hmn.hwSerialNum)
          : toHex(hmn.hwSerialNum).toUpperCase();
      break;
    }
  }
  if (!serial)
    throw new AirlockError(
      'ERR_IDEVID_INVALID',
      `the birth certificate has no serial number in its ${from}`,
    );
  return serial;
}

/**
 * The device's MASA URL: the trust's override, else the birth certificate's id-pe-masa-url
 * (RFC 8995 section 2.3.2; an authority without a scheme is taken as https). A vendor's
 * private extension is never read. Undefined when there is none.
 */
export function masaUrlOf(idevid: Certificate, trust: AnyManufacturerTrust): string | undefined {
  if (isForeign(trust) && trust.masaUrl !== undefined) return trust.masaUrl;
  const url = idevid.masaUrl;
  if (url === undefined || url === '') return undefined;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`;
}

/** The anchors a voucher for one of this manufacturer's devices must chain to. */
export function voucherAnchorsOf(trust: AnyManufacturerTrust): readonly Certificate[] {
  return isForeign(trust) ? trust.masaTrustAnchors : [trust.masaCa];
}

const parties = new WeakMap<AnyManufacturerTrust, { id: string; name: string }>();

/**
 * The manufacturer as a party: an Airlock manufacturer by its root (as its declarations name
 * it); one that is not Airlock by its first IDevID CA. The name is the CA's common name.
 */
export function partyOfTrust(
  crypto: Crypto,
  trust: AnyManufacturerTrust,
): { id: string; name: string } {
  let party = parties.get(trust);
  if (!party) {
    const ca = isForeign(trust) ? trust.idevidCas[0]! : trust.root;
    party = { id: partyIdFromSpki(crypto, ca.spki), name: subjectCommonName(ca) ?? ca.subject };
    parties.set(trust, party);
  }
  return party;
}

/** A birth certificate verified to its manufacturer, with what the registrar reads from it. */
export interface IdentifiedDevice {
  trust: AnyManufacturerTrust;
  serial: string;
  masaUrl: string | undefined;
}

export class TrustedManufacturers {
  /** The Airlock manufacturers (trust bundles). */
  readonly all: readonly ManufacturerTrust[];
  /** The manufacturers that are not Airlock (foreign trust files). */
  readonly foreign: readonly ForeignManufacturerTrust[];

  constructor(
    private readonly crypto: Crypto,
    trusts: readonly AnyManufacturerTrust[],
  ) {
    this.all = trusts.filter((t): t is ManufacturerTrust => !isForeign(t));
    this.foreign = trusts.filter(isForeign);
  }

  /**
   * Any trusted manufacturer's birth certificate, Airlock's or not: verified to the IDevID CA
   * that issued it (at `at`), with its serial number and MASA URL read as that manufacturer's
   * trust says. ERR_IDEVID_UNTRUSTED when no trusted CA issued it.
   */
  identify(idevid: Certificate, at: Date): IdentifiedDevice {
    const candidates = this.#candidates(idevid);
    let last: unknown;
    for (const { trust, ca } of candidates) {
      try {
        verifyChain(this.crypto, { leaf: idevid, anchors: [ca], at });
      } catch (e) {
        // Two CAs may share a name (a re-keyed CA): try the next before refusing.
        last = e;
        continue;
      }
      return { trust, serial: serialOf(idevid, trust), masaUrl: masaUrlOf(idevid, trust) };
    }
    throw new AirlockError(
      'ERR_IDEVID_UNTRUSTED',
      last ? undefined : 'no trusted manufacturer issued this birth certificate',
      last ? { cause: last } : undefined,
    );
  }

  /**
   * A birth certificate already verified on this device's voucher request (the session holds
   * its exact bytes), read again as its manufacturer's trust says: the manufacturer is found
   * by issuer name, and only when several trusted CAs share that name by which one signed it.
   * ERR_IDEVID_UNTRUSTED when no trusted CA has its issuer's name.
   */
  identifyVerified(idevid: Certificate, at: Date): IdentifiedDevice {
    const candidates = this.#candidates(idevid);
    if (candidates.length > 1) return this.identify(idevid, at);
    const only = candidates[0];
    if (!only)
      throw new AirlockError(
        'ERR_IDEVID_UNTRUSTED',
        'no trusted manufacturer issued this birth certificate',
      );
    return {
      trust: only.trust,
      serial: serialOf(idevid, only.trust),
      masaUrl: masaUrlOf(idevid, only.trust),
    };
  }

  /** Every trusted IDevID CA with the name of `idevid`'s issuer, with its manufacturer. */
  #candidates(idevid: Certificate): { trust: AnyManufacturerTrust; ca: Certificate }[] {
    return [
      ...this.all.map((t) => ({ trust: t as AnyManufacturerTrust, ca: t.idevidCa })),
      ...this.foreign.flatMap((t) =>
        t.idevidCas.map((ca) => ({ trust: t as AnyManufacturerTrust, ca })),
      ),
    ].filter((c) => equalBytes(c.ca.subjectDer, idevid.issuerDer));
  }

  /** Verifies a declaration chain against the one manufacturer it names. */
  verifyDeclarations(
    chain: readonly string[],
    serialNumber: string,
    at: Date,
    only?: ManufacturerTrust,
  ): VerifiedDeclarationChain {
    let last: unknown;
    for (const m of only ? [only] : this.all) {
      try {
        return verifyDeclarationChain(this.crypto, chain, {
          declarationAnchors: [m.declarationsCa],
          manufacturerId: partyIdFromSpki(this.crypto, m.root.spki),
          serialNumber,
          at,
        });
      } catch (e) {
        if (!isAirlockError(e)) throw e;
        last = e;
      }
    }
    throw last ?? new AirlockError('ERR_DECLARATION_CHAIN', 'no trusted manufacturer');
  }
}
