/**
 * The attack: an onboarded device turns its LDevID (which chains to the owner's domain CA)
 * into a registrar for another device of the same owner. It signs a registrar voucher request
 * for device B with its LDevID key and posts it to the manufacturer's MASA over TLS. RFC 8995
 * section 5.5.4: the MASA accepts only a signer certificate with id-kp-cmcRA, so it refuses,
 * issues nothing, and logs the refusal. The same request made with the real registrar's
 * identity gets a voucher, so the refusal is the EKU check and not something else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64, toPem } from '../../src/core/bytes.js';
import { isAirlockError } from '../../src/core/errors.js';
import type { PrivateKeyHandle } from '../../src/core/ports.js';
import { importPkcs8, type NodePrivateKey } from '../../src/adapters/crypto/node-crypto.js';
import { HttpMasaClient } from '../../src/adapters/http/masa-client.js';
import { parseCertificateBase64, type Certificate } from '../../src/protocols/x509/certificate.js';
import { Oid } from '../../src/protocols/x509/oids.js';
import {
  signPledgeVoucherRequest,
  verifyPledgeVoucherRequest,
} from '../../src/protocols/voucher/pledge-voucher-request.js';
import { signRegistrarVoucherRequest } from '../../src/protocols/voucher/registrar-voucher-request.js';
import { verifyVoucher } from '../../src/protocols/voucher/voucher.js';
import type { DeviceAgent } from '../../src/roles/device/agent.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { identityOf, type DeviceIdentity } from '../support/wire.js';

describe('attack: an onboarded device signs a registrar voucher request with its LDevID', () => {
  let sys: TestSystem;
  let masa: HttpMasaClient;
  let ldevid: Certificate;
  let ldevidKey: NodePrivateKey;
  let domainCa: Certificate;
  let victim: { serial: string; id: DeviceIdentity; agent: DeviceAgent };

  beforeAll(async () => {
    sys = await startTestSystem();
    // Device A onboards normally; its onboarding credentials are what the attacker holds.
    const a = await sys.newDevice();
    await a.agent.onboard(sys.registrarUrl);
    const creds = (await a.agent.onboardingCredentials())!;
    ldevid = parseCertificateBase64(creds.ldevid);
    ldevidKey = importPkcs8(fromBase64(creds.ldevidKey)!);
    domainCa = parseCertificateBase64(creds.domainCa);
    // Device B: minted and sold to the same owner.
    const b = await sys.newDevice();
    victim = { serial: b.serial, id: identityOf(await b.agent.birth()), agent: b.agent };
    masa = new HttpMasaClient(toPem('CERTIFICATE', sys.manufacturer.pki.root.cert.der));
  });
  afterAll(async () => {
    await masa?.close();
    await sys?.close();
  });

  /** B's pledge request naming `registrarCert`, wrapped and signed by `registrarKey` with x5c `chain`. */
  function registrarRequestForB(
    registrarCert: Certificate,
    registrarKey: PrivateKeyHandle,
    domain: Certificate | undefined,
  ): { rvr: string; nonce: string } {
    const nonce = toBase64(globalThis.crypto.getRandomValues(new Uint8Array(16)));
    const pvrText = signPledgeVoucherRequest(sys.ctx.crypto, victim.id.key, victim.id.idevid, {
      serialNumber: victim.serial,
      nonce,
      createdOn: new Date(),
      proximityRegistrarCert: registrarCert.der,
    });
    const pvr = verifyPledgeVoucherRequest(sys.ctx.crypto, pvrText, {
      tlsClientCert: victim.id.idevid,
      registrarCert,
    });
    return {
      rvr: signRegistrarVoucherRequest(
        sys.ctx.crypto,
        registrarKey,
        { registrarCert, domainCa: domain },
        pvr,
        new Date(),
      ),
      nonce,
    };
  }

  async function refusal(rvr: string): Promise<{ code: string; status: unknown }> {
    try {
      await masa.requestVoucher(sys.manufacturerUrl, rvr);
    } catch (e) {
      if (isAirlockError(e)) return { code: e.code, status: e.details.status };
      throw e;
    }
    throw new Error('the MASA issued a voucher');
  }

  it("the LDevID chains to the owner's domain CA but carries no id-kp-cmcRA: the precondition of the attack", () => {
    expect(ldevid.der).not.toEqual(sys.network.pki.registrar.cert.der);
    expect(domainCa.der).toEqual(sys.network.pki.domainCa.cert.der);
    expect(ldevid.extendedKeyUsage ?? []).not.toContain(Oid.cmcRA);
    expect(sys.network.pki.registrar.cert.extendedKeyUsage).toContain(Oid.cmcRA);
  });

  it('the MASA refuses the request signed by the LDevID (x5c [LDevID, domain CA]), and issues nothing', async () => {
    const auditBefore = await sys.manufacturer.db
      .selectFrom('masa_audit')
      .selectAll()
      .orderBy('id')
      .execute();
    const { rvr, nonce } = registrarRequestForB(ldevid, ldevidKey, domainCa);
    expect(await refusal(rvr)).toEqual({ code: 'ERR_VOUCHER_REQUEST_NOT_RA', status: 403 });

    expect(
      await sys.manufacturer.db
        .selectFrom('masa_nonces')
        .selectAll()
        .where('serial', '=', victim.serial)
        .execute(),
    ).toEqual([]);
    expect(
      await sys.manufacturer.db
        .selectFrom('masa_nonces')
        .selectAll()
        .where('nonce', '=', nonce)
        .execute(),
    ).toEqual([]);
    const audit = await sys.manufacturer.db
      .selectFrom('masa_audit')
      .selectAll()
      .orderBy('id')
      .execute();
    const added = audit.slice(auditBefore.length);
    expect(added.map((r) => [r.action, r.outcome, r.code])).toEqual([
      ['requestvoucher', 'refused', 'ERR_VOUCHER_REQUEST_NOT_RA'],
    ]);
    expect(audit.filter((r) => r.subject === victim.serial && r.outcome === 'ok')).toEqual([]);
    // Nothing about B reached the network either.
    expect(
      await sys.network.db
        .selectFrom('net_devices')
        .selectAll()
        .where('serial', '=', victim.serial)
        .execute(),
    ).toEqual([]);
  });

  it('the LDevID alone in x5c (the single-certificate form) is refused the same way', async () => {
    const { rvr } = registrarRequestForB(ldevid, ldevidKey, undefined);
    expect(await refusal(rvr)).toEqual({ code: 'ERR_VOUCHER_REQUEST_NOT_RA', status: 403 });
    expect(
      await sys.manufacturer.db
        .selectFrom('masa_nonces')
        .selectAll()
        .where('serial', '=', victim.serial)
        .execute(),
    ).toEqual([]);
  });

  it("the same request made with the real registrar's certificate and key gets a voucher for B", async () => {
    const registrar = sys.network.pki.registrar;
    const { rvr, nonce } = registrarRequestForB(registrar.cert, registrar.key, domainCa);
    const voucher = await masa.requestVoucher(sys.manufacturerUrl, rvr);
    const v = verifyVoucher(sys.ctx.crypto, voucher, {
      masaAnchors: [sys.manufacturer.pki.masaCa.cert],
      serialNumber: victim.serial,
      nonce,
      at: new Date(),
      idevid: victim.id.idevid,
    });
    expect(v.pinnedDomainCert.der).toEqual(domainCa.der);
    expect(v.artifact.body.assertion).toBe('proximity');
    expect(
      await sys.manufacturer.db
        .selectFrom('masa_nonces')
        .select('nonce')
        .where('serial', '=', victim.serial)
        .execute(),
    ).toEqual([{ nonce }]);
  });

  it('B still onboards through the real registrar afterwards', async () => {
    const report = await victim.agent.onboard(sys.registrarUrl);
    expect(report.networkOwner.id).toBe(sys.network.owner.id);
  });
});
