import { describe, expect, it } from 'vitest';
import { partyIdFromSpki, type Party } from '../../src/core/party.js';
import { declarationHash, signDeclaration } from '../../src/protocols/declaration/sign.js';
import {
  assertNotStale,
  mayOnboard,
  verifyDeclarationChain,
} from '../../src/protocols/declaration/verify.js';
import type { DeclarationBody } from '../../src/protocols/declaration/schema.js';
import { crypto, device, manufacturerPki, type Pair } from '../support/pki.js';
import { signCompact } from '../../src/protocols/jws/compact.js';

const at = new Date('2027-01-01T00:00:00Z');

function party(name: string, seed: number): Party {
  return { id: partyIdFromSpki(crypto, new Uint8Array([seed])), name };
}

async function chainOf(
  signer: Pair,
  manufacturer: Party,
  steps: Array<Pick<DeclarationBody, 'event' | 'owner' | 'authorized-onboarders'>>,
  serial = 'SN-1',
): Promise<string[]> {
  const out: string[] = [];
  for (const [i, s] of steps.entries()) {
    out.push(
      signDeclaration(crypto, signer.key, [signer.cert], {
        'serial-number': serial,
        sequence: i,
        previous: i === 0 ? null : declarationHash(crypto, out[i - 1]!),
        'issued-on': at.toISOString(),
        manufacturer,
        ...s,
      }),
    );
  }
  return out;
}

describe('device information declarations', async () => {
  const pki = await manufacturerPki();
  const maker = { id: partyIdFromSpki(crypto, pki.root.cert.spki), name: 'Test Maker' };
  const doe = party('Doe Family', 1);
  const acme = party('Acme', 2);
  const anchors = [pki.declarationsCa.cert];
  const history = [
    { event: 'minted' as const, owner: maker, 'authorized-onboarders': [] },
    { event: 'transferred' as const, owner: doe, 'authorized-onboarders': [] },
    { event: 'onboarders-changed' as const, owner: doe, 'authorized-onboarders': [acme] },
  ];

  it('verifies a chain of transfers and yields the latest', async () => {
    const chain = await chainOf(pki.declarationSigner, maker, history);
    const v = verifyDeclarationChain(crypto, chain, {
      declarationAnchors: anchors,
      serialNumber: 'SN-1',
      at,
    });
    expect(v.latest.sequence).toBe(2);
    expect(v.latestHash).toBe(declarationHash(crypto, chain[2]!));
    expect(mayOnboard(v.latest, doe.id)).toBe(true);
    expect(mayOnboard(v.latest, acme.id)).toBe(true);
    expect(mayOnboard(v.latest, maker.id)).toBe(false);
  });

  it('refuses reordered, cut or foreign links with ERR_DECLARATION_CHAIN', async () => {
    const chain = await chainOf(pki.declarationSigner, maker, history);
    const other = await chainOf(pki.declarationSigner, maker, history, 'SN-2');
    const ctx = { declarationAnchors: anchors, at };
    for (const bad of [
      [chain[0]!, chain[2]!],
      [chain[1]!, chain[2]!],
      [chain[0]!, other[1]!],
      [chain[0]!, chain[1]!, chain[1]!],
    ]) {
      expect(() => verifyDeclarationChain(crypto, bad, ctx)).toThrow(
        expect.objectContaining({ code: 'ERR_DECLARATION_CHAIN' }),
      );
    }
    expect(() => verifyDeclarationChain(crypto, chain, { ...ctx, serialNumber: 'SN-2' })).toThrow(
      expect.objectContaining({ code: 'ERR_DECLARATION_CHAIN' }),
    );
  });

  it('refuses a chain that does not start with the manufacturer as owner', async () => {
    const chain = await chainOf(pki.declarationSigner, maker, [
      { event: 'minted', owner: doe, 'authorized-onboarders': [] },
    ]);
    expect(() =>
      verifyDeclarationChain(crypto, chain, { declarationAnchors: anchors, at }),
    ).toThrow(expect.objectContaining({ code: 'ERR_DECLARATION_CHAIN' }));
  });

  it('refuses declarations signed by other keys under the same root: a device birth key, the root-issued signer', async () => {
    const birthKey = await device(pki.idevidCa, 'SN-9');
    for (const signer of [birthKey, pki.signer]) {
      const chain = await chainOf(signer, maker, history);
      expect(() =>
        verifyDeclarationChain(crypto, chain, { declarationAnchors: anchors, at }),
      ).toThrow(expect.objectContaining({ code: 'ERR_DECLARATION_CHAIN' }));
      // Even a verifier that (wrongly) trusted the root would find the chain is not from the declarations CA.
      expect(() =>
        verifyDeclarationChain(crypto, chain, {
          declarationAnchors: [pki.declarationsCa.cert],
          at,
        }),
      ).toThrow(expect.objectContaining({ code: 'ERR_DECLARATION_CHAIN' }));
    }
  });

  it('refuses a chain that names another manufacturer, and a JWS of another type', async () => {
    const chain = await chainOf(pki.declarationSigner, maker, history);
    expect(() =>
      verifyDeclarationChain(crypto, chain, {
        declarationAnchors: anchors,
        manufacturerId: doe.id,
        at,
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_DECLARATION_CHAIN' }));
    expect(
      verifyDeclarationChain(crypto, chain, {
        declarationAnchors: anchors,
        manufacturerId: maker.id,
        at,
      }).latest.sequence,
    ).toBe(2);
    const [h, p, s] = chain[0]!.split('.');
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString());
    const retyped = signCompact(
      crypto,
      pki.declarationSigner.key,
      { ...header, typ: 'voucher-jws+json' },
      Buffer.from(p!, 'base64url'),
    );
    expect(s).toBeDefined();
    expect(() =>
      verifyDeclarationChain(crypto, [retyped], { declarationAnchors: anchors, at }),
    ).toThrow(expect.objectContaining({ code: 'ERR_DECLARATION_MALFORMED' }));
  });

  it('refuses declarations signed by anyone but the manufacturer', async () => {
    const forger = await manufacturerPki('Forger');
    const chain = await chainOf(forger.declarationSigner, maker, history);
    expect(() =>
      verifyDeclarationChain(crypto, chain, { declarationAnchors: anchors, at }),
    ).toThrow(expect.objectContaining({ code: 'ERR_DECLARATION_CHAIN' }));
  });

  it('refuses a tampered declaration', async () => {
    const chain = await chainOf(pki.declarationSigner, maker, history.slice(0, 2));
    const [h, p, s] = chain[1]!.split('.');
    const body = JSON.parse(Buffer.from(p!, 'base64url').toString());
    body['airlock-declaration'].owner = acme;
    const tampered = [
      chain[0]!,
      `${h}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${s}`,
    ];
    expect(() =>
      verifyDeclarationChain(crypto, tampered, { declarationAnchors: anchors, at }),
    ).toThrow(expect.objectContaining({ code: 'ERR_JWS_SIGNATURE' }));
  });

  it('refuses a chain older than one already seen with ERR_DECLARATION_STALE', async () => {
    const chain = await chainOf(pki.declarationSigner, maker, history);
    const older = verifyDeclarationChain(crypto, chain.slice(0, 2), {
      declarationAnchors: anchors,
      at,
    });
    expect(() => assertNotStale(older, 2)).toThrow(
      expect.objectContaining({ code: 'ERR_DECLARATION_STALE' }),
    );
    expect(() => assertNotStale(older, 1)).not.toThrow();
    expect(() => assertNotStale(older, undefined)).not.toThrow();
  });
});
