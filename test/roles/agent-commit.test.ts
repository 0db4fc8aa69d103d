/**
 * The device agent keeps only live credentials: it commits what it received to its secure
 * store only once the registrar has accepted it (onboarding: enrollstatus answered 2xx;
 * renewal: the new LDevID verified), and otherwise leaves the store exactly as it was.
 *
 * The race it closes: two copies of one device (same birth credentials) onboard at once. The
 * later one's LDevID revokes the earlier one's and its PSK retires the earlier PSK, so the
 * loser's enrollment status is refused; it must not keep the revoked LDevID or retired PSK.
 * The interleaving is made deterministic by running the winner inside the loser's exchange.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../../src/core/errors.js';
import { SecureStoreEntry } from '../../src/core/credentials.js';
import { FileSecureStore } from '../../src/adapters/secure-store/file-store.js';
import { DeviceAgent } from '../../src/roles/device/agent.js';
import { fileMeasuredBoot } from '../../src/adapters/device/measured-boot.js';
import { parseCertificateBase64 } from '../../src/protocols/x509/certificate.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { errorCode } from '../support/wire.js';

describe('the device agent commits only credentials the registrar accepted', () => {
  let sys: TestSystem;
  const restore: Array<() => void> = [];
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterEach(() => {
    while (restore.length) restore.pop()!();
  });
  afterAll(async () => sys?.close());

  /** Replaces one registrar handler for the rest of the test. */
  function intercept<K extends 'enrollStatus' | 'wifiCredentials'>(
    name: K,
    replacement: (original: (typeof sys.network.registrar)[K]) => (typeof sys.network.registrar)[K],
  ): void {
    const registrar = sys.network.registrar;
    const original = registrar[name].bind(registrar) as (typeof registrar)[K];
    registrar[name] = replacement(original);
    restore.push(() => {
      registrar[name] = original;
    });
  }

  const sealedOnboarding = (storeDir: string) => {
    const file = path.join(storeDir, `${SecureStoreEntry.onboarding}.sealed`);
    return fs.existsSync(file) ? fs.readFileSync(file) : undefined;
  };
  const ldevidSerial = async (agent: DeviceAgent) => {
    const c = await agent.onboardingCredentials();
    return c ? parseCertificateBase64(c.ldevid).serial : undefined;
  };

  it('a refused enrollment status leaves a new device with nothing but its birth credentials', async () => {
    const { agent, serial } = await sys.newDevice();
    intercept('enrollStatus', () => async () => {
      throw new AirlockError('ERR_DEVICE_STATE', 'refused for the test');
    });
    expect(await errorCode(() => agent.onboard(sys.registrarUrl))).toBe('ERR_DEVICE_STATE');
    // The registrar did issue an LDevID; the device did not keep it.
    expect((await sys.network.inventory.certificates(serial)).length).toBe(1);
    expect(await agent.store.names()).toEqual([SecureStoreEntry.birth]);
    expect(await agent.onboardingCredentials()).toBeUndefined();
  });

  it('the losing copy of a device keeps its previous onboarding exactly; the revoked LDevID is not stored', async () => {
    const { agent, serial, storeDir, firmware } = await sys.newDevice();
    await agent.onboard(sys.registrarUrl);
    const previous = await agent.onboardingCredentials();
    const previousSealed = sealedOnboarding(storeDir)!;
    // A second copy of the same device (its store copied), onboarding at the same time.
    const copyDir = `${storeDir}-copy`;
    fs.cpSync(storeDir, copyDir, { recursive: true });
    const winner = new DeviceAgent(await FileSecureStore.open(copyDir), sys.ctx, {
      measuredBoot: fileMeasuredBoot(firmware),
    });

    let winnerRan = false;
    intercept('wifiCredentials', (original) => async (ch) => {
      const issued = await original(ch);
      if (!winnerRan) {
        winnerRan = true;
        await winner.onboard(sys.registrarUrl);
      }
      return issued;
    });
    expect(await errorCode(() => agent.onboard(sys.registrarUrl))).toBe('ERR_REGISTRAR_SEQUENCE');
    expect(winnerRan).toBe(true);

    const certs = await sys.network.inventory.certificates(serial);
    const live = certs.filter((c) => c.revoked_at === null).map((c) => c.serial);
    const winnerSerial = await ldevidSerial(winner);
    expect(live).toEqual([winnerSerial]);
    expect((await sys.network.inventory.device(serial)).ldevid_serial).toBe(winnerSerial);
    // Three LDevIDs: the first onboarding's, the loser's (revoked by the winner's) and the winner's.
    expect(certs.length).toBe(3);
    const losers = certs
      .map((c) => c.serial)
      .filter((s) => s !== winnerSerial && s !== parseCertificateBase64(previous!.ldevid).serial);
    expect(losers.length).toBe(1);
    expect(await ldevidSerial(agent)).not.toBe(losers[0]);
    // The losing store is byte for byte what it was: the previous onboarding entry untouched.
    expect(sealedOnboarding(storeDir)!.equals(previousSealed)).toBe(true);
    expect(await agent.onboardingCredentials()).toEqual(previous);
    expect(await agent.store.names()).toEqual(
      expect.arrayContaining([SecureStoreEntry.birth, SecureStoreEntry.onboarding]),
    );
    expect((await agent.store.names()).length).toBe(2);
  });

  it('two agents over one store directory: the store ends with the live LDevID, never the revoked one', async () => {
    const { agent, serial, storeDir, firmware } = await sys.newDevice();
    const twin = new DeviceAgent(await FileSecureStore.open(storeDir), sys.ctx, {
      measuredBoot: fileMeasuredBoot(firmware),
    });
    let twinRan = false;
    intercept('wifiCredentials', (original) => async (ch) => {
      const issued = await original(ch);
      if (!twinRan) {
        twinRan = true;
        await twin.onboard(sys.registrarUrl);
      }
      return issued;
    });
    expect(await errorCode(() => agent.onboard(sys.registrarUrl))).toBe('ERR_REGISTRAR_SEQUENCE');
    const certs = await sys.network.inventory.certificates(serial);
    expect(certs.length).toBe(2);
    const live = certs.filter((c) => c.revoked_at === null);
    expect(live.length).toBe(1);
    expect(await ldevidSerial(agent)).toBe(live[0]!.serial);
    expect(await ldevidSerial(twin)).toBe(live[0]!.serial);
  });

  it('an LDevID that names another device is refused at onboarding and at renewal, storing nothing', async () => {
    const other = await sys.newDevice();
    const { agent, serial, storeDir } = await sys.newDevice();
    const credentials = sys.network.credentials;
    const sign = credentials.signLdevid.bind(credentials);
    credentials.signLdevid = (_serial, spki) => sign(other.serial, spki);
    restore.push(() => {
      credentials.signLdevid = sign;
    });

    expect(await errorCode(() => agent.onboard(sys.registrarUrl))).toBe(
      'ERR_NETWORK_LDEVID_MISMATCH',
    );
    expect(await agent.store.names()).toEqual([SecureStoreEntry.birth]);

    restore.pop()!();
    await agent.onboard(sys.registrarUrl);
    const before = sealedOnboarding(storeDir)!;
    credentials.signLdevid = (_serial, spki) => sign(other.serial, spki);
    restore.push(() => {
      credentials.signLdevid = sign;
    });
    expect(await errorCode(() => agent.renew(sys.registrarUrl))).toBe(
      'ERR_NETWORK_LDEVID_MISMATCH',
    );
    expect(sealedOnboarding(storeDir)!.equals(before)).toBe(true);
    expect(
      parseCertificateBase64((await agent.onboardingCredentials())!.ldevid).subjectSerialNumber,
    ).toBe(serial);
  });

  it('renewal stores the new LDevID once verified, for this device', async () => {
    const { agent, serial } = await sys.newDevice();
    await agent.onboard(sys.registrarUrl);
    const r = await agent.renew(sys.registrarUrl);
    const stored = parseCertificateBase64((await agent.onboardingCredentials())!.ldevid);
    expect(stored.serial).toBe(r.ldevidSerial);
    expect(stored.subjectSerialNumber).toBe(serial);
  });
});
