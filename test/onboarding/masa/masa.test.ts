/**
 * The MASA's steps (RFC 8995 sections 5.5 and 5.8) on an in-memory store: issue a voucher
 * only to an authorized domain, a nonce once; the audit log, for that domain only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../../../src/adapters/store/sqlite.js';
import { manufacturerStore } from '../../../src/adapters/store/manufacturer-repositories.js';
import { manufacturerMigrations } from '../../../src/adapters/store/migrations/manufacturer.js';
import type { ManufacturerDb } from '../../../src/adapters/store/schema.js';
import { issueVoucher } from '../../../src/onboarding/masa/issue-voucher.js';
import {
  VerifiedRequests,
  auditLogFor,
  recordIssuedVoucher,
} from '../../../src/onboarding/masa/audit-log.js';
import type { MasaContext } from '../../../src/onboarding/masa/ports.js';
import { partyIdFromSpki } from '../../../src/core/party.js';
import { toBase64, utf8 } from '../../../src/core/bytes.js';
import type { DeclarationBody } from '../../../src/protocols/declaration/schema.js';
import {
  signPledgeVoucherRequest,
  verifyPledgeVoucherRequest,
} from '../../../src/protocols/voucher/pledge-voucher-request.js';
import { signRegistrarVoucherRequest } from '../../../src/protocols/voucher/registrar-voucher-request.js';
import { verifyVoucher } from '../../../src/protocols/voucher/voucher.js';
import {
  VOUCHER_COSE_MEDIA_TYPE,
  VOUCHER_JWS_MEDIA_TYPE,
  type EncodedVoucher,
} from '../../../src/protocols/voucher/codec.js';
import { domainIdOf } from '../../../src/protocols/brski/audit-log.js';
import { caProfile, registrarProfile } from '../../../src/protocols/x509/profiles.js';
import { crypto, device, issue, manufacturerPki, T0, type Pair } from '../../support/pki.js';
import { errorCode } from '../../support/wire.js';

const NOW = new Date(T0.getTime() + 86_400_000);

describe('the MASA: issue-voucher and audit-log', () => {
  let close: () => Promise<void>;
  let ctx: MasaContext;
  let db: Awaited<ReturnType<typeof openSqlite<ManufacturerDb>>>['db'];
  let maker: Awaited<ReturnType<typeof manufacturerPki>>;
  let domain: { ca: Pair; registrar: Pair; id: string };
  let other: { ca: Pair; registrar: Pair; id: string };
  const verified = new VerifiedRequests(crypto);
  /** The latest declaration of each device: its owner. */
  const owners = new Map<string, string>();

  async function newDomain(name: string) {
    const ca = await issue(
      caProfile({
        name: `${name} CA`,
        notBefore: T0,
        notAfter: new Date('2040-01-01T00:00:00Z'),
        pathLength: 0,
      }),
    );
    const registrar = await issue(
      registrarProfile({
        name: `${name} Registrar`,
        dnsNames: ['r.example'],
        notBefore: T0,
        notAfter: new Date('2030-01-01T00:00:00Z'),
      }),
      ca,
    );
    return { ca, registrar, id: partyIdFromSpki(crypto, ca.cert.spki) };
  }

  beforeAll(async () => {
    maker = await manufacturerPki();
    domain = await newDomain('Owner');
    other = await newDomain('Stranger');
    const opened = await openSqlite<ManufacturerDb>(':memory:', manufacturerMigrations);
    db = opened.db;
    close = () => opened.close();
    const party = (id: string) => ({ id, name: 'p' });
    ctx = {
      crypto,
      clock: { now: () => NOW },
      store: manufacturerStore(opened.db),
      pki: { idevidCa: maker.idevidCa, masa: maker.masaSigner },
      declarations: {
        async latest(serial) {
          const owner = owners.get(serial);
          if (!owner) return undefined;
          const body: DeclarationBody = {
            'serial-number': serial,
            sequence: 1,
            previous: null,
            'issued-on': T0.toISOString(),
            event: 'transferred',
            manufacturer: party('m'),
            owner: party(owner),
            'authorized-onboarders': [],
          };
          return { body, hash: `hash-${serial}` };
        },
      },
      policy: {
        voucherLifetimeSeconds: 600,
        voucherRequestClockSkewSeconds: 300,
        pinWhenNoCa: 'registrar-cert',
        requireProximity: false,
      },
      log: {
        record: (records, v) => recordIssuedVoucher(crypto, records, v),
        rememberVerified: (request, serial, owner, at) =>
          verified.remember(request, serial, owner, at),
      },
    };
  });
  afterAll(async () => close?.());

  let n = 0;
  /** A device sold to `owner`, and a registrar voucher request for it from `by`. */
  async function request(
    by: typeof domain,
    owner: string | null = domain.id,
  ): Promise<{ serial: string; rvr: EncodedVoucher; nonce: string }> {
    const serial = `MASA-${++n}`;
    const d = await device(maker.idevidCa, serial);
    if (owner) {
      owners.set(serial, owner);
      // The store holds the declaration the MASA checks again when it issues the voucher.
      await ctx.store.transaction(async (r) => {
        await r.devices.add(
          { serial, model: 'm', idevidDer: d.cert.der, masaUrl: 'https://masa', mudUrl: null },
          T0,
        );
        await r.declarations.append({
          serial,
          sequence: 1,
          jws: 'jws',
          hash: `hash-${serial}`,
          ownerId: owner,
          issuedOn: T0.toISOString(),
        });
      });
    }
    const nonce = toBase64(crypto.bytes(16));
    const pvr = signPledgeVoucherRequest(crypto, d.key, d.cert, {
      serialNumber: serial,
      nonce,
      createdOn: NOW,
      proximityRegistrarCert: by.registrar.cert.der,
    });
    const verifiedPvr = verifyPledgeVoucherRequest(crypto, pvr, {
      tlsClientCert: d.cert,
      registrarCert: by.registrar.cert,
      mediaType: VOUCHER_JWS_MEDIA_TYPE,
      serialNumber: serial,
    });
    const rvr = signRegistrarVoucherRequest(
      crypto,
      by.registrar.key,
      { registrarCert: by.registrar.cert, domainCa: by.ca.cert },
      verifiedPvr,
      NOW,
    );
    return { serial, rvr: { mediaType: VOUCHER_JWS_MEDIA_TYPE, bytes: utf8(rvr) }, nonce };
  }
  const audit = (subject: string) =>
    db.selectFrom('masa_audit').selectAll().where('subject', '=', subject).orderBy('id').execute();
  const vouchers = (serial: string) => ctx.store.run((r) => r.masa.vouchersOf(serial, 10));

  it("issues a voucher that pins the owner's domain CA, uses the nonce, logs the voucher and the decision", async () => {
    const { serial, rvr, nonce } = await request(domain);
    const voucher = await issueVoucher(ctx, rvr, '192.0.2.1', VOUCHER_JWS_MEDIA_TYPE);
    const v = verifyVoucher(crypto, voucher.bytes, {
      mediaType: voucher.mediaType,
      masaAnchors: [maker.masaCa.cert],
      serialNumber: serial,
      nonce,
      at: NOW,
    });
    expect(v.pinnedDomainCert.der).toEqual(domain.ca.cert.der);
    expect(await vouchers(serial)).toMatchObject([
      { domainId: domainIdOf(crypto, domain.ca.cert), nonce, assertion: 'proximity' },
    ]);
    const rows = await audit(serial);
    expect(rows.map((r) => [r.action, r.actor, r.outcome, r.code])).toEqual([
      ['requestvoucher', '192.0.2.1', 'ok', null],
    ]);
    expect(JSON.parse(rows[0]!.detail!)).toEqual({
      owner: domain.id,
      declaration: 1,
      assertion: 'proximity',
      pinned: 'domain-ca',
    });
  });

  it('a replayed nonce: ERR_VOUCHER_REQUEST_REPLAYED, and no second voucher recorded', async () => {
    const { serial, rvr } = await request(domain);
    await issueVoucher(ctx, rvr, '192.0.2.1', VOUCHER_JWS_MEDIA_TYPE);
    expect(await errorCode(() => issueVoucher(ctx, rvr, '192.0.2.1', VOUCHER_JWS_MEDIA_TYPE))).toBe(
      'ERR_VOUCHER_REQUEST_REPLAYED',
    );
    expect(await vouchers(serial)).toHaveLength(1);
    expect((await audit(serial)).map((r) => [r.outcome, r.code])).toEqual([
      ['ok', null],
      ['refused', 'ERR_VOUCHER_REQUEST_REPLAYED'],
    ]);
  });

  it('a declaration changed after the check (a transfer on another node): ERR_DECLARATION_STALE, no voucher, the nonce unused', async () => {
    const { serial, rvr } = await request(domain);
    // The transfer commits between the MASA's check and its transaction: the port still answers
    // with the declaration the check used, the store holds the newer one.
    await ctx.store.run((r) =>
      r.declarations.append({
        serial,
        sequence: 2,
        jws: 'jws2',
        hash: `hash2-${serial}`,
        ownerId: other.id,
        issuedOn: T0.toISOString(),
      }),
    );
    expect(await errorCode(() => issueVoucher(ctx, rvr, '192.0.2.1', VOUCHER_JWS_MEDIA_TYPE))).toBe(
      'ERR_DECLARATION_STALE',
    );
    expect(await vouchers(serial)).toEqual([]);
    expect(
      await db.selectFrom('masa_nonces').selectAll().where('serial', '=', serial).execute(),
    ).toEqual([]);
  });

  it('a registrar the declaration does not authorize: ERR_MASA_NOT_AUTHORIZED, no voucher, the nonce unused', async () => {
    const { serial, rvr } = await request(other, domain.id);
    expect(await errorCode(() => issueVoucher(ctx, rvr, '192.0.2.9', VOUCHER_JWS_MEDIA_TYPE))).toBe(
      'ERR_MASA_NOT_AUTHORIZED',
    );
    expect(await vouchers(serial)).toEqual([]);
    expect(
      await db.selectFrom('masa_nonces').selectAll().where('serial', '=', serial).execute(),
    ).toEqual([]);
    const rows = await audit(serial);
    expect(rows.map((r) => [r.outcome, r.code, JSON.parse(r.detail!).owner])).toEqual([
      ['refused', 'ERR_MASA_NOT_AUTHORIZED', other.id],
    ]);
  });

  it('a device it never made: ERR_MASA_UNKNOWN_DEVICE; a format it cannot sign: ERR_VOUCHER_FORMAT, nothing recorded', async () => {
    const unknown = await request(domain, null);
    expect(
      await errorCode(() => issueVoucher(ctx, unknown.rvr, '192.0.2.1', VOUCHER_JWS_MEDIA_TYPE)),
    ).toBe('ERR_MASA_UNKNOWN_DEVICE');
    const { serial, rvr } = await request(domain);
    expect(
      await errorCode(() => issueVoucher(ctx, rvr, '192.0.2.1', VOUCHER_COSE_MEDIA_TYPE)),
    ).toBe('ERR_VOUCHER_FORMAT');
    expect(await audit(serial)).toEqual([]);
  });

  it("the audit log: for the authorized domain, from the request it sent; a stranger's request is refused and logged", async () => {
    const { serial, rvr } = await request(domain);
    await issueVoucher(ctx, rvr, '192.0.2.1', VOUCHER_JWS_MEDIA_TYPE);
    const log = await auditLogFor(ctx, verified, rvr, '192.0.2.1');
    expect(log.events).toHaveLength(1);
    expect(log.events[0]).toMatchObject({
      domainID: domainIdOf(crypto, domain.ca.cert),
      assertion: 'proximity',
    });
    // Verified in full when not remembered (another MASA node): the same answer.
    expect(await auditLogFor(ctx, new VerifiedRequests(crypto), rvr, '192.0.2.1')).toEqual(log);
    const stranger = await request(other, domain.id);
    expect(await errorCode(() => auditLogFor(ctx, verified, stranger.rvr, '192.0.2.9'))).toBe(
      'ERR_MASA_NOT_AUTHORIZED',
    );
    const rows = (await audit(stranger.serial)).filter((r) => r.action === 'requestauditlog');
    expect(rows.map((r) => [r.outcome, r.code])).toEqual([['refused', 'ERR_MASA_NOT_AUTHORIZED']]);
    expect(
      (await audit(serial))
        .filter((r) => r.action === 'requestauditlog')
        .map((r) => [r.outcome, JSON.parse(r.detail!).events]),
    ).toEqual([
      ['ok', 1],
      ['ok', 1],
    ]);
  });
});
