/**
 * An owner's request to change a device's declaration (report section 6: only the device
 * owner may transfer ownership or name authorized onboarders). A JWS signed by the owner's
 * registrar key (certified by the owner's CA with id-kp-cmcRA: a device's LDevID, certified by
 * the same CA, cannot sign one); x5c carries the signer first and the owner's CA last, whose
 * key hash is the acting party. It names the declaration it changes (`previous`), so it applies
 * once and cannot be replayed after the declaration has moved on.
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
import { PartySchema } from './schema.js';
import { Oid } from '../x509/oids.js';

const common = {
  'serial-number': z.string(),
  /** The hash of the latest declaration this request changes (sign.ts declarationHash). */
  previous: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  'created-on': z.iso.datetime({ offset: true }),
};

export const OwnershipOp = z.discriminatedUnion('op', [
  z.object({ op: z.literal('transfer'), party: PartySchema, ...common }),
  z.object({ op: z.literal('add-onboarder'), party: PartySchema, ...common }),
  z.object({ op: z.literal('remove-onboarder'), party: PartySchema.pick({ id: true }), ...common }),
]);
export type OwnershipOp = z.infer<typeof OwnershipOp>;

export const OWNERSHIP_JWS_TYP = 'airlock-ownership+jws';

export function signOwnershipRequest(
  crypto: Crypto,
  key: PrivateKeyHandle,
  chain: { signer: Certificate; ownerCa: Certificate },
  op: OwnershipOp,
): string {
  const x5c = [toBase64(chain.signer.der), toBase64(chain.ownerCa.der)];
  return signCompact(crypto, key, { alg: 'ES256', typ: OWNERSHIP_JWS_TYP, x5c }, op);
}

export function verifyOwnershipRequest(
  crypto: Crypto,
  text: string,
  ctx: { at: Date; maxSkewSeconds: number },
): { actorId: string; op: OwnershipOp } {
  const jws = decodeCompact(text);
  ensure(jws.header.typ === OWNERSHIP_JWS_TYP, 'ERR_INPUT_SCHEMA', 'not an ownership request');
  ensure(
    jws.header.x5c && jws.header.x5c.length >= 2,
    'ERR_DECLARATION_FORBIDDEN',
    'x5c must carry the signer and the owner CA',
  );
  const chain = jws.header.x5c.map(parseCertificateBase64);
  const ca = chain[chain.length - 1]!;
  try {
    verifyChain(crypto, {
      leaf: chain[0]!,
      intermediates: chain.slice(1, -1),
      anchors: [ca],
      at: ctx.at,
    });
  } catch (cause) {
    throw new AirlockError(
      'ERR_DECLARATION_FORBIDDEN',
      'the signer is not certified by the owner CA',
      { cause },
    );
  }
  ensure(
    chain[0]!.extendedKeyUsage?.includes(Oid.cmcRA),
    'ERR_DECLARATION_FORBIDDEN',
    "only the owner's registrar key may sign ownership requests",
  );
  verifyCompact(crypto, jws, chain[0]!.spki);
  const message = checked(OwnershipOp, payloadJson(jws), 'ERR_INPUT_SCHEMA');
  const skew = Math.abs(new Date(message['created-on']).getTime() - ctx.at.getTime()) / 1000;
  ensure(
    skew <= ctx.maxSkewSeconds,
    'ERR_DECLARATION_FORBIDDEN',
    'the request is too old or from the future',
  );
  return { actorId: partyIdFromSpki(crypto, ca.spki), op: message };
}
