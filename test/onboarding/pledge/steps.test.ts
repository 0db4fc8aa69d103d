/**
 * The device's steps one at a time, each on a channel to the registrar in memory: what each
 * returns, and the checks of steps 9 and 15 on their own.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { softwareKeyStore } from '../../../src/adapters/crypto/software-key-store.js';
import {
  openBirthCredentials,
  type PledgeIdentity,
} from '../../../src/onboarding/pledge/identity.js';
import { enterOnboardingMode } from '../../../src/onboarding/pledge/step-02-onboarding-mode.js';
import { trustedIntroduction } from '../../../src/onboarding/pledge/step-05-trusted-introduction.js';
import { receiveDeclaration } from '../../../src/onboarding/pledge/step-06-declaration.js';
import { authenticateDevice } from '../../../src/onboarding/pledge/step-07-device-authentication.js';
import {
  authenticateNetwork,
  authorizeNetworkOwner,
} from '../../../src/onboarding/pledge/step-09-network-authentication.js';
import { establishSecureChannel } from '../../../src/onboarding/pledge/step-10-secure-channel.js';
import { exchangeAppBootstrap } from '../../../src/onboarding/pledge/step-14-app-bootstrap.js';
import {
  acceptLdevid,
  estDomainCa,
  provisionCredentials,
  reportEnrollment,
} from '../../../src/onboarding/pledge/step-15-provisioning.js';
import { parseCertificate } from '../../../src/protocols/x509/certificate.js';
import { caProfile, registrarProfile } from '../../../src/protocols/x509/profiles.js';
import { crypto, issue, T0 } from '../../support/pki.js';
import { codeOf } from '../../support/errors.js';
import {
  FakeRegistrar,
  fixedClock,
  pledgeWorld,
  type PledgeWorld,
} from '../../support/fake-registrar.js';

const ctx = { crypto, clock: fixedClock, keys: softwareKeyStore };
const inYears = (n: number) => new Date(T0.getTime() + n * 365 * 86_400_000);

describe("the pledge's steps", () => {
  let world: PledgeWorld;
  let identity: PledgeIdentity;
  beforeAll(async () => {
    world = await pledgeWorld();
    identity = await openBirthCredentials(ctx, world.birth);
  });

  it('run in order on one channel, each returning what the next needs', async () => {
    const registrar = new FakeRegistrar(world);
    const channel = await enterOnboardingMode(
      registrar.connect,
      'https://registrar.example',
      identity,
      { requestTimeoutMs: 1000 },
    );
    expect(registrar.connections[0]!.limits).toEqual({ requestTimeoutMs: 1000 });

    const intro = await trustedIntroduction(ctx, channel, identity, {});
    expect(intro.registrarCert.der).toEqual(world.registrar.cert.der);
    expect(intro.pinned.der).toEqual(world.domainCa.cert.der);
    expect(intro.nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);

    let asked = 0;
    const declaration = await receiveDeclaration(ctx, channel, identity, async () => {
      asked++;
      return undefined;
    });
    expect(asked).toBe(1);
    expect(declaration.latest.owner.id).toBe(world.owner.id);

    const device = await authenticateDevice(ctx, channel, identity, intro);
    // The registrar verified the status against this channel's exporter and the voucher's nonce.
    expect(registrar.statuses).toBe(1);

    authenticateNetwork(ctx, intro.registrarCert, intro.pinned);
    const owner = authorizeNetworkOwner(ctx, intro.pinned, declaration, identity.serialNumber);
    expect(owner).toEqual({ id: world.owner.id, name: 'Owner' });

    const secure = establishSecureChannel(channel, { device, network: owner });
    const app = await exchangeAppBootstrap(secure, identity);
    expect(app.applicationUrl).toBe('https://app.example');

    const { credentials, ldevid } = await provisionCredentials(ctx, secure, {
      serialNumber: identity.serialNumber,
      pinned: intro.pinned,
      networkOwner: owner,
      declaration,
      app,
    });
    expect(ldevid.subjectSerialNumber).toBe(world.serialNumber);
    expect(
      (await softwareKeyStore.importPkcs8(Buffer.from(credentials.ldevidKey, 'base64'))).spki,
    ).toEqual(ldevid.spki);
    expect(credentials.onboardedAt).toBe(fixedClock.now().toISOString());
    await reportEnrollment(secure);
    await channel.close();
    expect(registrar.requests.map((r) => r.path).at(-1)).toBe('/.well-known/brski/enrollstatus');
  });

  it('step 9 refuses a registrar certificate that does not chain to the pinned CA, and one that is not an RA', async () => {
    const otherCa = await issue(
      caProfile({ name: 'Impostor CA', notBefore: T0, notAfter: inYears(10) }),
    );
    const impostor = await issue(
      registrarProfile({
        name: 'Owner Registrar',
        dnsNames: [],
        notBefore: T0,
        notAfter: inYears(2),
      }),
      otherCa,
    );
    expect(codeOf(() => authenticateNetwork(ctx, impostor.cert, world.domainCa.cert))).toBe(
      'ERR_NETWORK_UNTRUSTED',
    );
    expect(codeOf(() => authenticateNetwork(ctx, world.idevid.cert, world.domainCa.cert))).toBe(
      'ERR_NETWORK_UNTRUSTED',
    );
    const notRa = world.mfg.idevidCa;
    expect(
      codeOf(() => authenticateNetwork(ctx, world.idevid.cert, notRa.cert, { requireRa: true })),
    ).toBe('ERR_NETWORK_NOT_REGISTRAR');
    expect(
      codeOf(() => authenticateNetwork(ctx, world.idevid.cert, notRa.cert, { requireRa: false })),
    ).toBe('OK');
  });

  it('step 15 takes the CA that issued a pinned registrar certificate from EST cacerts (RFC 8995 section 5.5)', () => {
    const pinned = world.registrar.cert;
    const unrelated = world.mfg.root.cert.der;
    expect(estDomainCa(ctx, [unrelated, world.domainCa.cert.der], pinned).der).toEqual(
      world.domainCa.cert.der,
    );
    expect(codeOf(() => estDomainCa(ctx, [unrelated], pinned))).toBe('ERR_NETWORK_UNTRUSTED');
    expect(codeOf(() => estDomainCa(ctx, [unrelated], world.domainCa.cert))).toBe(
      'ERR_NETWORK_UNTRUSTED',
    );
  });

  it('step 15 accepts an LDevID only for the key made here and this serial number', async () => {
    const registrar = new FakeRegistrar(world);
    const key = await softwareKeyStore.generateP256();
    const other = await softwareKeyStore.generateP256();
    const expected = { domainCa: world.domainCa.cert, key, serialNumber: world.serialNumber };
    const good = registrar.issueLdevid({ spki: key.spki, serialNumber: world.serialNumber });
    expect(acceptLdevid(ctx, [good], expected).der).toEqual(good);
    expect(
      codeOf(() =>
        acceptLdevid(
          ctx,
          [registrar.issueLdevid({ spki: other.spki, serialNumber: world.serialNumber })],
          expected,
        ),
      ),
    ).toBe('ERR_NETWORK_LDEVID_MISMATCH');
    expect(
      codeOf(() =>
        acceptLdevid(
          ctx,
          [registrar.issueLdevid({ spki: key.spki, serialNumber: 'SOMEONE-ELSE' })],
          expected,
        ),
      ),
    ).toBe('ERR_NETWORK_LDEVID_MISMATCH');
    expect(codeOf(() => acceptLdevid(ctx, [good, good], expected))).toBe('ERR_CERT_MALFORMED');
    expect(parseCertificate(good).subjectSerialNumber).toBe(world.serialNumber);
  });
});
