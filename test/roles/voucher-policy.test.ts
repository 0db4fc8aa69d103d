/**
 * What the MASA puts in a voucher, and what the registrar and the pledge require of it,
 * against running roles: assertion (proximity/logged, a configurable minimum), created-on and
 * clock skew, idevid-issuer, the single-certificate registrar request that pins the registrar
 * certificate, and the authority-only MASA URL.
 */
import * as path from 'node:path';
import { decodeJws } from '../../src/protocols/jws/json.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64 } from '../../src/core/bytes.js';
import { partyIdFromSpki, type Party } from '../../src/core/party.js';
import type { Clock } from '../../src/core/ports.js';
import { MemorySecureStore } from '../../src/adapters/secure-store/memory-store.js';
import { HttpMasaClient, type MasaClient } from '../../src/adapters/http/masa-client.js';
import { signCompact } from '../../src/protocols/jws/compact.js';
import { decodeVoucher, decodeVoucherRequest } from '../../src/protocols/voucher/artifact.js';
import { authorityKeyIdentifier } from '../../src/protocols/voucher/idevid-issuer.js';
import {
  signPledgeVoucherRequest,
  verifyPledgeVoucherRequest,
  type VerifiedPledgeVoucherRequest,
} from '../../src/protocols/voucher/pledge-voucher-request.js';
import {
  signRegistrarVoucherRequest,
  verifyRegistrarVoucherRequest,
} from '../../src/protocols/voucher/registrar-voucher-request.js';
import {
  signVoucher,
  verifyVoucher,
  type VoucherPolicy,
} from '../../src/protocols/voucher/voucher.js';
import type { Certificate } from '../../src/protocols/x509/certificate.js';
import { DeviceAgent } from '../../src/roles/device/agent.js';
import { Masa, type MasaConfig } from '../../src/roles/manufacturer/masa.js';
import { Network } from '../../src/roles/network/index.js';
import type { NetworkConfig } from '../../src/roles/network/defaults.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { UNATTESTED_ALLOWED } from '../support/policies.js';
import {
  connectAs,
  errorCode,
  identityOf,
  pledgeVoucherRequest,
  postVoucherRequest,
  randomKek,
  tempDir,
  type DeviceIdentity,
} from '../support/wire.js';

const MINUTE = 60_000;
const shifted = (ms: number): Clock => ({ now: () => new Date(Date.now() + ms) });
const nonce = () => toBase64(globalThis.crypto.getRandomValues(new Uint8Array(16)));

