/**
 * Verifying a declaration chain: every link is signed by the manufacturer, names the same
 * device, counts up from 0 and carries the hash of the one before it; the first names the
 * manufacturer as owner. The result is the latest declaration, which alone says who may
 * onboard the device now.
 */
import { AirlockError, ensure } from '../../core/errors.js';
import { checked } from '../schema.js';
import type { Crypto } from '../../core/ports.js';
import type { Party } from '../../core/party.js';
import { decodeCompact, payloadJson, verifyCompact } from '../jws/compact.js';
import { verifyChain } from '../x509/chain.js';
import { parseCertificateBase64, type Certificate } from '../x509/certificate.js';
import { DECLARATION_JWS_TYP, declarationHash } from './sign.js';
import { Declaration, type DeclarationBody } from './schema.js';

export interface VerifiedDeclarationChain {
  readonly latest: DeclarationBody;
  readonly latestHash: string;
  readonly links: readonly DeclarationBody[];
}

export function verifyDeclarationChain(
  crypto: Crypto,
  chain: readonly string[],
  ctx: DeclarationContext & { serialNumber?: string },
): VerifiedDeclarationChain {
  ensure(chain.length > 0, 'ERR_DECLARATION_CHAIN', 'empty chain');
  const links: DeclarationBody[] = [];
  const signers = new Map<string, Certificate>();
  let previousHash: string | null = null;
  for (const [i, compact] of chain.entries()) {
    const body = verifyDeclaration(crypto, compact, ctx, signers);
    ensure(body.sequence === i, 'ERR_DECLARATION_CHAIN', `link ${i} has sequence ${body.sequence}`);
    ensure(
      body.previous === previousHash,
      'ERR_DECLARATION_CHAIN',
      `link ${i} does not follow link ${i - 1}`,
    );
    ensure(
      body['serial-number'] === links[0]?.['serial-number'] || i === 0,
      'ERR_DECLARATION_CHAIN',
      'links name different devices',
    );
    ensure(
      body.manufacturer.id === (links[0] ?? body).manufacturer.id,
      'ERR_DECLARATION_CHAIN',
      'links name different manufacturers',
    );
    if (i === 0) {
      ensure(
        body.owner.id === body.manufacturer.id && body.event === 'minted',
        'ERR_DECLARATION_CHAIN',
        'the manufacturer is the first owner',
      );
      if (ctx.manufacturerId !== undefined)
        ensure(
          body.manufacturer.id === ctx.manufacturerId,
          'ERR_DECLARATION_CHAIN',
          'the chain names another manufacturer',
        );
    }
    links.push(body);
    previousHash = declarationHash(crypto, compact);
  }
  if (ctx.serialNumber !== undefined)
    ensure(
      links[0]!['serial-number'] === ctx.serialNumber,
      'ERR_DECLARATION_CHAIN',
      'the chain is for another device',
    );
  return { latest: links[links.length - 1]!, latestHash: previousHash!, links };
}

export interface DeclarationContext {
  /** The manufacturer's declarations CA: the only anchor for declaration signers. */
  declarationAnchors: readonly Certificate[];
  /** The manufacturer's party id (hash of its root key), which the chain must name. */
  manufacturerId?: string;
  at: Date;
}

/** One declaration: signature to the declarations CA, type and schema. */
export function verifyDeclaration(
  crypto: Crypto,
  compact: string,
  ctx: DeclarationContext,
  verifiedSigners?: Map<string, Certificate>,
): DeclarationBody {
  const jws = decodeCompact(compact);
  ensure(jws.header.typ === DECLARATION_JWS_TYP, 'ERR_DECLARATION_MALFORMED', 'not a declaration');
  ensure(jws.header.x5c, 'ERR_DECLARATION_MALFORMED', 'x5c is required');
  // The links of one chain usually share their signer: its path is checked once per chain.
  const key = jws.header.x5c.join('.');
  let signer = verifiedSigners?.get(key);
  if (!signer) {
    const chain = jws.header.x5c.map(parseCertificateBase64);
    try {
      verifyChain(crypto, {
        leaf: chain[0]!,
        intermediates: chain.slice(1),
        anchors: ctx.declarationAnchors,
        at: ctx.at,
      });
    } catch (cause) {
      throw new AirlockError('ERR_DECLARATION_CHAIN', 'not signed by the manufacturer', { cause });
    }
    signer = chain[0]!;
    verifiedSigners?.set(key, signer);
  }
  verifyCompact(crypto, jws, signer.spki);
  return checked(Declaration, payloadJson(jws), 'ERR_DECLARATION_MALFORMED')['airlock-declaration'];
}

/** Step 9's check: the network owner is the device owner or one of its authorized onboarders. */
export function mayOnboard(declaration: DeclarationBody, networkOwnerId: string): boolean {
  return (
    declaration.owner.id === networkOwnerId ||
    declaration['authorized-onboarders'].some((p: Party) => p.id === networkOwnerId)
  );
}

/** Refuses a chain whose latest link is older than one already seen for the same device. */
export function assertNotStale(
  candidate: VerifiedDeclarationChain,
  knownSequence: number | undefined,
): void {
  if (knownSequence !== undefined && candidate.latest.sequence < knownSequence) {
    throw new AirlockError(
      'ERR_DECLARATION_STALE',
      `sequence ${candidate.latest.sequence} is older than ${knownSequence}`,
    );
  }
}

/**
 * The latest declaration of a chain this party verified when it took it in (the network's
 * installed chains): decoded and read against the schema, not verified again. Undefined for
 * an empty chain or one that does not decode.
 */
export function latestDeclared(chain: readonly string[]): DeclarationBody | undefined {
  const last = chain.at(-1);
  if (last === undefined) return undefined;
  try {
    const parsed = Declaration.safeParse(payloadJson(decodeCompact(last)));
    return parsed.success ? parsed.data['airlock-declaration'] : undefined;
  } catch {
    return undefined;
  }
}
