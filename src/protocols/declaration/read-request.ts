/**
 * Who may read a device's declaration chain (report sections 3 and 5.1.2): the chain names a
 * device's owners and its transfers, so the manufacturer shows it only to the current owner's
 * registrar and to authorized onboarders. A reader proves its party in one of two ways, both
 * with its registrar key (certified by its domain CA with id-kp-cmcRA, which a device's LDevID
 * does not carry; the party is the SHA-256 of the CA's SubjectPublicKeyInfo, core/party.ts):
 *
 * - a TLS client certificate chain [registrar, ..., domain CA] (`partiesOfRegistrarChain`), or
 * - for a client that cannot present one, a *read request*: a compact JWS
 *   (`typ: airlock-declaration-read+jws`, x5c [registrar, ..., domain CA]) over
 *   `{"serial-number", "manufacturer", "created-on"}`, sent in the `Airlock-Declaration-Read`
 *   header of `GET /declarations/<serial>`, fresh within the manufacturer's skew. It names the
 *   manufacturer it is for (its party id): serial numbers are unique per manufacturer only, so
 *   a request for one manufacturer must not open the same serial at another.
 */
import { z } from 'zod';
import { AirlockError, ensure } from '../../core/errors.js';
import { checked } from '../schema.js';
import { toBase64 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { partyIdFromSpki } from '../../core/party.js';
import { decodeCompact, payloadJson, signCompact, verifyCompact } from '../jws/compact.js';
import { verifyChain } from '../x509/chain.js';
import { parseCertificateBase64, type Certificate } from '../x509/certificate.js';
import { Oid } from '../x509/oids.js';

export const DECLARATION_READ_JWS_TYP = 'airlock-declaration-read+jws';
/** The HTTP header that carries a read request. */
export const DECLARATION_READ_HEADER = 'airlock-declaration-read';

export const DeclarationReadRequest = z.object({
  'serial-number': z.string().min(1).max(128),
  /** The manufacturer the request is for: its party id (core/party.ts). */
  manufacturer: z.string().min(1).max(64),
  'created-on': z.iso.datetime({ offset: true }),
});
export type DeclarationReadRequest = z.infer<typeof DeclarationReadRequest>;

export function signDeclarationReadRequest(
  crypto: Crypto,
  key: PrivateKeyHandle,
  chain: { signer: Certificate; ownerCa: Certificate },
  body: DeclarationReadRequest,
): string {
  return signCompact(
    crypto,
    key,
    {
      alg: 'ES256',
      typ: DECLARATION_READ_JWS_TYP,
      x5c: [toBase64(chain.signer.der), toBase64(chain.ownerCa.der)],
    },
    body,
  );
}

/**
 * The party of a registrar certificate chain, leaf first and the party's CA last: the leaf
 * must carry id-kp-cmcRA and chain to that CA at `at`. ERR_DECLARATION_FORBIDDEN otherwise.
 */
export function partiesOfRegistrarChain(
  crypto: Crypto,
  chain: readonly Certificate[],
  at: Date,
): string[] {
  ensure(
    chain.length >= 2,
    'ERR_DECLARATION_FORBIDDEN',
    'the chain must carry the registrar and its CA',
  );
  const ca = chain[chain.length - 1]!;
  ensure(ca.isCa, 'ERR_DECLARATION_FORBIDDEN', 'the last certificate is not a CA');
  ensure(
    chain[0]!.extendedKeyUsage?.includes(Oid.cmcRA),
    'ERR_DECLARATION_FORBIDDEN',
    'not a registrar certificate',
  );
  try {
    verifyChain(crypto, { leaf: chain[0]!, intermediates: chain.slice(1, -1), anchors: [ca], at });
  } catch (cause) {
    throw new AirlockError(
      'ERR_DECLARATION_FORBIDDEN',
      'the registrar is not certified by its CA',
      { cause },
    );
  }
  // The domain is its CA; a registrar that a declaration names by its own certificate (a MASA
  // pins it when the registrar sent no CA, RFC 8995 section 5.5) is that party too.
  return [partyIdFromSpki(crypto, ca.spki), partyIdFromSpki(crypto, chain[0]!.spki)];
}

/** Verifies a read request for `serial`; returns the reading party. */
export function verifyDeclarationReadRequest(
  crypto: Crypto,
  text: string,
  ctx: { serial: string; manufacturer: string; at: Date; maxSkewSeconds: number },
): string[] {
  const jws = decodeCompact(text);
  ensure(
    jws.header.typ === DECLARATION_READ_JWS_TYP,
    'ERR_INPUT_SCHEMA',
    'not a declaration read request',
  );
  ensure(
    jws.header.x5c && jws.header.x5c.length >= 2,
    'ERR_DECLARATION_FORBIDDEN',
    'x5c must carry the signer and its CA',
  );
  const chain = jws.header.x5c.map(parseCertificateBase64);
  const parties = partiesOfRegistrarChain(crypto, chain, ctx.at);
  verifyCompact(crypto, jws, chain[0]!.spki);
  const message = checked(DeclarationReadRequest, payloadJson(jws), 'ERR_INPUT_SCHEMA');
  ensure(
    message['serial-number'] === ctx.serial,
    'ERR_DECLARATION_FORBIDDEN',
    'the request is for another device',
  );
  ensure(
    message.manufacturer === ctx.manufacturer,
    'ERR_DECLARATION_FORBIDDEN',
    'the request is for another manufacturer',
  );
  const skew = Math.abs(new Date(message['created-on']).getTime() - ctx.at.getTime()) / 1000;
  ensure(
    skew <= ctx.maxSkewSeconds,
    'ERR_DECLARATION_FORBIDDEN',
    'the request is too old or from the future',
  );
  return parties;
}
