/**
 * The verifier's appraisal thread (src/roles/verifier/appraisal-thread.ts): the same evidence
 * gets the same appraisal, the same refusal and the same stored session in the thread as on the
 * event loop; reference values provisioned later reach the thread; a thread that dies fails
 * what it held (nothing stored) and appraisals go on, on the event loop.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { createLogger } from '../../src/adapters/log/logger.js';
import { AirlockError, isAirlockError, reviveAirlockError } from '../../src/core/errors.js';
import { Verifier } from '../../src/roles/verifier/index.js';
import { AppraisalThread } from '../../src/roles/verifier/appraisal-thread.js';
import { appraiseNow } from '../../src/roles/verifier/appraiser.js';
import { deviceTokenMediaType, supplyChainMediaType } from '../../src/protocols/eat/claims.js';
import { remove, track } from '../support/temp-dirs.js';
import {
  RELEASES,
  MODEL,
  attestationManufacturer,
  attestingDevice,
  supplyChainEvidence,
  type AttestationManufacturer,
  type AttestingDevice,
} from '../support/attestation.js';

const clock = { now: () => new Date() };

describe('the verifier appraisal thread', () => {
  let dir: string;
  let m: AttestationManufacturer;
  let foreign: AttestationManufacturer;
  let dev: AttestingDevice;
  let threaded: Verifier;
  let inline: Verifier;

  const open = (name: string, appraisalThread: boolean) =>
    Verifier.open({
      ctx: { crypto: new NodeCrypto(), clock, logger: createLogger({ level: 'silent' }) },
      databaseFile: path.join(dir, `${name}.db`),
      kek: new Uint8Array(randomBytes(32)),
      manufacturers: [m].map((x) => ({
        party: x.party,
        root: x.root.cert,
        endorsementsCa: x.endorsementsCa.cert,
      })),
      config: { referenceValuesRefreshSeconds: 0, appraisalThread },
    });

  /** The evidence submitted to a fresh session of `v`: its appraisal, or the error it threw. */
  const appraise = async (v: Verifier, evidence: (nonce: string) => string, type: string) => {
    const { id, session } = v.sessions.reserve({ size: 32 });
    try {
      const done = await v.sessions.submitReserved(
        { id, nonce: session.nonce, expiry: session.expiry },
        type,
        evidence(session.nonce),
      );
      return { appraisal: done.appraisal, claims: done.claims, id };
    } catch (e) {
      return { error: e as AirlockError, id };
    }
  };

  beforeAll(async () => {
    dir = track(fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-appraisal-thread-')));
    m = await attestationManufacturer('Thermo Maker');
    foreign = await attestationManufacturer('Foreign Maker');
    dev = await attestingDevice(m, { serial: 'SN-THREAD-1' });
    threaded = await open('threaded', true);
    inline = await open('inline', false);
    for (const v of [threaded, inline]) await v.provision(m.referenceValues());
  });

  afterAll(async () => {
    await threaded?.close();
    await inline?.close();
    remove(dir);
  });

  it('starts at the first appraisal, and only the threaded verifier has one', async () => {
    expect(await threaded.appraiser.ready()).toBe(true);
    expect(await inline.appraiser.ready()).toBe(false);
  });

  it('appraises as the event loop does: healthy, stale, contradicting, foreign, supply-chain, malformed', async () => {
    const foreignDev = await attestingDevice(foreign, { serial: 'SN-THREAD-F' });
    const supplyChain = supplyChainEvidence(m, { serial: 'SN-THREAD-2', model: MODEL });
    const cases: [string, (nonce: string) => string, string][] = [
      ['healthy', (n) => dev.token(n), deviceTokenMediaType],
      ['another nonce', () => dev.token('A'.repeat(43)), deviceTokenMediaType],
      ['withdrawn', (n) => dev.token(n, { swversion: ['1.0.0'] }), deviceTokenMediaType],
      ['foreign', (n) => foreignDev.token(n), deviceTokenMediaType],
      ['supply chain', () => supplyChain, supplyChainMediaType],
      ['malformed', () => 'not.a.token', deviceTokenMediaType],
    ];
    for (const [name, evidence, type] of cases) {
      const a = await appraise(threaded, evidence, type);
      const b = await appraise(inline, evidence, type);
      expect({ name, ...strip(a) }).toEqual({ name, ...strip(b) });
      // The thread appraised it: the answer is the same error, or an appraisal stored complete.
      const [stored] = await threaded.db
        .selectFrom('ver_sessions')
        .select(['state', 'result'])
        .where('id', '=', a.id)
        .execute();
      expect(stored?.state).toBe(a.error ? 'failed' : 'complete');
    }
    expect(
      (await appraise(threaded, (n) => dev.token(n), deviceTokenMediaType)).appraisal,
    ).toMatchObject({ status: 'affirming' });
    expect((threaded.appraiser as AppraisalThread).threaded).toBe(true);
  });

  it('takes reference values provisioned later: a release withdrawn since contraindicates the device', async () => {
    const withdrawn = {
      ...RELEASES.released,
      status: 'withdrawn' as const,
      'withdrawn-on': '2026-04-01T00:00:00Z',
    };
    await threaded.provision(
      m.referenceValues({
        sequence: 2,
        models: { [MODEL]: { 'secure-boot': true, firmware: [RELEASES.withdrawn, withdrawn] } },
      }),
    );
    const { appraisal } = await appraise(threaded, (n) => dev.token(n), deviceTokenMediaType);
    expect(appraisal?.status).toBe('contraindicated');
    expect(appraisal?.reasons).toContain(
      `executables: ${RELEASES.released.name} 1.1.0 of ${MODEL} was withdrawn on 2026-04-01T00:00:00Z`,
    );
  });

  it('a thread that dies fails what it held, and appraisals go on, on the event loop', async () => {
    const logged: string[] = [];
    const logger = createLogger({
      level: 'error',
      destination: { write: (line: string) => void logged.push(line) },
    });
    const thread = new AppraisalThread(
      new NodeCrypto(),
      logger,
      new URL('../fixtures/dying-appraisal-thread.mjs', import.meta.url).href,
    );
    try {
      expect(await thread.ready()).toBe(true);
      const manufacturers = await threaded.store.run((r) =>
        threaded.referenceValues.endorsements(r),
      );
      const nonce = 'B'.repeat(43);
      const request = {
        mediaType: deviceTokenMediaType,
        evidence: dev.token(nonce),
        nonce,
        manufacturers,
        clockSkewSeconds: 300,
        at: clock.now(),
      };
      const e = await thread.appraise(request).catch((x: unknown) => x);
      expect(isAirlockError(e, 'ERR_INTERNAL')).toBe(true);
      expect(thread.threaded).toBe(false);
      expect(logged.join('')).toContain('the appraisal thread stopped');
      const again = await thread.appraise(request);
      expect(again).toEqual(appraiseNow(new NodeCrypto(), request));
      expect(again.annotated?.['serial-number']).toBe(dev.serial);
      expect(await thread.ready()).toBe(false);
    } finally {
      await thread.close();
    }
  });

  it('carries a refusal across the thread as the same error', () => {
    const e = new AirlockError('ERR_EAT_MALFORMED', 'the device token: iat: expected a number', {
      details: { claim: 'iat' },
    });
    const revived = reviveAirlockError({
      code: e.code,
      message: e.message,
      details: { ...e.details },
    });
    expect(revived).toBeInstanceOf(AirlockError);
    expect([revived.code, revived.message, revived.details]).toEqual([
      e.code,
      e.message,
      e.details,
    ]);
    const unknown = reviveAirlockError({ code: 'ERR_FROM_ANOTHER_BUILD', message: 'x' });
    expect([unknown.code, unknown.message]).toEqual([
      'ERR_INTERNAL',
      new AirlockError('ERR_INTERNAL').message,
    ]);
  });
});

/** What two verifiers must agree on: the appraisal, or the error's code and message. */
function strip(r: { appraisal?: unknown; error?: AirlockError }) {
  return r.error ? { code: r.error.code, message: r.error.message } : { appraisal: r.appraisal };
}
