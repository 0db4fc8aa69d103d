/**
 * The registrar's steps on an in-memory store and a fake channel: SQLite ':memory:' through
 * the real repositories, the real credential issuer and trusted manufacturers, a MASA that
 * signs vouchers in-process, no TLS and no HTTP. A test file builds one fixture and closes it.
 */
import { networkStore } from '../../../src/adapters/store/network-repositories.js';
import { networkMigrations } from '../../../src/adapters/store/migrations/network.js';
import { openSqlite } from '../../../src/adapters/store/sqlite.js';
import type { NetworkDb } from '../../../src/adapters/store/schema.js';
import { Sealer } from '../../../src/adapters/crypto/seal.js';
import { generateP256Key } from '../../../src/adapters/crypto/node-crypto.js';
import { CredentialIssuer } from '../../../src/roles/network/credentials.js';
import {
  partyOfTrust,
  TrustedManufacturers,
  voucherAnchorsOf,
} from '../../../src/roles/network/manufacturers.js';
import type { AnyManufacturerTrust } from '../../../src/roles/shared/trust.js';
import type { RoleContext } from '../../../src/roles/shared/context.js';
import { runEndpoint, type Endpoint } from '../../../src/onboarding/registrar/pipeline.js';
import type {
  Channel,
  MasaPort,
  RegistrarContext,
} from '../../../src/onboarding/registrar/ports.js';
import { requestVoucher } from '../../../src/onboarding/registrar/step-05-trusted-introduction.js';
import type { EvidenceIn } from '../../../src/onboarding/registrar/step-03-attestation.js';
import { signPledgeVoucherRequest } from '../../../src/protocols/voucher/pledge-voucher-request.js';
import { verifyRegistrarVoucherRequest } from '../../../src/protocols/voucher/registrar-voucher-request.js';
import { signVoucherAs } from '../../../src/protocols/voucher/voucher.js';
import { VOUCHER_JWS_MEDIA_TYPE } from '../../../src/protocols/voucher/codec.js';
import { caProfile, registrarProfile } from '../../../src/protocols/x509/profiles.js';
import type { Certificate } from '../../../src/protocols/x509/certificate.js';
import { toBase64, toBase64Url, utf8 } from '../../../src/core/bytes.js';
import { crypto, device, issue, manufacturerPki, T0, type Pair } from '../../support/pki.js';
import { applyPolicyTo, UNATTESTED_ALLOWED } from '../../support/policies.js';

export const NOW = new Date(T0.getTime() + 86_400_000);
const clock = { now: () => NOW };

export type Fixture = Awaited<ReturnType<typeof registrarFixture>>;

