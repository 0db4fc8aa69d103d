/**
 * Bad input, replays and out-of-order requests: each gets a typed error (on the wire an
 * HTTP 4xx problem+json with its code) and changes no state. Audit and event tables may grow.
 */
import { decodeJws } from '../../src/protocols/jws/json.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64, toBase64Url, utf8 } from '../../src/core/bytes.js';
import { generateP256Key } from '../../src/adapters/crypto/node-crypto.js';
import { buildCsr } from '../../src/protocols/est/csr.js';
import { signOwnershipRequest } from '../../src/protocols/declaration/ownership-request.js';
import { PeerConnection } from '../../src/adapters/http/connection.js';
import { Network } from '../../src/roles/network/index.js';
import { signVoucher, verifyVoucher } from '../../src/protocols/voucher/voucher.js';
import { assertNotStale, verifyDeclarationChain } from '../../src/protocols/declaration/verify.js';
import type { DeclarationExport } from '../../src/protocols/declaration/schema.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import * as path from 'node:path';
import { codeOf } from '../support/errors.js';
import { UNATTESTED_ALLOWED } from '../support/policies.js';
import {
  authenticateByHand,
  connectAs,
  errorCode,
  expectProblem,
  identityOf,
  pledgeVoucherRequest,
  postVoucherRequest,
  randomKek,
  stateSnapshot,
  tempDir,
} from '../support/wire.js';

