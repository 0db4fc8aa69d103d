/**
 * Report section 6: only the device owner may name authorized onboarders or transfer the
 * device; the MASA and the device act on the latest declaration, through every resale.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Network } from '../../src/roles/network/index.js';
import { signOwnershipRequest } from '../../src/protocols/declaration/ownership-request.js';
import { importPkcs8 } from '../../src/adapters/crypto/node-crypto.js';
import { parseCertificateBase64 } from '../../src/protocols/x509/certificate.js';
import { fromBase64 } from '../../src/core/bytes.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';

describe('ownership and authorized onboarders', () => {
  let sys: TestSystem;
  let other: Network;
  let otherUrl: string;

  beforeAll(async () => {
    sys = await startTestSystem();
    ({ network: other, url: otherUrl } = await sys.otherNetwork('other-network', {
      config: { ownerName: 'Acme Facilities' },
    }));
  });
  afterAll(async () => {
    await sys?.close();
  });

  it("refuses a change from anyone but the owner, and applies the owner's", async () => {
    const { serial } = await sys.newDevice();
    const before = await sys.manufacturer.declarations.chain(serial);
    // Another network cannot even read the chain (declarations-privacy.test.ts) ...
    await expect(
      other.changeDeclaration(sys.manufacturerUrl, {
        op: 'add-onboarder',
        'serial-number': serial,
        party: other.owner,
      }),
    ).rejects.toMatchObject({ code: 'ERR_DECLARATION_NOT_FOUND' });
    // ... and a request it signs anyway, naming the right declaration, is refused.
    const forged = signOwnershipRequest(
      sys.ctx.crypto,
      other.pki.registrar.key,
      { signer: other.pki.registrar.cert, ownerCa: other.pki.domainCa.cert },
      {
        op: 'add-onboarder',
        'serial-number': serial,
        party: other.owner,
        previous: (await sys.manufacturer.declarations.latest(serial))!.hash,
        'created-on': new Date().toISOString(),
      },
    );
    await expect(
      other.masa.sendOwnershipRequest(sys.manufacturerUrl, serial, forged),
    ).rejects.toMatchObject({ code: 'ERR_DECLARATION_FORBIDDEN' });
    expect(await sys.manufacturer.declarations.chain(serial)).toEqual(before);

    const chain = await sys.network.changeDeclaration(sys.manufacturerUrl, {
      op: 'add-onboarder',
      'serial-number': serial,
      party: other.owner,
    });
    expect(chain).toHaveLength(before.length + 1);
    const latest = await sys.manufacturer.declarations.latest(serial);
    expect(latest?.body.owner.id).toBe(sys.network.owner.id);
    expect(latest?.body['authorized-onboarders'].map((p) => p.id)).toEqual([other.owner.id]);
  });

  const latestHash = async (serial: string) =>
    (await sys.manufacturer.declarations.latest(serial))!.hash;

  it('refuses a request whose signer the claimed owner CA did not certify', async () => {
    const { serial } = await sys.newDevice();
    // The other network signs, but names the owner's CA as its issuer.
    const forged = signOwnershipRequest(
      sys.ctx.crypto,
      other.pki.registrar.key,
      { signer: other.pki.registrar.cert, ownerCa: sys.network.pki.domainCa.cert },
      {
        op: 'transfer',
        'serial-number': serial,
        party: other.owner,
        previous: await latestHash(serial),
        'created-on': new Date().toISOString(),
      },
    );
    await expect(
      sys.network.masa.sendOwnershipRequest(sys.manufacturerUrl, serial, forged),
    ).rejects.toMatchObject({ code: 'ERR_DECLARATION_FORBIDDEN' });
    expect(await sys.manufacturer.declarations.chain(serial)).toHaveLength(2);
  });

  it("refuses a request signed by a device key the owner's CA certified (an LDevID)", async () => {
    const { agent, serial } = await sys.newDevice();
    await agent.onboard(sys.registrarUrl);
    const creds = (await agent.onboardingCredentials())!;
    const ldevid = parseCertificateBase64(creds.ldevid);
    const forged = signOwnershipRequest(
      sys.ctx.crypto,
      importPkcs8(fromBase64(creds.ldevidKey)!),
      { signer: ldevid, ownerCa: sys.network.pki.domainCa.cert },
      {
        op: 'transfer',
        'serial-number': serial,
        party: other.owner,
        previous: await latestHash(serial),
        'created-on': new Date().toISOString(),
      },
    );
    await expect(
      sys.network.masa.sendOwnershipRequest(sys.manufacturerUrl, serial, forged),
    ).rejects.toMatchObject({ code: 'ERR_DECLARATION_FORBIDDEN' });
    expect(await sys.manufacturer.declarations.chain(serial)).toHaveLength(2);
  });

  it('applies a request once: replayed after the declaration moved on, it is refused', async () => {
    const { serial } = await sys.newDevice();
    const add = signOwnershipRequest(
      sys.ctx.crypto,
      sys.network.pki.registrar.key,
      { signer: sys.network.pki.registrar.cert, ownerCa: sys.network.pki.domainCa.cert },
      {
        op: 'add-onboarder',
        'serial-number': serial,
        party: other.owner,
        previous: await latestHash(serial),
        'created-on': new Date().toISOString(),
      },
    );
    expect(
      await sys.network.masa.sendOwnershipRequest(sys.manufacturerUrl, serial, add),
    ).toHaveLength(3);
    await sys.network.changeDeclaration(sys.manufacturerUrl, {
      op: 'remove-onboarder',
      'serial-number': serial,
      party: { id: other.owner.id },
    });
    await expect(
      sys.network.masa.sendOwnershipRequest(sys.manufacturerUrl, serial, add),
    ).rejects.toMatchObject({ code: 'ERR_DECLARATION_STALE' });
    const latest = await sys.manufacturer.declarations.latest(serial);
    expect(latest?.body.sequence).toBe(3);
    expect(latest?.body['authorized-onboarders']).toEqual([]);
  });

  it('lets an authorized onboarder onboard the device, until the owner removes it', async () => {
    const { agent, serial } = await sys.newDevice();
    await expect(agent.onboard(otherUrl)).rejects.toMatchObject({
      code: 'ERR_MASA_NOT_AUTHORIZED',
    });

    await sys.network.changeDeclaration(sys.manufacturerUrl, {
      op: 'add-onboarder',
      'serial-number': serial,
      party: other.owner,
    });
    const report = await agent.onboard(otherUrl);
    expect(report.networkOwner).toEqual(other.owner);
    expect((await other.inventory.device(serial)).state).toBe('onboarded');

    await sys.network.changeDeclaration(sys.manufacturerUrl, {
      op: 'remove-onboarder',
      'serial-number': serial,
      party: { id: other.owner.id },
    });
    await agent.factoryReset();
    await expect(agent.onboard(otherUrl)).rejects.toMatchObject({
      code: 'ERR_MASA_NOT_AUTHORIZED',
    });
    expect(await agent.onboardingCredentials()).toBeUndefined();
  });

  it('follows a resale: the new owner onboards the device, the old one no longer can', async () => {
    const { agent, serial } = await sys.newDevice();
    expect((await agent.onboard(sys.registrarUrl)).networkOwner.id).toBe(sys.network.owner.id);

    const chain = await sys.network.changeDeclaration(sys.manufacturerUrl, {
      op: 'transfer',
      'serial-number': serial,
      party: other.owner,
    });
    expect(chain).toHaveLength(3);
    await agent.factoryReset();
    await expect(agent.onboard(sys.registrarUrl)).rejects.toMatchObject({
      code: 'ERR_MASA_NOT_AUTHORIZED',
    });
    const report = await agent.onboard(otherUrl);
    expect(report.networkOwner.id).toBe(other.owner.id);
    expect((await agent.onboardingCredentials())?.declaration.sequence).toBe(2);
  });
});
