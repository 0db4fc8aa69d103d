/**
 * RFC 8995 section 5.8: the MASA keeps a log of every voucher it issues, and gives a device's
 * log to a registrar that may onboard it. After a resale the new owner's registrar sees, in
 * the device's audit trail, a warning naming the previous owner's domainID.
 */
import { decodeVoucherRequest } from '../../src/protocols/voucher/artifact.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Network } from '../../src/roles/network/index.js';
import type { MasaClient } from '../../src/adapters/http/masa-client.js';
import { domainIdOf, buildAuditLog } from '../../src/protocols/brski/audit-log.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';

describe('MASA audit log', () => {
  let sys: TestSystem;
  let other: Network;
  let otherUrl: string;
  /** Every registrar voucher request the first network sent, by serial. */
  const sent = new Map<string, string>();

  beforeAll(async () => {
    sys = await startTestSystem();
    ({ network: other, url: otherUrl } = await sys.otherNetwork('other-network', {
      config: { ownerName: 'Acme Facilities' },
    }));
    // Record what the first network sends its MASA, to replay it later.
    const real = sys.network.masa;
    const recording: MasaClient = {
      requestVoucher: async (url, rvr) => {
        const serial = decodeVoucherRequest(rvr).body['serial-number'];
        sent.set(serial, rvr);
        return real.requestVoucher(url, rvr);
      },
      requestAuditLog: (url, rvr) => real.requestAuditLog!(url, rvr),
      fetchDeclarationChain: (url, serial, o) => real.fetchDeclarationChain(url, serial, o),
      sendOwnershipRequest: (url, serial, r) => real.sendOwnershipRequest(url, serial, r),
      close: () => real.close(),
    };
    (sys.network.registrar as unknown as { masa: MasaClient }).masa = recording;
  });
  afterAll(async () => {
    await sys?.close();
  });

  const warnings = async (n: Network, serial: string) =>
    (await n.inventory.events(serial)).filter((e) => e.outcome === 'warning');

  it("after a resale, the new owner's audit trail warns of the previous owner's domain; the previous owner may no longer read the log", async () => {
    const xDomain = domainIdOf(sys.ctx.crypto, sys.network.pki.domainCa.cert);
    const yDomain = domainIdOf(sys.ctx.crypto, other.pki.domainCa.cert);
    expect(xDomain).not.toBe(yDomain);

    const { agent, serial } = await sys.newDevice();
    await agent.onboard(sys.registrarUrl);
    await sys.network.registrar.idle(); // the audit log is fetched off the device's path
    const xEvents = await sys.network.inventory.events(serial);
    expect(xEvents.find((e) => e.action === 'masa audit log')).toMatchObject({ outcome: 'ok' });
    expect(JSON.parse(xEvents.find((e) => e.action === 'masa audit log')!.detail!)).toMatchObject({
      vouchers: 1,
      otherDomains: 0,
    });
    expect(await warnings(sys.network, serial)).toEqual([]);

    // X reads the log itself, with the request it sent: one voucher, its own domain.
    const rvr = sent.get(serial)!;
    const log = await sys.network.masa.requestAuditLog!(sys.manufacturerUrl, rvr);
    expect(log.version).toBe('1');
    expect(log.events).toHaveLength(1);
    expect(log.events[0]).toMatchObject({
      domainID: xDomain,
      assertion: 'proximity',
      truncated: '0',
    });
    expect(log.events[0]!.nonce).toEqual(expect.any(String));

    await sys.network.changeDeclaration(sys.manufacturerUrl, {
      op: 'transfer',
      'serial-number': serial,
      party: other.owner,
    });
    await agent.factoryReset();
    await agent.onboard(otherUrl);
    await other.registrar.idle();

    const w = await warnings(other, serial);
    expect(w).toHaveLength(1);
    expect(JSON.parse(w[0]!.detail!)).toMatchObject({ domainID: xDomain, vouchers: 1 });
    expect(w[0]!.detail).not.toContain(yDomain);

    // The previous owner's request, replayed, no longer opens the log: refused, and logged.
    const before = await sys.manufacturer.db
      .selectFrom('masa_audit')
      .select('id')
      .where('action', '=', 'requestauditlog')
      .execute();
    await expect(sys.network.masa.requestAuditLog!(sys.manufacturerUrl, rvr)).rejects.toMatchObject(
      { code: 'ERR_MASA_NOT_AUTHORIZED' },
    );
    const after = await sys.manufacturer.db
      .selectFrom('masa_audit')
      .selectAll()
      .where('action', '=', 'requestauditlog')
      .orderBy('id')
      .execute();
    expect(after).toHaveLength(before.length + 1);
    expect(after.at(-1)).toMatchObject({
      outcome: 'refused',
      code: 'ERR_MASA_NOT_AUTHORIZED',
      subject: serial,
    });
  });

  it('refuses what is not a registrar voucher request', async () => {
    await expect(
      sys.network.masa.requestAuditLog!(sys.manufacturerUrl, 'not-a-jws'),
    ).rejects.toMatchObject({ code: 'ERR_JWS_MALFORMED' });
    // A device sold to X but never onboarded by Y: Y's voucher request is refused, so is its log.
    const { agent } = await sys.newDevice();
    await expect(agent.onboard(otherUrl)).rejects.toMatchObject({
      code: 'ERR_MASA_NOT_AUTHORIZED',
    });
  });

  it('truncates per domain and overall, counting what it dropped (section 5.8.1)', () => {
    const e = (d: string, domainID: string, nonce: string | null = d) => ({
      date: `2026-01-0${d}T00:00:00.000Z`,
      domainID,
      nonce,
      assertion: 'logged',
    });
    const log = buildAuditLog(
      [e('1', 'A'), e('2', 'A'), e('3', 'A', null), e('4', 'B'), e('5', 'A')],
      { perDomain: 2, total: 2 },
    );
    expect(log.events.map((x) => [x.date.slice(8, 10), x.domainID, x.truncated])).toEqual([
      ['05', 'A', '2'],
      ['04', 'B', '0'],
    ]);
    // 2A and 1A go as duplicates of A; 3A (nonceless, kept) then goes to the total limit.
    expect(log.truncation).toEqual({
      'nonced duplicates': '2',
      'nonceless duplicates': '0',
      arbitrary: '1',
    });
  });
});
