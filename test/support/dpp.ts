/**
 * What the DPP tests share: one crypto port per test file, a bootstrapping key on a curve, a
 * free TCP port on loopback, and the typed failure an operation rejects with.
 */
import * as net from 'node:net';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { isAirlockError } from '../../src/core/errors.js';
import type { DppOwnBootstrap } from '../../src/protocols/dpp/authentication.js';
import {
  encodeBootstrappingKey,
  type DppCurve,
} from '../../src/protocols/dpp/bootstrapping-key.js';
import { dppCurveParams } from '../../src/protocols/dpp/crypto.js';

/** The crypto port of the test file (each test file loads its own copy of this module). */
export const crypto = new NodeCrypto();

/** A new bootstrapping key pair on `curve`, made with `crypto`. */
export function bootstrap(curve: DppCurve): DppOwnBootstrap {
  const pair = crypto.ecGenerate(dppCurveParams(curve).ecCurve);
  const { spkiDer } = encodeBootstrappingKey(curve, pair.publicKey);
  return { curve, privateKey: pair.privateKey, publicKey: pair.publicKey, spkiDer };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** The code and reason of the AirlockError `p` rejects with; anything else is rethrown. */
export async function failure(p: Promise<unknown>): Promise<{ code: string; reason: unknown }> {
  try {
    await p;
  } catch (e) {
    if (isAirlockError(e)) return { code: e.code, reason: e.details.reason };
    throw e;
  }
  throw new Error('it did not fail');
}