describe('bad input changes nothing', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    // Most tests speak the protocol by hand (support/wire.ts), a pledge that does not attest.
    sys = await startTestSystem({ policy: UNATTESTED_ALLOWED });
  });
  afterAll(async () => sys?.close());

  it('a replayed pledge voucher request is refused (409) and changes nothing', async () => {
    const { agent, serial } = await sys.newDevice();
    const id = identityOf(await agent.birth());
    const conn = await connectAs(sys.registrarUrl, id);
    try {
      const { pvr } = pledgeVoucherRequest(sys.ctx.crypto, id, conn);
      const first = await postVoucherRequest(conn, pvr);
      expect(first.status).toBe(200);
      const before = await stateSnapshot(sys);
      const again = await postVoucherRequest(conn, pvr);
      expectProblem(again, 'ERR_VOUCHER_REQUEST_REPLAYED', 409);
      expect(await stateSnapshot(sys)).toEqual(before);
    } finally {
      await conn.close();
    }
    // Also from a new connection: the nonce, not the connection, is what was used.
    const conn2 = await connectAs(sys.registrarUrl, id);
    try {
      const before = await stateSnapshot(sys);
      const { pvr } = pledgeVoucherRequest(
        sys.ctx.crypto,
        id,
        conn2,
        (
          await sys.manufacturer.db
            .selectFrom('masa_nonces')
            .select('nonce')
            .where('serial', '=', serial)
            .executeTakeFirstOrThrow()
        ).nonce,
      );
      expectProblem(await postVoucherRequest(conn2, pvr), 'ERR_VOUCHER_REQUEST_REPLAYED', 409);
      expect(await stateSnapshot(sys)).toEqual(before);
    } finally {
      await conn2.close();
    }
    const refused = await sys.manufacturer.db
      .selectFrom('masa_audit')
      .select('code')
      .where('subject', '=', serial)
      .where('outcome', '=', 'refused')
      .execute();
    expect(refused.map((r) => r.code)).toEqual([
      'ERR_VOUCHER_REQUEST_REPLAYED',
      'ERR_VOUCHER_REQUEST_REPLAYED',
    ]);
  });

  it('the device refuses vouchers for another serial number, expired, or tampered with', () => {
    const { crypto } = sys.ctx;
    const masa = sys.manufacturer.pki.masa;
    const anchors = [sys.manufacturer.pki.masaCa.cert];
    const now = new Date();
    const nonce = toBase64(crypto.bytes(16));
    const input = {
      serialNumber: 'AL-VICTIM',
      nonce,
      pinnedDomainCert: sys.network.pki.domainCa.cert,
      createdOn: now,
      expiresOn: new Date(now.getTime() + 600_000),
      assertion: 'logged' as const,
    };
    const good = signVoucher(crypto, masa.key, [masa.cert], input);
    // The control: the same voucher is accepted as it is.
    expect(
      verifyVoucher(crypto, good, {
        masaAnchors: anchors,
        serialNumber: 'AL-VICTIM',
        nonce,
        at: now,
      }).pinnedDomainCert.der,
    ).toEqual(sys.network.pki.domainCa.cert.der);

    expect(
      codeOf(() =>
        verifyVoucher(crypto, good, {
          masaAnchors: anchors,
          serialNumber: 'AL-OTHER',
          nonce,
          at: now,
        }),
      ),
    ).toBe('ERR_VOUCHER_SERIAL_MISMATCH');
    expect(
      codeOf(() =>
        verifyVoucher(crypto, good, {
          masaAnchors: anchors,
          serialNumber: 'AL-VICTIM',
          nonce: toBase64(crypto.bytes(16)),
          at: now,
        }),
      ),
    ).toBe('ERR_VOUCHER_NONCE_MISMATCH');

    const expired = signVoucher(crypto, masa.key, [masa.cert], {
      ...input,
      createdOn: new Date(now.getTime() - 7_200_000),
      expiresOn: new Date(now.getTime() - 3_600_000),
    });
    expect(
      codeOf(() =>
        verifyVoucher(crypto, expired, {
          masaAnchors: anchors,
          serialNumber: 'AL-VICTIM',
          nonce,
          at: now,
        }),
      ),
    ).toBe('ERR_VOUCHER_EXPIRED');

    // Tampered: the payload still decodes and matches the schema, but names another device.
    const [h, p, s] = decodeJws(good).compact.split('.') as [string, string, string];
    const payload = new TextDecoder().decode(fromBase64Url(p)!);
    expect(payload).toContain('AL-VICTIM');
    const tampered = `${h}.${toBase64Url(utf8(payload.replace('AL-VICTIM', 'AL-VICTIN')))}.${s}`;
    expect(
      codeOf(() =>
        verifyVoucher(crypto, tampered, {
          masaAnchors: anchors,
          serialNumber: 'AL-VICTIN',
          nonce,
          at: now,
        }),
      ),
    ).toBe('ERR_JWS_SIGNATURE');
    // A flipped signature byte, too.
    const sig = fromBase64Url(s)!;
    sig[10] = sig[10]! ^ 0x01;
    expect(
      codeOf(() =>
        verifyVoucher(crypto, `${h}.${p}.${toBase64Url(sig)}`, {
          masaAnchors: anchors,
          serialNumber: 'AL-VICTIM',
          nonce,
          at: now,
        }),
      ),
    ).toBe('ERR_JWS_SIGNATURE');
    // Signed by a manufacturer key that is not the MASA's own chain: the declarations key is under the root too,
    // so use the network's registrar key, which is not under the manufacturer root.
    const foreign = signVoucher(
      crypto,
      sys.network.pki.registrar.key,
      [sys.network.pki.registrar.cert],
      input,
    );
    expect(
      codeOf(() =>
        verifyVoucher(crypto, foreign, {
          masaAnchors: anchors,
          serialNumber: 'AL-VICTIM',
          nonce,
          at: now,
        }),
      ),
    ).toBe('ERR_VOUCHER_SIGNER_UNTRUSTED');
  });

  it('the network refuses an older declaration export, and the device an older chain', async () => {
    const { agent, serial } = await sys.newDevice();
    const owner = sys.network.owner;
    const older = await sys.manufacturer.declarations.exportFor(owner.id);
    const olderFile: DeclarationExport = {
      ...older,
      devices: older.devices.filter((d) => d['serial-number'] === serial),
    };
    expect(olderFile.devices[0]!.chain).toHaveLength(2);

    // The owner names an authorized onboarder: declaration #2.
    await sys.manufacturer.declarations.addOnboarder(serial, owner.id, {
      id: sys.manufacturer.party.id.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
      name: 'Installer',
    });
    const newer = await sys.manufacturer.declarations.exportFor(owner.id);
    const newerFile: DeclarationExport = {
      ...newer,
      devices: newer.devices.filter((d) => d['serial-number'] === serial),
    };
    expect(newerFile.devices[0]!.chain).toHaveLength(3);

    expect(await sys.network.declarations.importExport(newerFile)).toEqual({ installed: 1 });
    const before = await stateSnapshot(sys);
    expect(await errorCode(() => sys.network.declarations.importExport(olderFile))).toBe(
      'ERR_DECLARATION_STALE',
    );
    expect(await stateSnapshot(sys)).toEqual(before);
    const installed = await sys.network.db
      .selectFrom('net_declarations')
      .select('sequence')
      .where('serial', '=', serial)
      .executeTakeFirstOrThrow();
    expect(installed.sequence).toBe(2);

    // The pure check.
    const anchors = [sys.manufacturer.pki.declarationsCa.cert];
    const v1 = verifyDeclarationChain(sys.ctx.crypto, olderFile.devices[0]!.chain, {
      declarationAnchors: anchors,
      serialNumber: serial,
      at: new Date(),
    });
    expect(codeOf(() => assertNotStale(v1, 2))).toBe('ERR_DECLARATION_STALE');
    expect(() => assertNotStale(v1, 1)).not.toThrow();

    // The device: onboarded with #2, it refuses a registrar that later serves the chain ending at #1.
    await agent.onboard(sys.registrarUrl);
    const creds = (await agent.onboardingCredentials())!;
    expect(creds.declaration.sequence).toBe(2);
    await sys.network.db
      .updateTable('net_declarations')
      .set({ chain: JSON.stringify(olderFile.devices[0]!.chain), sequence: 1 })
      .where('serial', '=', serial)
      .execute();
    expect(await errorCode(() => agent.onboard(sys.registrarUrl))).toBe('ERR_DECLARATION_STALE');
    expect(await agent.onboardingCredentials()).toEqual(creds);
  });

  it('a broken declaration chain is refused, on import too', async () => {
    const a = await sys.newDevice();
    const b = await sys.newDevice();
    const chainA = await sys.manufacturer.declarations.chain(a.serial);
    const chainB = await sys.manufacturer.declarations.chain(b.serial);
    const anchors = [sys.manufacturer.pki.declarationsCa.cert];
    const at = new Date();
    expect(
      verifyDeclarationChain(sys.ctx.crypto, chainA, {
        declarationAnchors: anchors,
        serialNumber: a.serial,
        at,
      }).latest.sequence,
    ).toBe(1);
    expect(
      codeOf(() =>
        verifyDeclarationChain(sys.ctx.crypto, [chainA[1]!, chainA[0]!], {
          declarationAnchors: anchors,
          at,
        }),
      ),
    ).toBe('ERR_DECLARATION_CHAIN');
    expect(
      codeOf(() =>
        verifyDeclarationChain(sys.ctx.crypto, [chainA[0]!, chainB[1]!], {
          declarationAnchors: anchors,
          at,
        }),
      ),
    ).toBe('ERR_DECLARATION_CHAIN');
    expect(
      codeOf(() =>
        verifyDeclarationChain(sys.ctx.crypto, [chainA[1]!], { declarationAnchors: anchors, at }),
      ),
    ).toBe('ERR_DECLARATION_CHAIN');
    expect(
      codeOf(() =>
        verifyDeclarationChain(sys.ctx.crypto, chainB, {
          declarationAnchors: anchors,
          serialNumber: a.serial,
          at,
        }),
      ),
    ).toBe('ERR_DECLARATION_CHAIN');

    // All or nothing: one good chain and one broken one install neither.
    const before = await stateSnapshot(sys);
    const file: DeclarationExport = {
      format: 'airlock-declarations/1',
      'exported-on': at.toISOString(),
      devices: [
        { 'serial-number': b.serial, chain: chainB },
        { 'serial-number': a.serial, chain: [chainA[0]!, chainB[1]!] },
      ],
    };
    expect(await errorCode(() => sys.network.declarations.importExport(file))).toBe(
      'ERR_DECLARATION_CHAIN',
    );
    expect(await stateSnapshot(sys)).toEqual(before);
  });

  it('only the owner may change onboarders', async () => {
    const { serial } = await sys.newDevice();
    const before = await stateSnapshot(sys);
    const installer = {
      id: sys.network.owner.id.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
      name: 'Installer',
    };
    // The manufacturer sold the device: it is no longer the owner.
    expect(
      await errorCode(() =>
        sys.manufacturer.declarations.addOnboarder(serial, sys.manufacturer.party.id, installer),
      ),
    ).toBe('ERR_DECLARATION_FORBIDDEN');
    expect(
      await errorCode(() =>
        sys.manufacturer.declarations.addOnboarder(serial, installer.id, installer),
      ),
    ).toBe('ERR_DECLARATION_FORBIDDEN');
    expect(
      await errorCode(() =>
        sys.manufacturer.declarations.transfer(serial, installer.id, installer),
      ),
    ).toBe('ERR_DECLARATION_FORBIDDEN');
    expect(await stateSnapshot(sys)).toEqual(before);

    // Over the wire: another network owner's signed request to the manufacturer.
    const mallory = await Network.open({
      ctx: sys.ctx,
      databaseFile: path.join(tempDir('airlock-mallory-'), 'network.db'),
      kek: randomKek(),
      manufacturers: [sys.manufacturer.trustBundle()],
      config: { ownerName: 'Mallory' },
    });
    try {
      const previous = (await sys.manufacturer.declarations.latest(serial))!.hash;
      const jws = signOwnershipRequest(
        sys.ctx.crypto,
        mallory.pki.registrar.key,
        { signer: mallory.pki.registrar.cert, ownerCa: mallory.pki.domainCa.cert },
        {
          op: 'add-onboarder',
          'serial-number': serial,
          party: mallory.owner,
          previous,
          'created-on': new Date().toISOString(),
        },
      );
      const conn = await PeerConnection.open(sys.manufacturerUrl, {});
      try {
        expectProblem(
          await conn.request('POST', `/declarations/${serial}`, {
            body: jws,
            contentType: 'application/jose',
          }),
          'ERR_DECLARATION_FORBIDDEN',
          403,
        );
      } finally {
        await conn.close();
      }
    } finally {
      await mallory.close();
    }
    expect(await stateSnapshot(sys)).toEqual(before);
  });

  it('malformed JWS, CSR, JSON, media type, size, and out-of-order EST are refused on the wire', async () => {
    const { agent, serial } = await sys.newDevice();
    const id = identityOf(await agent.birth());
    const csrDer = buildCsr(sys.ctx.crypto, generateP256Key(), serial);
    const csr = toBase64(csrDer);

    // Before any voucher.
    let before = await stateSnapshot(sys);
    let conn = await connectAs(sys.registrarUrl, id);
    try {
      expectProblem(
        await conn.request('POST', '/.well-known/est/simpleenroll', {
          body: csr,
          contentType: 'application/pkcs10',
        }),
        'ERR_REGISTRAR_SEQUENCE',
        409,
      );
      expectProblem(
        await conn.request('POST', '/.well-known/airlock/wifi'),
        'ERR_REGISTRAR_SEQUENCE',
        409,
      );
      expectProblem(
        await conn.request('GET', '/.well-known/airlock/declaration'),
        'ERR_REGISTRAR_SEQUENCE',
        409,
      );
      for (const body of [
        'not.a.jws',
        'abc',
        '',
        '..',
        `${toBase64Url(utf8('{"alg":"ES256"}'))}.e30.AAAA`,
      ]) {
        expectProblem(
          await conn.request('POST', '/.well-known/brski/requestvoucher', {
            body,
            contentType: 'application/voucher-jws+json',
          }),
          'ERR_JWS_MALFORMED',
          400,
        );
      }
      // A header without ES256 is refused as such.
      expectProblem(
        await conn.request('POST', '/.well-known/brski/requestvoucher', {
          body: 'e30.e30.e30',
          contentType: 'application/voucher-jws+json',
        }),
        'ERR_JWS_ALGORITHM',
        400,
      );
      expectProblem(
        await conn.request('POST', '/.well-known/brski/requestvoucher', {
          body: 'not.a.jws',
          contentType: 'text/plain',
        }),
        'ERR_INPUT_MEDIA_TYPE',
        415,
      );
      expectProblem(
        await conn.request('POST', '/.well-known/brski/requestvoucher', {
          body: '<x/>',
          contentType: 'application/xml',
        }),
        'ERR_INPUT_MEDIA_TYPE',
        415,
      );
      expectProblem(
        await conn.request('POST', '/.well-known/est/simpleenroll', {
          body: csr,
          contentType: 'application/json',
        }),
        'ERR_INPUT_MALFORMED_JSON',
        400,
      );
    } finally {
      await conn.close();
    }
    expect(await stateSnapshot(sys)).toEqual(before);

    // Too large (the registrar may close this connection).
    conn = await connectAs(sys.registrarUrl, id);
    try {
      expectProblem(
        await conn.request('POST', '/.well-known/brski/requestvoucher', {
          body: 'a'.repeat(70 * 1024),
          contentType: 'application/voucher-jws+json',
        }),
        'ERR_INPUT_TOO_LARGE',
        413,
      );
    } finally {
      await conn.close();
    }
    expect(await stateSnapshot(sys)).toEqual(before);

    // Malformed JSON (the registrar closes this connection afterwards).
    conn = await connectAs(sys.registrarUrl, id);
    try {
      expectProblem(
        await conn.request('POST', '/.well-known/brski/enrollstatus', {
          body: '{"version": 1,',
          contentType: 'application/json',
        }),
        'ERR_INPUT_MALFORMED_JSON',
        400,
      );
    } finally {
      await conn.close();
    }
    expect(await stateSnapshot(sys)).toEqual(before);

    // After authentication: malformed CSRs.
    conn = await connectAs(sys.registrarUrl, id);
    try {
      await authenticateByHand(sys.ctx.crypto, id, conn);
      before = await stateSnapshot(sys);
      expect(
        before.net_devices!.find((d) => (d as { serial: string }).serial === serial),
      ).toMatchObject({ state: 'authenticated' });
      for (const body of [
        'AAAA',
        '!!!not base64!!!',
        toBase64(csrDer.slice(0, csrDer.length - 8)),
        toBase64(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00])),
      ]) {
        expectProblem(
          await conn.request('POST', '/.well-known/est/simpleenroll', {
            body,
            contentType: 'application/pkcs10',
          }),
          'ERR_CSR_MALFORMED',
          400,
        );
      }
      expect(await stateSnapshot(sys)).toEqual(before);
      // The channel is still good for a well-formed CSR.
      expect(
        (
          await conn.request('POST', '/.well-known/est/simpleenroll', {
            body: csr,
            contentType: 'application/pkcs10',
          })
        ).status,
      ).toBe(200);
    } finally {
      await conn.close();
    }
  });
});
