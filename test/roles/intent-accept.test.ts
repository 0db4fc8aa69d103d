/**
 * The network accepting a MUD file (docs/INTENT.md): the manufacturer's served file, verified
 * against its trust file's MUD CA; its signer pinned for its URL in the network's database; a
 * file from the same URL signed by another key (certified by the same CA) refused, the pin
 * unchanged; a file that says another URL refused; a file no router can enforce refused before
 * its signer is pinned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { acceptMudFile } from '../../src/roles/network/intent.js';
import { generateP256Key, NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { systemClock } from '../../src/core/ports.js';
import { issueCertificate } from '../../src/protocols/x509/issue.js';
import { signerProfile } from '../../src/protocols/x509/profiles.js';
import { OID_DATA_CONTENT, signSignedData } from '../../src/protocols/cms/signed-data.js';
import { parseCertificateBase64 } from '../../src/protocols/x509/certificate.js';
import { errorCode } from '../support/errors.js';
import { compileProfile } from '../../src/protocols/mud/compile.js';
import { utf8 } from '../../src/core/bytes.js';

const ctx = { crypto: new NodeCrypto(), clock: systemClock };

/** A detached CMS signature over `content` by a new key that the manufacturer's MUD CA certifies. */
function signedByNewSigner(sys: TestSystem, name: string, content: Uint8Array): Uint8Array {
  const mudCa = sys.manufacturer.pki.mudCa;
  const key = generateP256Key();
  const now = Date.now();
  const cert = issueCertificate(
    ctx.crypto,
    signerProfile({
      name,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
    }),
    key.spki,
    { key: mudCa.key, cert: mudCa.cert },
  );
  return signSignedData(ctx.crypto, key, {
    eContentType: OID_DATA_CONTENT,
    content,
    signerChain: [cert],
    signingTime: new Date(),
    detached: true,
  });
}

describe('accepting a MUD file', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => sys?.close());

  it('pins the signer first seen for a URL, and refuses another key from the same CA after', async () => {
    const { agent } = await sys.newDevice({ model: 'pinned-p1' });
    const url = parseCertificateBase64((await agent.birth()).idevidChain[0]!).mudUrl!;
    const doc = await sys.manufacturer.intent.document('pinned-p1');
    const anchors = [sys.manufacturer.trustBundle().mudCa!];
    const pinned = () => sys.network.store.run((r) => r.mudSigners.pinned(url));

    expect(await pinned()).toBeUndefined();
    const first = await acceptMudFile(ctx, sys.network.store, {
      url,
      mud: doc.bytes,
      signature: doc.signature,
      anchors,
    });
    expect(first.pinned).toBe(true);
    expect(first.mud.url).toBe(url);
    const pin = await pinned();
    expect(pin?.subject).toBe(first.signer.subject);
    // The same signer again: accepted, nothing new pinned.
    expect(
      (
        await acceptMudFile(ctx, sys.network.store, {
          url,
          mud: doc.bytes,
          signature: doc.signature,
          anchors,
        })
      ).pinned,
    ).toBe(false);

    // Another key, certified by the same MUD CA: the chain verifies, the signer is not the one pinned.
    const other = signedByNewSigner(sys, 'Other MUD signer', doc.bytes);
    expect(
      await errorCode(() =>
        acceptMudFile(ctx, sys.network.store, { url, mud: doc.bytes, signature: other, anchors }),
      ),
    ).toBe('ERR_MUD_SIGNER_CHANGED');
    expect(await pinned()).toEqual(pin);
  });

  it('refuses a file that says it is another URL, and pins nothing', async () => {
    await sys.newDevice({ model: 'pinned-p2' });
    const doc = await sys.manufacturer.intent.document('pinned-p2');
    const url = 'https://elsewhere.example/mud/p2.json';
    expect(
      await errorCode(() =>
        acceptMudFile(ctx, sys.network.store, {
          url,
          mud: doc.bytes,
          signature: doc.signature,
          anchors: [sys.manufacturer.trustBundle().mudCa!],
        }),
      ),
    ).toBe('ERR_MUD_MALFORMED');
    expect(await sys.network.store.run((r) => r.mudSigners.pinned(url))).toBeUndefined();
  });

  it('refuses a file no router can enforce before its signer is pinned, and keeps nothing', async () => {
    const url = 'https://mud.example/unenforceable.json';
    const bytes = utf8(
      JSON.stringify({
        'ietf-mud:mud': {
          'mud-version': 1,
          'mud-url': url,
          'cache-validity': 24,
          'is-supported': true,
          'last-update': '2026-12-01T00:00:00Z',
          systeminfo: 'one host by its MAC address',
          'from-device-policy': { 'access-lists': { 'access-list': [{ name: 'out' }] } },
        },
        'ietf-access-control-list:acls': {
          acl: [
            {
              name: 'out',
              type: 'ipv4-acl-type',
              aces: {
                ace: [
                  {
                    name: 'one-mac',
                    matches: { eth: { 'destination-mac-address': '02:00:00:00:00:01' } },
                    actions: { forwarding: 'accept' },
                  },
                ],
              },
            },
          ],
        },
      }),
    );
    // Signed by a signer the manufacturer's MUD CA certifies: the signature verifies.
    const signature = signedByNewSigner(sys, 'MUD signer', bytes);
    const input = { url, mud: bytes, signature, anchors: [sys.manufacturer.trustBundle().mudCa!] };
    expect(
      await errorCode(() =>
        acceptMudFile(ctx, sys.network.store, {
          ...input,
          check: (mud) =>
            compileProfile(mud, 'check', { controllers: {}, myController: [], localNetworks: [] }),
        }),
      ),
    ).toBe('ERR_MUD_UNENFORCEABLE');
    expect(await sys.network.store.run((r) => r.mudSigners.pinned(url))).toBeUndefined();
    // Without the check the same file is accepted and pinned: the refusal was the check's.
    expect((await acceptMudFile(ctx, sys.network.store, input)).pinned).toBe(true);
  });
});
