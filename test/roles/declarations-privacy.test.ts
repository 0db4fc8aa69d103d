/**
 * A declaration chain names a device's owners and transfers: the manufacturer shows it only
 * to the current owner's registrar and to authorized onboarders, authenticated by TLS client
 * certificate or by a signed read request. Everyone else, the device itself included, gets
 * the very same 404 as for a serial that does not exist.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Network } from '../../src/roles/network/index.js';
import { loadKek } from '../../src/adapters/crypto/kek.js';
import { MemorySecureStore } from '../../src/adapters/secure-store/memory-store.js';
import { Agent, request } from 'undici';
import { privateKeyPem, importPkcs8 } from '../../src/adapters/crypto/node-crypto.js';
import { fromBase64, toPem } from '../../src/core/bytes.js';
import {
  DECLARATION_READ_HEADER,
  signDeclarationReadRequest,
} from '../../src/protocols/declaration/read-request.js';
import { parseCertificateBase64, type Certificate } from '../../src/protocols/x509/certificate.js';
import type { PrivateKeyHandle } from '../../src/core/ports.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';

describe('declarations privacy at the manufacturer', () => {
  let sys: TestSystem;
  let other: Network;

  beforeAll(async () => {
    sys = await startTestSystem();
    other = await Network.open({
      ctx: sys.ctx,
      databaseFile: path.join(sys.dir, 'other-network.db'),
      kek: loadKek({ envVar: 'UNSET_FOR_TEST', file: path.join(sys.dir, 'other.kek') }).kek,
      manufacturers: [sys.manufacturer.trustBundle()],
      config: { ownerName: 'Acme Facilities' },
    });
  });
  afterAll(async () => {
    await other?.close();
    await sys?.close();
  });

  const pem = (chain: Certificate[], key: PrivateKeyHandle) => ({
    cert: chain.map((c) => toPem('CERTIFICATE', c.der)).join(''),
    key: privateKeyPem(key),
  });
  /** One GET on a fresh connection (no session resumption), with optional client credentials and header. */
  async function get(serial: string, opts: { cert?: string; key?: string; header?: string } = {}) {
    const agent = new Agent({
      connect: {
        ca: toPem('CERTIFICATE', sys.manufacturer.pki.root.cert.der),
        rejectUnauthorized: true,
        ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}),
      },
    });
    try {
      const res = await request(`${sys.manufacturerUrl}/declarations/${serial}`, {
        dispatcher: agent,
        headers: opts.header ? { [DECLARATION_READ_HEADER]: opts.header } : {},
      });
      return { status: res.statusCode, body: await res.body.text() };
    } finally {
      await agent.close();
    }
  }
  const readRequest = (
    n: Network,
    serial: string,
    createdOn = new Date(),
    manufacturer = sys.manufacturer.party.id,
  ) =>
    signDeclarationReadRequest(
      n.ctx.crypto,
      n.pki.registrar.key,
      { signer: n.pki.registrar.cert, ownerCa: n.pki.domainCa.cert },
      { 'serial-number': serial, manufacturer, 'created-on': createdOn.toISOString() },
    );

  it('the owner reads the chain by client certificate; no one else does, and every refusal is the unknown-serial 404, byte for byte', async () => {
    const store = new MemorySecureStore();
    const birth = await sys.manufacturer.factory.mint(store, { model: 'sensor-s1' });
    const serial = birth.serialNumber;
    await sys.manufacturer.sell(serial, sys.network.owner);
    const owner = pem(
      [sys.network.pki.registrar.cert, sys.network.pki.domainCa.cert],
      sys.network.pki.registrar.key,
    );
    const ok = await get(serial, owner);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).chain).toEqual(await sys.manufacturer.declarations.chain(serial));

    const unknown = await get('NO-SUCH-SERIAL', owner);
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).code).toBe('ERR_DECLARATION_NOT_FOUND');
    expect(unknown.body).not.toContain('NO-SUCH-SERIAL');

    const idevid = birth.idevidChain.map(parseCertificateBase64);
    const refusals = [
      await get(serial),
      await get(
        serial,
        pem([other.pki.registrar.cert, other.pki.domainCa.cert], other.pki.registrar.key),
      ),
      // The device's own birth certificate (with its chain) does not open its declaration.
      await get(serial, pem(idevid, importPkcs8(fromBase64(birth.idevidKey)!))),
      // The owner's registrar certificate presented without its CA names no party.
      await get(serial, pem([sys.network.pki.registrar.cert], sys.network.pki.registrar.key)),
    ];
    for (const r of refusals) {
      expect(r.status).toBe(404);
      expect(r.body).toBe(unknown.body);
    }
  });

  it("an LDevID of the owner's own domain CA (no id-kp-cmcRA) is refused the same way", async () => {
    const { agent, serial } = await sys.newDevice();
    await agent.onboard(sys.registrarUrl);
    const creds = (await agent.onboardingCredentials())!;
    const r = await get(
      serial,
      pem(
        [parseCertificateBase64(creds.ldevid), sys.network.pki.domainCa.cert],
        importPkcs8(fromBase64(creds.ldevidKey)!),
      ),
    );
    const unknown = await get('NO-SUCH-SERIAL');
    expect(r.status).toBe(404);
    expect(r.body).toBe(unknown.body);
  });

  it('an authorized onboarder reads it until removed; a previous owner no longer reads it after a resale', async () => {
    const { serial } = await sys.newDevice();
    await expect(
      other.masa.fetchDeclarationChain(sys.manufacturerUrl, serial),
    ).rejects.toMatchObject({ code: 'ERR_DECLARATION_NOT_FOUND' });
    await sys.network.changeDeclaration(sys.manufacturerUrl, {
      op: 'add-onboarder',
      'serial-number': serial,
      party: other.owner,
    });
    expect(await other.masa.fetchDeclarationChain(sys.manufacturerUrl, serial)).toHaveLength(3);
    await sys.network.changeDeclaration(sys.manufacturerUrl, {
      op: 'remove-onboarder',
      'serial-number': serial,
      party: { id: other.owner.id },
    });
    await expect(
      other.masa.fetchDeclarationChain(sys.manufacturerUrl, serial),
    ).rejects.toMatchObject({ code: 'ERR_DECLARATION_NOT_FOUND' });

    await sys.network.changeDeclaration(sys.manufacturerUrl, {
      op: 'transfer',
      'serial-number': serial,
      party: other.owner,
    });
    await expect(
      sys.network.masa.fetchDeclarationChain(sys.manufacturerUrl, serial),
    ).rejects.toMatchObject({ code: 'ERR_DECLARATION_NOT_FOUND' });
    expect(await other.masa.fetchDeclarationChain(sys.manufacturerUrl, serial)).toHaveLength(5);
  });

  it('a signed read request in the header stands in for a client certificate: fresh, for this serial, by the owner', async () => {
    const { serial } = await sys.newDevice();
    const ok = await get(serial, { header: readRequest(sys.network, serial) });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).chain).toHaveLength(2);
    const unknown = await get('NO-SUCH-SERIAL');
    const { serial: another } = await sys.newDevice();
    for (const header of [
      readRequest(other, serial),
      readRequest(sys.network, another),
      readRequest(sys.network, serial, new Date(Date.now() - 3_600_000)),
      // Signed by the owner, for this serial, but for another manufacturer (serials are unique per manufacturer only).
      readRequest(sys.network, serial, new Date(), 'another-manufacturer-party-id'),
      'not-a-jws',
    ]) {
      const r = await get(serial, { header });
      expect(r.status).toBe(404);
      expect(r.body).toBe(unknown.body);
    }
  });
});
