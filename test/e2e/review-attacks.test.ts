/**
 * Attacks a review performed against the running roles, each now refused: a repeated
 * registrar certificate posing as its own domain CA, an old LDevID stalling a re-onboarding,
 * and a registrar refused the audit log of a voucher it was given.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64, toPem } from '../../src/core/bytes.js';
import { partyIdFromSpki, type Party } from '../../src/core/party.js';
import { fileMeasuredBoot } from '../../src/adapters/device/measured-boot.js';
import { MemorySecureStore } from '../../src/adapters/secure-store/memory-store.js';
import { HttpMasaClient } from '../../src/adapters/http/masa-client.js';
import { PeerConnection } from '../../src/adapters/http/connection.js';
import { signCompact } from '../../src/protocols/jws/compact.js';
import { decodeVoucher } from '../../src/protocols/voucher/artifact.js';
import { encodePriorSignedVoucherRequest } from '../../src/protocols/voucher/registrar-voucher-request.js';
import { DeviceAgent } from '../../src/roles/device/agent.js';
import { Masa } from '../../src/roles/manufacturer/masa.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { UNATTESTED_ALLOWED } from '../support/policies.js';
import {
  connectAs,
  errorCode,
  identityOf,
  pledgeVoucherRequest,
  postVoucherRequest,
  type DeviceIdentity,
} from '../support/wire.js';

const nonce = () => toBase64(globalThis.crypto.getRandomValues(new Uint8Array(16)));

describe('review findings, closed', () => {
  let sys: TestSystem;
  let masaClient: HttpMasaClient;
  const closers: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    // The re-onboarding below is made by hand (support/wire.ts): a pledge that does not attest.
    sys = await startTestSystem({ policy: UNATTESTED_ALLOWED });
    masaClient = sys.masaClient();
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    await sys?.close();
  });
  async function deviceFor(owner: Party) {
    const firmware = await sys.firmwareOf('sensor-s1');
    const store = new MemorySecureStore();
    const birth = await sys.manufacturer.factory.mint(store, { model: 'sensor-s1' });
    await sys.manufacturer.sell(birth.serialNumber, owner);
    return {
      agent: new DeviceAgent(store, sys.ctx, { measuredBoot: fileMeasuredBoot(firmware) }),
      serial: birth.serialNumber,
      id: identityOf(birth),
    };
  }
  function rvrFor(id: DeviceIdentity, x5c: string[], opts: { proximity?: boolean } = {}) {
    const n = nonce();
    const registrar = sys.network.pki.registrar;
    const body: Record<string, unknown> = {
      assertion: 'proximity',
      'serial-number': id.birth.serialNumber,
      nonce: n,
      'created-on': new Date().toISOString(),
    };
    if (opts.proximity !== false) body['proximity-registrar-cert'] = toBase64(registrar.cert.der);
    const pvr = signCompact(
      sys.ctx.crypto,
      id.key,
      { alg: 'ES256', typ: 'voucher-jws+json', x5c: [toBase64(id.idevid.der)] },
      { 'ietf-voucher-request:voucher': body },
    );
    return signCompact(
      sys.ctx.crypto,
      registrar.key,
      { alg: 'ES256', typ: 'voucher-jws+json', x5c },
      {
        'ietf-voucher-request:voucher': {
          'serial-number': id.birth.serialNumber,
          nonce: n,
          'created-on': new Date().toISOString(),
          'prior-signed-voucher-request': encodePriorSignedVoucherRequest(pvr),
        },
      },
    );
  }

  it('x5c [registrar, registrar] does not pass as a chain to a domain CA (pinWhenNoCa: refuse holds)', async () => {
    const reg = sys.network.pki.registrar.cert;
    const registrarParty: Party = { id: partyIdFromSpki(sys.ctx.crypto, reg.spki), name: 'reg' };
    const { id, serial } = await deviceFor(registrarParty);
    const m = sys.manufacturer;
    const refusing = new Masa(m.ctx, m.store, m.pki, m.declarations, { pinWhenNoCa: 'refuse' });
    expect(
      await errorCode(() => refusing.requestVoucher(rvrFor(id, [toBase64(reg.der)]), 'probe')),
    ).toBe('ERR_VOUCHER_REQUEST_MALFORMED');
    expect(
      await errorCode(() =>
        refusing.requestVoucher(rvrFor(id, [toBase64(reg.der), toBase64(reg.der)]), 'probe'),
      ),
    ).toBe('ERR_VOUCHER_REQUEST_MALFORMED');
    expect(
      await m.db
        .selectFrom('masa_audit')
        .select('detail')
        .where('subject', '=', serial)
        .where('outcome', '=', 'ok')
        .execute(),
    ).toEqual([]);
    // The control: with its real CA, for a device of the CA's owner, the same MASA issues.
    const owned = await deviceFor(sys.network.owner);
    const v = decodeVoucher(
      await refusing.requestVoucher(
        rvrFor(owned.id, [toBase64(reg.der), toBase64(sys.network.pki.domainCa.cert.der)]),
        'probe',
      ),
    );
    expect(fromBase64(v.body['pinned-domain-cert']!)).toEqual(sys.network.pki.domainCa.cert.der);
  });

  it("a registrar given a logged voucher (the pledge named no registrar) may read the device's audit log", async () => {
    const { id } = await deviceFor(sys.network.owner);
    const rvr = rvrFor(
      id,
      [toBase64(sys.network.pki.registrar.cert.der), toBase64(sys.network.pki.domainCa.cert.der)],
      { proximity: false },
    );
    expect(
      decodeVoucher(await masaClient.requestVoucher(sys.manufacturerUrl, rvr)).body.assertion,
    ).toBe('logged');
    const log = await masaClient.requestAuditLog(sys.manufacturerUrl, rvr);
    expect(log.events).toHaveLength(1);
  });

  it('the holder of an older, still current LDevID cannot fail a re-onboarding under way', async () => {
    const { agent, id, serial } = await deviceFor(sys.network.owner);
    await agent.onboard(sys.registrarUrl);
    expect(await sys.network.inventory.attestation(serial)).not.toBeNull();
    const creds = (await agent.onboardingCredentials())!;
    const conn = await connectAs(sys.registrarUrl, id);
    try {
      const { pvr } = pledgeVoucherRequest(sys.ctx.crypto, id, conn);
      expect((await postVoucherRequest(conn, pvr)).status).toBe(200);
      const old = await PeerConnection.open(sys.registrarUrl, {
        cert: toPem('CERTIFICATE', fromBase64(creds.ldevid)!),
        key: toPem('PRIVATE KEY', fromBase64(creds.ldevidKey)!),
      });
      const r = await old.request('POST', '/.well-known/brski/enrollstatus', {
        body: JSON.stringify({ version: 1, status: false, reason: 'x' }),
        contentType: 'application/json',
      });
      await old.close();
      expect(r.status).toBe(200); // recorded as telemetry
      expect((await sys.network.inventory.device(serial)).state).toBe('vouched');
      const events = await sys.network.inventory.events(serial);
      expect(events.at(-1)).toMatchObject({ action: 'enrollstatus', outcome: 'error' });
    } finally {
      await conn.close();
    }
  });
});