describe('voucher policy, against running roles', () => {
  let sys: TestSystem;
  let masaClient: HttpMasaClient;
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    // Voucher policy is under test, not attestation: these devices are made by hand or are raw
    // protocol clients, and present no evidence (nor do the networks below have a verifier).
    sys = await startTestSystem({ policy: UNATTESTED_ALLOWED });
    masaClient = sys.masaClient();
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    await sys?.close();
  });

  async function network(
    ownerName: string,
    config: Partial<NetworkConfig> = {},
    client?: MasaClient,
  ): Promise<{ network: Network; url: string }> {
    const n = await Network.open({
      ctx: sys.ctx,
      databaseFile: path.join(tempDir('airlock-policy-'), 'network.db'),
      kek: randomKek(),
      manufacturers: [sys.manufacturer.trustBundle()],
      config: { ownerName, ...config },
      ...(client ? { masaClient: client } : {}),
    });
    closers.push(() => n.close());
    await n.authorization.apply(UNATTESTED_ALLOWED);
    const url = await n.serve(0);
    return { network: n, url };
  }

  async function deviceFor(
    owner: Party | undefined,
    opts: { policy?: Partial<VoucherPolicy>; clock?: Clock } = {},
  ) {
    const store = new MemorySecureStore();
    const birth = await sys.manufacturer.factory.mint(store, { model: 'sensor-s1' });
    if (owner) await sys.manufacturer.sell(birth.serialNumber, owner);
    const agent = new DeviceAgent(store, opts.clock ? { ...sys.ctx, clock: opts.clock } : sys.ctx, {
      voucherPolicy: opts.policy,
    });
    return { agent, serial: birth.serialNumber, id: identityOf(birth) };
  }

  /** A MASA over the manufacturer's own database and keys, with its own clock and policy. */
  function inProcessMasa(clock: Clock, config: Partial<MasaConfig> = {}): MasaClient {
    const m = sys.manufacturer;
    const masa = new Masa({ ...m.ctx, clock }, m.store, m.pki, m.declarations, config);
    return {
      requestVoucher: (_url, rvr) => masa.requestVoucher(rvr, 'in-process'),
      fetchDeclarationChain: (_url, serial) => m.declarations.chain(serial),
      sendOwnershipRequest: () => Promise.reject(new Error('unused')),
      close: async () => undefined,
    };
  }

  /** The registrar's request for `id`, by hand: the pledge request (body overridable) wrapped and signed by the real registrar. */
  function registrarRequest(
    id: DeviceIdentity,
    opts: {
      pledgeCreatedOn?: Date;
      createdOn?: Date;
      proximity?: Certificate | null;
      withCa?: boolean;
    } = {},
  ) {
    const n = nonce();
    const registrar = sys.network.pki.registrar;
    const body: Record<string, unknown> = {
      assertion: 'proximity',
      'serial-number': id.birth.serialNumber,
      nonce: n,
      'created-on': (opts.pledgeCreatedOn ?? new Date()).toISOString(),
    };
    if (opts.proximity !== null)
      body['proximity-registrar-cert'] = toBase64((opts.proximity ?? registrar.cert).der);
    const text = signCompact(
      sys.ctx.crypto,
      id.key,
      { alg: 'ES256', typ: 'voucher-jws+json', x5c: [toBase64(id.idevid.der)] },
      { 'ietf-voucher-request:voucher': body },
    );
    const pvr: VerifiedPledgeVoucherRequest = {
      artifact: decodeVoucherRequest(text),
      serialNumber: id.birth.serialNumber,
      nonce: n,
    };
    const chain = {
      registrarCert: registrar.cert,
      ...(opts.withCa === false ? {} : { domainCa: sys.network.pki.domainCa.cert }),
    };
    return {
      rvr: signRegistrarVoucherRequest(
        sys.ctx.crypto,
        registrar.key,
        chain,
        pvr,
        opts.createdOn ?? new Date(),
      ),
      nonce: n,
    };
  }

  const noncesOf = (serial: string) =>
    sys.manufacturer.db
      .selectFrom('masa_nonces')
      .selectAll()
      .where('serial', '=', serial)
      .execute();
  const netDevice = (n: Network, serial: string) =>
    n.db.selectFrom('net_devices').selectAll().where('serial', '=', serial).executeTakeFirst();

  describe('assertion', () => {
    it('the MASA asserts proximity when the pledge named the registrar that signed, sets idevid-issuer, and logs both', async () => {
      const { id, serial } = await deviceFor(sys.network.owner);
      const conn = await connectAs(sys.registrarUrl, id);
      try {
        const { pvr } = pledgeVoucherRequest(sys.ctx.crypto, id, conn);
        const res = await postVoucherRequest(conn, pvr);
        expect(res.status).toBe(200);
        const v = decodeVoucher(res.body).body;
        expect(v.assertion).toBe('proximity');
        // The IDevID's AuthorityKeyIdentifier is the IDevID CA's SubjectKeyIdentifier.
        const aki = authorityKeyIdentifier(id.idevid)!;
        expect(v['idevid-issuer']).toBe(toBase64(aki));
        const ski = sys.manufacturer.pki.idevidCa.cert.extensions.get('2.5.29.14')!;
        expect(toBase64(ski.subarray(2))).toBe(toBase64(aki));
      } finally {
        await conn.close();
      }
      // The voucher's record; the registrar's audit-log request, sent in the background, is recorded apart (action requestauditlog).
      const ok = await sys.manufacturer.db
        .selectFrom('masa_audit')
        .select('detail')
        .where('subject', '=', serial)
        .where('action', '=', 'requestvoucher')
        .where('outcome', '=', 'ok')
        .execute();
      expect(ok.map((r) => JSON.parse(r.detail!))).toEqual([
        expect.objectContaining({ assertion: 'proximity', pinned: 'domain-ca' }),
      ]);
    });

    it('without proximity-registrar-cert the voucher asserts logged; naming another registrar is refused and issues nothing', async () => {
      const { id, serial } = await deviceFor(sys.network.owner);
      const logged = registrarRequest(id, { proximity: null });
      expect(
        decodeVoucher(await masaClient.requestVoucher(sys.manufacturerUrl, logged.rvr)).body
          .assertion,
      ).toBe('logged');
      const other = registrarRequest(id, { proximity: sys.manufacturer.pki.tls.cert });
      expect(await errorCode(() => masaClient.requestVoucher(sys.manufacturerUrl, other.rvr))).toBe(
        'ERR_VOUCHER_REQUEST_PROXIMITY',
      );
      expect((await noncesOf(serial)).map((r) => r.nonce)).toEqual([logged.nonce]);
    });

    it('a registrar whose minimum is above what the MASA asserts refuses the voucher and records nothing', async () => {
      const { network: strict, url } = await network('Strict Owner', {
        minimumVoucherAssertion: 'verified',
      });
      const { agent, serial } = await deviceFor(strict.owner);
      expect(await errorCode(() => agent.onboard(url))).toBe('ERR_VOUCHER_ASSERTION');
      expect(await netDevice(strict, serial)).toBeUndefined();
      expect(await agent.onboardingCredentials()).toBeUndefined();
    });

    it('a registrar and a pledge that require proximity onboard: the MASA verified it', async () => {
      const { network: n, url } = await network('Proximity Owner', {
        minimumVoucherAssertion: 'proximity',
      });
      const { agent } = await deviceFor(n.owner, { policy: { minimumAssertion: 'proximity' } });
      expect((await agent.onboard(url)).networkOwner.id).toBe(n.owner.id);
    });

    it('a pledge whose minimum is above what the MASA asserts refuses the voucher and stores no credentials', async () => {
      const { agent } = await deviceFor(sys.network.owner, {
        policy: { minimumAssertion: 'verified' },
      });
      expect(await errorCode(() => agent.onboard(sys.registrarUrl))).toBe('ERR_VOUCHER_ASSERTION');
      expect(await agent.onboardingCredentials()).toBeUndefined();
    });
  });

  describe('created-on and clock skew', () => {
    it('the MASA refuses a registrar request, or a pledge request inside it, created beyond the skew, and issues nothing', async () => {
      const { id, serial } = await deviceFor(sys.network.owner);
      // An earlier onboarding's audit-log fetch (the registrar's, off the device's path) must not land in this count.
      await sys.network.registrar.idle();
      const auditBefore = (
        await sys.manufacturer.db.selectFrom('masa_audit').select('id').execute()
      ).length;
      for (const opts of [
        { createdOn: new Date(Date.now() + 10 * MINUTE) },
        { pledgeCreatedOn: new Date(Date.now() + 10 * MINUTE) },
      ]) {
        const { rvr } = registrarRequest(id, opts);
        expect(await errorCode(() => masaClient.requestVoucher(sys.manufacturerUrl, rvr))).toBe(
          'ERR_VOUCHER_REQUEST_NOT_YET_VALID',
        );
      }
      expect(await noncesOf(serial)).toEqual([]);
      const refused = (
        await sys.manufacturer.db
          .selectFrom('masa_audit')
          .select(['code', 'outcome'])
          .orderBy('id')
          .execute()
      ).slice(auditBefore);
      expect(refused.every((r) => r.outcome === 'refused')).toBe(true);
      expect(refused.map((r) => r.code)).toEqual([
        'ERR_VOUCHER_REQUEST_NOT_YET_VALID',
        'ERR_VOUCHER_REQUEST_NOT_YET_VALID',
      ]);
      // Within the 5-minute skew: accepted.
      const within = registrarRequest(id, {
        createdOn: new Date(Date.now() + 2 * MINUTE),
        pledgeCreatedOn: new Date(Date.now() + 2 * MINUTE),
      });
      expect(
        decodeVoucher(await masaClient.requestVoucher(sys.manufacturerUrl, within.rvr)).body[
          'serial-number'
        ],
      ).toBe(serial);
    });

    it('the registrar refuses a voucher from a MASA whose clock is ahead beyond the skew, and accepts one within it', async () => {
      const { network: ahead, url } = await network(
        'Ahead Owner',
        {},
        inProcessMasa(shifted(10 * MINUTE)),
      );
      const { agent, serial } = await deviceFor(ahead.owner);
      expect(await errorCode(() => agent.onboard(url))).toBe('ERR_VOUCHER_NOT_YET_VALID');
      expect(await netDevice(ahead, serial)).toBeUndefined();

      const { network: near, url: nearUrl } = await network(
        'Near Owner',
        {},
        inProcessMasa(shifted(2 * MINUTE)),
      );
      const ok = await deviceFor(near.owner);
      expect((await ok.agent.onboard(nearUrl)).serialNumber).toBe(ok.serial);
    });

    it('the pledge refuses a voucher created later than its clock plus its skew, and accepts it within the skew', async () => {
      const behind = shifted(-MINUTE);
      const strict = await deviceFor(sys.network.owner, {
        clock: behind,
        policy: { clockSkewSeconds: 0 },
      });
      expect(await errorCode(() => strict.agent.onboard(sys.registrarUrl))).toBe(
        'ERR_VOUCHER_NOT_YET_VALID',
      );
      expect(await strict.agent.onboardingCredentials()).toBeUndefined();
      const tolerant = await deviceFor(sys.network.owner, { clock: behind });
      expect((await tolerant.agent.onboard(sys.registrarUrl)).serialNumber).toBe(tolerant.serial);
    });
  });

  describe('idevid-issuer', () => {
    it('the registrar refuses a MASA-signed voucher that names another IDevID issuer, and records nothing', async () => {
      const m = sys.manufacturer;
      const wrongIssuer: MasaClient = {
        async requestVoucher(_url, rvr) {
          const at = new Date();
          const v = verifyRegistrarVoucherRequest(sys.ctx.crypto, rvr, {
            idevidAnchors: [m.pki.idevidCa.cert],
            at,
          });
          return signVoucher(sys.ctx.crypto, m.pki.masa.key, [m.pki.masa.cert], {
            serialNumber: v.serialNumber,
            nonce: v.nonce,
            pinnedDomainCert: v.domainCa!,
            createdOn: at,
            assertion: 'proximity',
            idevidIssuer: new Uint8Array(20).fill(7),
          });
        },
        fetchDeclarationChain: (_url, serial) => m.declarations.chain(serial),
        sendOwnershipRequest: () => Promise.reject(new Error('unused')),
        close: async () => undefined,
      };
      const { network: n, url } = await network('Issuer Owner', {}, wrongIssuer);
      const { agent, serial } = await deviceFor(n.owner);
      expect(await errorCode(() => agent.onboard(url))).toBe('ERR_VOUCHER_IDEVID_ISSUER');
      expect(await netDevice(n, serial)).toBeUndefined();
      expect(await agent.onboardingCredentials()).toBeUndefined();
    });
  });

  describe('registrar request with the registrar certificate alone', () => {
    it('is accepted; the registrar certificate identifies the domain and is what the voucher pins', async () => {
      const { network: solo, url } = await network('Solo Owner', {
        voucherRequestChain: 'registrar-only',
      });
      const registrarParty: Party = {
        id: partyIdFromSpki(sys.ctx.crypto, solo.pki.registrar.cert.spki),
        name: 'Solo registrar',
      };
      const { id, serial } = await deviceFor(registrarParty);
      const conn = await connectAs(url, id);
      try {
        const { pvr, nonce: n } = pledgeVoucherRequest(sys.ctx.crypto, id, conn);
        const res = await postVoucherRequest(conn, pvr);
        expect(res.status).toBe(200);
        const v = verifyVoucher(sys.ctx.crypto, res.body, {
          masaAnchors: [sys.manufacturer.pki.masaCa.cert],
          serialNumber: serial,
          nonce: n,
          at: new Date(),
          idevid: id.idevid,
        });
        expect(v.pinnedDomainCert.der).toEqual(solo.pki.registrar.cert.der);
      } finally {
        await conn.close();
      }
      expect((await netDevice(solo, serial))?.state).toBe('vouched');
      // The voucher's record; the registrar's audit-log request, sent in the background, is recorded apart (action requestauditlog).
      const ok = await sys.manufacturer.db
        .selectFrom('masa_audit')
        .select('detail')
        .where('subject', '=', serial)
        .where('action', '=', 'requestvoucher')
        .where('outcome', '=', 'ok')
        .execute();
      expect(ok.map((r) => JSON.parse(r.detail!))).toEqual([
        expect.objectContaining({ owner: registrarParty.id, pinned: 'registrar-cert' }),
      ]);
    });

    it("Airlock's pledge onboards on such a voucher: the pinned registrar certificate names the owner, EST cacerts the CA that issued it", async () => {
      const { network: solo, url } = await network('Solo Pledge Owner', {
        voucherRequestChain: 'registrar-only',
      });
      const registrarParty: Party = {
        id: partyIdFromSpki(sys.ctx.crypto, solo.pki.registrar.cert.spki),
        name: 'Solo registrar',
      };
      const { agent, serial } = await deviceFor(registrarParty);
      const report = await agent.onboard(url);
      expect(report.networkOwner.id).toBe(registrarParty.id);
      const held = (await agent.onboardingCredentials())!;
      expect(Buffer.from(held.domainCa, 'base64')).toEqual(Buffer.from(solo.pki.domainCa.cert.der));
      expect((await netDevice(solo, serial))?.state).toBe('onboarded');
    });

    it("then the domain CA is not the party: a device sold to the CA's owner is not authorized", async () => {
      const { network: solo, url } = await network('Solo CA Owner', {
        voucherRequestChain: 'registrar-only',
      });
      const { agent, serial } = await deviceFor(solo.owner);
      expect(await errorCode(() => agent.onboard(url))).toBe('ERR_MASA_NOT_AUTHORIZED');
      expect(await netDevice(solo, serial)).toBeUndefined();
    });

    it('a MASA configured with pinWhenNoCa: refuse refuses it and issues nothing', async () => {
      const { id, serial } = await deviceFor(sys.network.owner);
      const { rvr } = registrarRequest(id, { withCa: false });
      const refusing = inProcessMasa(shifted(0), { pinWhenNoCa: 'refuse' });
      expect(await errorCode(() => refusing.requestVoucher('', rvr))).toBe(
        'ERR_VOUCHER_REQUEST_MALFORMED',
      );
      expect(await noncesOf(serial)).toEqual([]);
    });
  });

  describe('prior-signed-voucher-request', () => {
    it("the registrar sends the base64 of the pledge request's bytes, and the MASA accepts a raw compact JWS too", async () => {
      const { id } = await deviceFor(sys.network.owner);
      const registrar = sys.network.pki.registrar;
      const n = nonce();
      const pvrText = signPledgeVoucherRequest(sys.ctx.crypto, id.key, id.idevid, {
        serialNumber: id.birth.serialNumber,
        nonce: n,
        createdOn: new Date(),
        proximityRegistrarCert: registrar.cert.der,
      });
      const pvr = verifyPledgeVoucherRequest(sys.ctx.crypto, pvrText, {
        tlsClientCert: id.idevid,
        registrarCert: registrar.cert,
      });
      const rvr = signRegistrarVoucherRequest(
        sys.ctx.crypto,
        registrar.key,
        { registrarCert: registrar.cert, domainCa: sys.network.pki.domainCa.cert },
        pvr,
        new Date(),
      );
      const prior = decodeVoucherRequest(rvr).body['prior-signed-voucher-request']!;
      expect(prior).toBe(Buffer.from(pvrText, 'utf8').toString('base64'));
      expect(prior).not.toContain('.');
      expect(
        decodeVoucher(await masaClient.requestVoucher(sys.manufacturerUrl, rvr)).body.nonce,
      ).toBe(n);

      // The legacy form: the compact JWS itself in the field.
      const n2 = nonce();
      const pvr2Text = signPledgeVoucherRequest(sys.ctx.crypto, id.key, id.idevid, {
        serialNumber: id.birth.serialNumber,
        nonce: n2,
        createdOn: new Date(),
        proximityRegistrarCert: registrar.cert.der,
      });
      const legacy = signCompact(
        sys.ctx.crypto,
        registrar.key,
        {
          alg: 'ES256',
          typ: 'voucher-jws+json',
          x5c: [toBase64(registrar.cert.der), toBase64(sys.network.pki.domainCa.cert.der)],
        },
        {
          'ietf-voucher-request:voucher': {
            'serial-number': id.birth.serialNumber,
            nonce: n2,
            'created-on': new Date().toISOString(),
            'prior-signed-voucher-request': decodeJws(pvr2Text).compact,
          },
        },
      );
      expect(
        decodeVoucher(await masaClient.requestVoucher(sys.manufacturerUrl, legacy)).body.nonce,
      ).toBe(n2);
    });
  });

  describe('MASA URL', () => {
    it('an IDevID with the authority-only form (host:port) onboards; a non-https one is ERR_IDEVID_INVALID before any MASA is asked', async () => {
      const cfg = sys.manufacturer.config;
      const original = cfg.publicUrl;
      const authority = new URL(original).host;
      try {
        cfg.publicUrl = authority;
        const good = await deviceFor(sys.network.owner);
        expect(good.id.idevid.masaUrl).toBe(authority);
        expect((await good.agent.onboard(sys.registrarUrl)).serialNumber).toBe(good.serial);

        cfg.publicUrl = `http://${authority}`;
        const bad = await deviceFor(sys.network.owner);
        expect(await errorCode(() => bad.agent.onboard(sys.registrarUrl))).toBe(
          'ERR_IDEVID_INVALID',
        );
        expect(
          await sys.manufacturer.db
            .selectFrom('masa_audit')
            .selectAll()
            .where('subject', '=', bad.serial)
            .execute(),
        ).toEqual([]);
        expect(await netDevice(sys.network, bad.serial)).toBeUndefined();
      } finally {
        cfg.publicUrl = original;
      }
    });
  });
});