export async function registrarFixture() {
  const maker = await manufacturerPki();
  const trust: AnyManufacturerTrust = {
    root: maker.root.cert,
    idevidCa: maker.idevidCa.cert,
    masaCa: maker.masaCa.cert,
    declarationsCa: maker.declarationsCa.cert,
  };
  const domainCa = await issue(
    caProfile({
      name: 'Test Domain CA',
      notBefore: T0,
      notAfter: new Date('2040-01-01T00:00:00Z'),
      pathLength: 0,
    }),
  );
  const registrar = await issue(
    registrarProfile({
      name: 'Test Registrar',
      dnsNames: ['registrar.example'],
      notBefore: T0,
      notAfter: new Date('2030-01-01T00:00:00Z'),
    }),
    domainCa,
  );
  const opened = await openSqlite<NetworkDb>(':memory:', networkMigrations);
  const store = networkStore(opened.db);
  // The steps are tested with pledges that do not attest: the policy admits them.
  await applyPolicyTo(store, UNATTESTED_ALLOWED);
  const pki = { domainCa, registrar };
  // The credential issuer uses the role's crypto and clock only.
  const roleCtx = { crypto, clock } as unknown as RoleContext;
  const credentials = new CredentialIssuer(roleCtx, store, pki, new Sealer(crypto.bytes(32)), {
    ownerName: 'Test Owner',
    ldevidValidityDays: 365,
  });
  const manufacturers = new TrustedManufacturers(crypto, [trust]);

  /** What the fake MASA does: sign for the domain it is asked by (or another), or fail. */
  const masaBehaviour = {
    pin: undefined as Certificate | undefined,
    fail: undefined as Error | undefined,
    asked: 0,
    auditLogs: 0,
  };
  const masa: MasaPort = {
    async voucher(_url, rvr, format) {
      masaBehaviour.asked++;
      if (masaBehaviour.fail) throw masaBehaviour.fail;
      const v = verifyRegistrarVoucherRequest(crypto, rvr.bytes, {
        mediaType: rvr.mediaType,
        idevidAnchors: [maker.idevidCa.cert],
        at: NOW,
        requireProximity: false,
      });
      const bytes = signVoucherAs(crypto, format, maker.masaSigner.key, [maker.masaSigner.cert], {
        serialNumber: v.serialNumber,
        nonce: v.nonce,
        pinnedDomainCert: masaBehaviour.pin ?? v.domainCa ?? v.registrarCert,
        createdOn: NOW,
        assertion: 'proximity',
      });
      return { mediaType: format, bytes };
    },
    async auditLog() {
      masaBehaviour.auditLogs++;
      return { version: '1', events: [], truncation: {} };
    },
  };
  const declarations = { chain: ['declaration-1', 'declaration-2'], fetched: [] as string[] };
  const background: Promise<void>[] = [];

  const ctx: RegistrarContext = {
    crypto,
    clock,
    store,
    pki,
    settings: {
      ssid: 'test-ssid',
      applicationUrl: 'https://app.example/',
      applicationTrustAnchor: 'PEM',
      voucherRequestChain: 'registrar-and-ca',
      minimumVoucherAssertion: 'logged',
      voucherClockSkewSeconds: 300,
    },
    manufacturers: {
      identify: (c, at) => manufacturers.identify(c, at),
      identifyVerified: (c, at) => manufacturers.identifyVerified(c, at),
      voucherAnchors: (t) => voucherAnchorsOf(t as AnyManufacturerTrust),
      partyOf: (t) => partyOfTrust(crypto, t as AnyManufacturerTrust),
    },
    masa,
    declarations: {
      async chainFor(serial) {
        declarations.fetched.push(serial);
        return declarations.chain;
      },
    },
    credentials,
    verifier: undefined,
    intent: undefined,
    issuedOn: new WeakMap(),
    background: (work) => void background.push(work),
  };

  let n = 0;
  /** A new device of the trusted manufacturer: its birth certificate and key. */
  const newDevice = async (idevidCa: Pair = maker.idevidCa) =>
    device(idevidCa, `SN-${++n}-${toBase64Url(crypto.bytes(3)).replace(/[-_]/g, 'x')}`);

  /** A fake channel: the client certificate, a fixed exporter value, a connection object. */
  const channel = (
    clientCert: Certificate | undefined,
    exporter = new Uint8Array(32).fill(7),
  ): Channel & { served: string[] } => {
    const served: string[] = [];
    return {
      clientCert,
      exporter: () => exporter,
      peer: '192.0.2.7',
      connection: {},
      identified: (s) => void served.push(s),
      served,
    };
  };

  const run = <In, Out>(endpoint: Endpoint<In, Out>, ch: Channel, input: In) =>
    runEndpoint(ctx, endpoint, ch, input);

  /** Steps 2 and 5 for `d` on `ch` (with `evidence`, steps 3 and 4 too): the pledge voucher request's nonce. */
  const vouch = async (d: Pair, ch: Channel, evidence?: EvidenceIn): Promise<string> => {
    const nonce = toBase64(crypto.bytes(16));
    const pvr = signPledgeVoucherRequest(crypto, d.key, d.cert, {
      serialNumber: d.cert.subjectSerialNumber!,
      nonce,
      createdOn: NOW,
      proximityRegistrarCert: registrar.cert.der,
    });
    await run(requestVoucher, ch, {
      request: { mediaType: VOUCHER_JWS_MEDIA_TYPE, bytes: utf8(pvr) },
      format: VOUCHER_JWS_MEDIA_TYPE,
      ...(evidence ? { evidence } : {}),
    });
    return nonce;
  };

  const events = (serial: string) => store.run((r) => r.events.of(serial));
  const deviceRow = (serial: string) => store.run((r) => r.devices.get(serial));
  const certificates = (serial: string) => store.run((r) => r.credentials.certificatesOf(serial));
  /** The events of no device (refusals before one is known). */
  const anonymousEvents = () =>
    opened.db.selectFrom('net_events').selectAll().where('device_serial', 'is', null).execute();

  return {
    ctx,
    maker,
    trust,
    domainCa,
    registrar,
    store,
    db: opened.db,
    masa: masaBehaviour,
    declarations,
    background,
    newDevice,
    channel,
    run,
    vouch,
    events,
    deviceRow,
    certificates,
    anonymousEvents,
    newKey: generateP256Key,
    close: () => opened.close(),
  };
}
