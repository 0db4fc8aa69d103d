/**
 * The device's onboarding, step by step, against a registrar in memory (test/support/
 * fake-registrar.ts): no TLS, real artifacts. The happy path makes the same requests, in the
 * same order, as over TLS (test/e2e/steps-walk.test.ts); every refusal leaves the secure store
 * holding exactly the birth credentials, and the channel closed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../../../src/core/errors.js';
import { SecureStoreEntry } from '../../../src/core/credentials.js';
import { partyIdFromSpki } from '../../../src/core/party.js';
import { toBase64, utf8 } from '../../../src/core/bytes.js';
import { silentLogger } from '../../../src/adapters/log/logger.js';
import { MemorySecureStore } from '../../../src/adapters/secure-store/memory-store.js';
import { generateP256Key } from '../../../src/adapters/crypto/node-crypto.js';
import { DeviceAgent } from '../../../src/roles/device/agent.js';
import { parseCertificateBase64 } from '../../../src/protocols/x509/certificate.js';
import {
  caProfile,
  ldevidProfile,
  registrarProfile,
} from '../../../src/protocols/x509/profiles.js';
import { verifyChain } from '../../../src/protocols/x509/chain.js';
import { crypto, issue, T0 } from '../../support/pki.js';
import { errorCode } from '../../support/wire.js';
import {
  FakeRegistrar,
  declarationChain,
  fixedClock,
  pledgeWorld,
  type PledgeWorld,
  type RegistrarScript,
} from '../../support/fake-registrar.js';

const ctx = { crypto, clock: fixedClock, logger: silentLogger };
const inYears = (n: number) => new Date(T0.getTime() + n * 365 * 86_400_000);

/** The requests of a whole onboarding, in order. */
const ONBOARDING = [
  'POST /.well-known/brski/requestvoucher',
  'GET /.well-known/airlock/declaration',
  'POST /.well-known/brski/voucher_status',
  'POST /.well-known/airlock/app-bootstrap',
  'GET /.well-known/est/cacerts',
  'POST /.well-known/est/simpleenroll',
  'POST /.well-known/airlock/wifi',
  'POST /.well-known/brski/enrollstatus',
];

