/**
 * `airlock network dpp add|list|uri` as an onboarder runs them (docs/DPP.md): a device is
 * added by its DPP URI, its serial taken from the URI's I: token (SN=<serial> or a plain
 * serial) or made from its key hash; a bad URI (ERR_DPP_URI) or a key added twice
 * (ERR_DPP_DUPLICATE) exits 1 and stores nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { encodeBootstrappingKey } from '../../src/protocols/dpp/bootstrapping-key.js';
import { dppCurveParams } from '../../src/protocols/dpp/crypto.js';
import { formatDppUri, parseDppUri } from '../../src/protocols/dpp/uri.js';
import { airlock } from '../support/cli.js';
import { tempDir } from '../support/wire.js';
import { silentLogger } from '../../src/adapters/log/logger.js';
import { systemClock } from '../../src/core/ports.js';
import { openNetwork } from '../../src/app/system.js';

const crypto = new NodeCrypto();

function enrolleeUri(info?: string, curve: 'P-256' | 'P-384' | 'P-521' = 'P-256'): string {
  const pair = crypto.ecGenerate(dppCurveParams(curve).ecCurve);
  const { spkiDer } = encodeBootstrappingKey(curve, pair.publicKey);
  return formatDppUri({ version: 2, key: spkiDer, ...(info !== undefined ? { info } : {}) });
}

const hashOf = (uri: string) =>
  Buffer.from(crypto.sha256(parseDppUri(uri).key.spkiDer)).toString('hex');

describe('airlock network dpp', () => {
  const root = tempDir('airlock-cli-dpp-');
  const data = path.join(root, 'data');
  const d = ['--data-dir', data];
  const list = async () => {
    const r = await airlock('network', 'dpp', 'list', ...d, '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Array<{ serial: string; keyHash: string; curve: string }>;
  };

  beforeAll(async () => {
    expect((await airlock('network', 'init', ...d)).code).toBe(0);
  }, 60_000);

  it('refuses a bad URI with exit 1 and ERR_DPP_URI, storing nothing', async () => {
    for (const bad of ['DPP:K:not-base64;;', 'https://example.com', `${enrolleeUri()};`]) {
      const r = await airlock('network', 'dpp', 'add', bad, ...d);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('ERR_DPP_URI');
    }
    expect(await list()).toEqual([]);
  });

  it('refuses sta-dot1x for a key the domain CA does not certify, and an unknown --akm: ERR_CONFIG, nothing stored', async () => {
    const r = await airlock(
      'network',
      'dpp',
      'add',
      enrolleeUri('SN=p521-1', 'P-521'),
      '--akm',
      'dot1x',
      ...d,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ERR_CONFIG');
    expect(r.stderr).toContain('P-521');
    const wep = await airlock(
      'network',
      'dpp',
      'add',
      enrolleeUri('SN=wep-1'),
      '--akm',
      'wep',
      ...d,
    );
    expect(wep.code).toBe(1);
    expect(wep.stderr).toContain('ERR_CONFIG');
    expect(await list()).toEqual([]);
  });

  it("adds a device under the URI's SN= serial, a plain serial, or its key hash; lists them", async () => {
    const a = enrolleeUri('SN=cam-0042');
    const b = enrolleeUri('thermo-7');
    const c = enrolleeUri('not a serial!');
    const outA = await airlock('network', 'dpp', 'add', a, ...d, '--json');
    expect(outA.code, outA.stderr).toBe(0);
    expect(JSON.parse(outA.stdout)).toEqual({
      serial: 'cam-0042',
      keyHash: hashOf(a),
      curve: 'P-256',
      akm: 'psk',
      info: 'SN=cam-0042',
    });
    const outB = await airlock('network', 'dpp', 'add', b, '--akm', 'sae', ...d);
    expect(outB.code, outB.stderr).toBe(0);
    expect(outB.stdout).toContain('device thermo-7 added (P-256, sta-sae');
    expect((await airlock('network', 'dpp', 'add', c, ...d)).code).toBe(0);
    expect(await list()).toEqual([
      expect.objectContaining({ serial: 'cam-0042', keyHash: hashOf(a), curve: 'P-256' }),
      expect.objectContaining({ serial: 'thermo-7', curve: 'P-256', akm: 'sae' }),
      expect.objectContaining({ serial: `dpp-${hashOf(c).slice(0, 16)}` }),
    ]);

    // The same key again, or another key with the same serial: ERR_DPP_DUPLICATE, nothing stored.
    for (const again of [a, enrolleeUri('SN=cam-0042')]) {
      const r = await airlock('network', 'dpp', 'add', again, ...d);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('ERR_DPP_DUPLICATE');
    }
    expect(await list()).toHaveLength(3);
    // A key on another curve: the network authenticates it with its own key on that curve.
    const p384 = await airlock('network', 'dpp', 'add', enrolleeUri('SN=p384-1', 'P-384'), ...d);
    expect(p384.code, p384.stderr).toBe(0);
    expect(p384.stdout).toContain('device p384-1 added (P-384, sta-psk');
    const theirs = await airlock('network', 'dpp', 'uri', '--curve', 'P-384', ...d);
    expect(parseDppUri(theirs.stdout.trim()).key.curve).toBe('P-384');
  });

  it("prints the network's own DPP URI, the same each time", async () => {
    const one = await airlock('network', 'dpp', 'uri', ...d);
    expect(one.code, one.stderr).toBe(0);
    const uri = one.stdout.trim();
    expect(parseDppUri(uri).key.curve).toBe('P-256');
    expect((await airlock('network', 'dpp', 'uri', ...d)).stdout.trim()).toBe(uri);
  });

  it('refuses a DPP public key swapped in the database: ERR_SECURE_STORE (bound to its sealed key)', async () => {
    const other = path.join(root, 'swapped');
    expect((await airlock('network', 'init', '--data-dir', other)).code).toBe(0);
    expect((await airlock('network', 'dpp', 'uri', '--data-dir', other)).code).toBe(0);
    const network = await openNetwork(
      { crypto, clock: systemClock, logger: silentLogger },
      other,
      [],
      {},
      { create: false },
    );
    try {
      const pair = crypto.ecGenerate(dppCurveParams('P-256').ecCurve);
      const { spkiDer } = encodeBootstrappingKey('P-256', pair.publicKey);
      await network.db
        .updateTable('net_keys')
        .set({ cert_der: spkiDer })
        .where('name', '=', 'dpp-bootstrap')
        .execute();
    } finally {
      await network.close();
    }
    const r = await airlock('network', 'dpp', 'uri', '--data-dir', other);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ERR_SECURE_STORE');
  }, 60_000);

  it('refuses a data directory with no network, creating nothing', async () => {
    const none = path.join(root, 'none');
    const r = await airlock('network', 'dpp', 'add', enrolleeUri(), '--data-dir', none);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ERR_CONFIG');
    expect(fs.existsSync(none)).toBe(false);
  });

  it('is in --help, with `network serve --dpp-port`', async () => {
    expect((await airlock('network', 'dpp', '--help')).stdout).toMatch(/add .*uri/);
    expect((await airlock('network', 'serve', '--help')).stdout).toContain('--dpp-port');
  });
});
