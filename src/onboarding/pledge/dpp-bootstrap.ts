/**
 * The device's own Wi-Fi Easy Connect (DPP) bootstrapping key, from its birth credentials
 * (docs/DPP.md): the manufacturer mints it beside the IDevID, its private scalar kept in the
 * birth record of the secure store, its DPP URI (what the device's QR code shows) with it.
 *
 * A device minted before DPP keys were has none: ERR_DPP_NO_KEY, saying so. A record that does
 * not hold together (a URI that does not parse, another curve, a scalar that is not the URI
 * key's) is the store's fault: ERR_SECURE_STORE, the message carrying no key material.
 */
import { equalBytes, fromBase64 } from '../../core/bytes.js';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import type { BirthCredentials } from '../../core/credentials.js';
import type { Crypto } from '../../core/ports.js';
import type { DppOwnBootstrap } from '../../protocols/dpp/authentication.js';
import { spkiPoint } from '../../protocols/dpp/common.js';
import { dppCurveParams } from '../../protocols/dpp/crypto.js';
import { parseDppUri } from '../../protocols/dpp/uri.js';

export interface DeviceDppBootstrap {
  /** The key, as the DPP exchanges take it. Holds the private scalar: never log it. */
  readonly bootstrap: DppOwnBootstrap;
  /** The device's DPP URI, as minted. */
  readonly uri: string;
}

/** The `I:` value of a device's DPP URI: its serial, as the network's `dppSerial` reads it back. */
export function dppInfoOf(serialNumber: string): string {
  return `SN=${serialNumber}`;
}

function corrupt(cause?: unknown): never {
  throw new AirlockError('ERR_SECURE_STORE', 'the DPP bootstrapping key is corrupt', {
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * The bootstrapping key of the birth credentials, checked: the URI parses, its key is on the
 * recorded curve, and the private scalar is that key's (an ECDH with a fresh key both ways).
 */
export function openDppBootstrap(
  crypto: Pick<Crypto, 'ecGenerate' | 'ecPoint' | 'ecdh'>,
  birth: BirthCredentials,
): DeviceDppBootstrap {
  const dpp = birth.dpp;
  if (!dpp) throw noKey(birth);
  if (dpp.curve !== 'P-256' || typeof dpp.uri !== 'string' || typeof dpp.privateKey !== 'string')
    corrupt();
  let spkiDer: Uint8Array;
  try {
    const uri = parseDppUri(dpp.uri);
    if (uri.key.curve !== dpp.curve) corrupt();
    spkiDer = uri.key.spkiDer;
  } catch (e) {
    if (isAirlockError(e, 'ERR_SECURE_STORE')) throw e;
    corrupt(e);
  }
  const { ecCurve, primeLength } = dppCurveParams(dpp.curve);
  const publicKey = spkiPoint(crypto, dpp.curve, spkiDer);
  const privateKey = fromBase64(dpp.privateKey);
  if (!publicKey || !privateKey || privateKey.length !== primeLength) corrupt();
  // The scalar belongs to the URI's key: d * E = e * Q for a fresh key pair (e, E). (Only x
  // coordinates come out of ECDH, so this holds for -Q too; DPP's computations are x-only alike.)
  const probe = crypto.ecGenerate(ecCurve);
  const ours = crypto.ecdh(ecCurve, privateKey, probe.publicKey);
  const theirs = crypto.ecdh(ecCurve, probe.privateKey, publicKey);
  if (!ours || !theirs || !equalBytes(ours, theirs)) corrupt();
  return { bootstrap: { curve: dpp.curve, privateKey, publicKey, spkiDer }, uri: dpp.uri };
}

function noKey(birth: BirthCredentials): AirlockError {
  return new AirlockError(
    'ERR_DPP_NO_KEY',
    `device ${birth.serialNumber} has no DPP bootstrapping key: it was minted before devices got one`,
    { details: { hint: 'it onboards zero-touch only (`airlock device onboard`)' } },
  );
}