describe('the pledge onboards over a PledgeChannel', () => {
  let world: PledgeWorld;
  beforeAll(async () => {
    world = await pledgeWorld();
  });

  async function deviceWith(script: RegistrarScript = {}) {
    const store = new MemorySecureStore();
    await store.write(SecureStoreEntry.birth, utf8(JSON.stringify(world.birth)));
    const registrar = new FakeRegistrar(world, script);
    const agent = new DeviceAgent(store, ctx, { connector: registrar.connect });
    return { store, registrar, agent };
  }

  /** Onboarding fails with `code`; the store holds the birth credentials only; the channel is closed. */
  async function refused(script: RegistrarScript, code: string) {
    const { agent, store, registrar } = await deviceWith(script);
    expect(await errorCode(() => agent.onboard('https://registrar.example'))).toBe(code);
    expect(await store.names()).toEqual([SecureStoreEntry.birth]);
    expect(registrar.open).toBe(0);
    return registrar;
  }

  it("performs steps 2, 5, 6, 7, 9, 10, 14, 15 with the registrar's requests in order, and stores what it accepted", async () => {
    const { agent, store, registrar } = await deviceWith();
    const report = await agent.onboard('https://registrar.example');
    expect(report.steps.map((s) => s.step)).toEqual([2, 5, 6, 7, 9, 10, 14, 15]);
    expect(report.steps.every((s) => s.at === fixedClock.now().toISOString())).toBe(true);
    expect(registrar.requests.map((r) => `${r.method} ${r.path}`)).toEqual(ONBOARDING);
    expect(registrar.statuses).toBe(1);
    expect(registrar.open).toBe(0);
    // Step 2 presented the IDevID chain, with no anchors: the channel is provisional.
    expect(registrar.connections).toHaveLength(1);
    expect(registrar.connections[0]!.credentials.chain).toEqual([
      world.idevid.cert.der,
      world.mfg.idevidCa.cert.der,
    ]);
    expect(registrar.connections[0]!.credentials.key.spki).toEqual(world.idevid.cert.spki);
    expect(registrar.connections[0]!.trustAnchors).toBeUndefined();

    expect(report.networkOwner).toEqual({ id: world.owner.id, name: 'Owner' });
    expect(report.ssid).toBe('airlock-test');
    expect(await store.names()).toEqual([SecureStoreEntry.birth, SecureStoreEntry.onboarding]);
    const creds = (await agent.onboardingCredentials())!;
    const ldevid = parseCertificateBase64(creds.ldevid);
    expect(ldevid.serial).toBe(report.ldevidSerial);
    expect(ldevid.subjectSerialNumber).toBe(world.serialNumber);
    verifyChain(crypto, { leaf: ldevid, anchors: [world.domainCa.cert], at: fixedClock.now() });
    expect(creds.domainCa).toBe(toBase64(world.domainCa.cert.der));
    expect(creds.declaration.sequence).toBe(1);
    expect(creds.app.applicationUrl).toBe('https://app.example');
  });

  it('refuses an impostor registrar whose certificate does not chain to the pinned domain CA: ERR_NETWORK_UNTRUSTED', async () => {
    const otherCa = await issue(
      caProfile({ name: 'Impostor CA', notBefore: T0, notAfter: inYears(10) }),
    );
    const impostor = await issue(
      registrarProfile({
        name: 'Owner Registrar',
        dnsNames: ['registrar.example'],
        notBefore: T0,
        notAfter: inYears(2),
      }),
      otherCa,
    );
    const registrar = await refused({ serverCert: impostor.cert }, 'ERR_NETWORK_UNTRUSTED');
    // The device authenticated itself (step 7) before judging the network (step 9), and sent nothing after.
    expect(registrar.requests.map((r) => `${r.method} ${r.path}`)).toEqual(ONBOARDING.slice(0, 3));
  });

  it("refuses a domain certificate that is not a registrar's (no id-kp-cmcRA): ERR_NETWORK_NOT_REGISTRAR", async () => {
    const peer = await issue(
      ldevidProfile({
        serialNumber: 'OTHER-DEVICE',
        domain: 'Owner',
        notBefore: T0,
        notAfter: inYears(1),
      }),
      world.domainCa,
    );
    await refused({ serverCert: peer.cert }, 'ERR_NETWORK_NOT_REGISTRAR');
  });

  it('refuses a voucher with another nonce: ERR_VOUCHER_NONCE_MISMATCH, and sends nothing more', async () => {
    const registrar = await refused(
      { voucher: (v) => ({ ...v, nonce: 'bm90IHRoaXMgbm9uY2U=' }) },
      'ERR_VOUCHER_NONCE_MISMATCH',
    );
    expect(registrar.requests.map((r) => r.path)).toEqual(['/.well-known/brski/requestvoucher']);
  });

  it('refuses a voucher signed by a key outside the MASA CA: ERR_VOUCHER_SIGNER_UNTRUSTED', async () => {
    // Another manufacturer's MASA signs: the voucher chains to an anchor this device was not born with.
    const { store } = await deviceWith();
    const other = await pledgeWorld();
    const registrar = new FakeRegistrar({
      ...world,
      mfg: { ...world.mfg, masaSigner: other.mfg.masaSigner },
    });
    const agent = new DeviceAgent(store, ctx, { connector: registrar.connect });
    expect(await errorCode(() => agent.onboard('https://registrar.example'))).toBe(
      'ERR_VOUCHER_SIGNER_UNTRUSTED',
    );
    expect(await store.names()).toEqual([SecureStoreEntry.birth]);
    expect(registrar.open).toBe(0);
  });

  it('refuses a network whose owner neither owns the device nor is authorized: ERR_NETWORK_NOT_AUTHORIZED', async () => {
    const someoneElse = { id: partyIdFromSpki(crypto, new Uint8Array([7])), name: 'Someone else' };
    await refused(
      { declarationChain: declarationChain(world, someoneElse) },
      'ERR_NETWORK_NOT_AUTHORIZED',
    );
  });

  it('refuses an LDevID for another key: ERR_NETWORK_LDEVID_MISMATCH', async () => {
    const registrar = await refused(
      {
        ldevid: async (r) =>
          registrarFor(world).issueLdevid({ ...r, spki: generateP256Key().spki }),
      },
      'ERR_NETWORK_LDEVID_MISMATCH',
    );
    // Refused before the Wi-Fi credentials were asked for.
    expect(registrar.requests.at(-1)!.path).toBe('/.well-known/est/simpleenroll');
  });

  it('refuses an LDevID that names another device: ERR_NETWORK_LDEVID_MISMATCH', async () => {
    await refused(
      {
        ldevid: async (r) =>
          registrarFor(world).issueLdevid({ ...r, serialNumber: 'SOMEONE-ELSE' }),
      },
      'ERR_NETWORK_LDEVID_MISMATCH',
    );
  });

  it('refuses an LDevID from another CA: ERR_CERT_UNTRUSTED', async () => {
    const otherCa = await issue(
      caProfile({ name: 'Owner Domain CA', notBefore: T0, notAfter: inYears(10) }),
    );
    await refused(
      { ldevid: async (r) => registrarFor(world).issueLdevid(r, otherCa) },
      'ERR_CERT_UNTRUSTED',
    );
  });

  it('refuses EST cacerts without the pinned domain CA: ERR_NETWORK_UNTRUSTED', async () => {
    const otherCa = await issue(
      caProfile({ name: 'Owner Domain CA', notBefore: T0, notAfter: inYears(10) }),
    );
    await refused({ cacerts: [otherCa.cert.der] }, 'ERR_NETWORK_UNTRUSTED');
  });

  it('stores nothing when the registrar refuses the enrollment status, though everything verified', async () => {
    const registrar = await refused(
      { refuseEnrollStatus: new AirlockError('ERR_REGISTRAR_SEQUENCE', 'superseded') },
      'ERR_REGISTRAR_SEQUENCE',
    );
    expect(registrar.requests.map((r) => `${r.method} ${r.path}`)).toEqual(ONBOARDING);
  });

  it('refuses a declaration older than the one accepted at the last onboarding: ERR_DECLARATION_STALE', async () => {
    const { agent, store } = await deviceWith();
    await agent.onboard('https://registrar.example');
    const before = await store.read(SecureStoreEntry.onboarding);
    // Only the minting link: sequence 0, behind the accepted sequence 1.
    const stale = new FakeRegistrar(world, {
      declarationChain: declarationChain(world).slice(0, 1),
    });
    const again = new DeviceAgent(store, ctx, { connector: stale.connect });
    expect(await errorCode(() => again.onboard('https://registrar.example'))).toBe(
      'ERR_DECLARATION_STALE',
    );
    expect(await store.read(SecureStoreEntry.onboarding)).toEqual(before);
  });

  it('a corrupt birth key is ERR_SECURE_STORE, before any channel is opened', async () => {
    const store = new MemorySecureStore();
    await store.write(
      SecureStoreEntry.birth,
      utf8(JSON.stringify({ ...world.birth, idevidKey: 'AAAA' })),
    );
    const registrar = new FakeRegistrar(world);
    const agent = new DeviceAgent(store, ctx, { connector: registrar.connect });
    expect(await errorCode(() => agent.onboard('https://registrar.example'))).toBe(
      'ERR_SECURE_STORE',
    );
    expect(registrar.connections).toHaveLength(0);
  });
});

/** A registrar of `world`, for its issuer. */
function registrarFor(world: PledgeWorld): FakeRegistrar {
  return new FakeRegistrar(world);
}
