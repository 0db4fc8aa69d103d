/**
 * PeerConnection failure modes: a connection the peer closes, and a client key that does
 * not match its certificate. Both must end in a typed AirlockError, never a hang or an
 * uncaught exception.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerConnection } from '../../src/adapters/http/connection.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { connectAs, errorCode, expectProblem, identityOf } from '../support/wire.js';

/** Settles with 'still pending' when `p` has not settled in `ms`: a hang made a failure, not a measurement. */
async function settledWithin<T>(p: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown; pending?: true }> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<{ pending: true }>((resolve) => (timer = setTimeout(() => resolve({ pending: true }), ms)));
  try {
    return await Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), bound]);
  } finally {
    clearTimeout(timer);
  }
}

describe('PeerConnection', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => sys?.close());

  it('a request after the peer closed the connection rejects with ERR_TRANSPORT instead of hanging', async () => {
    const { agent } = await sys.newDevice();
    const conn = await connectAs(sys.registrarUrl, identityOf(await agent.birth()));
    try {
      // The registrar closes the connection after this refusal (a body it could not parse).
      expectProblem(await conn.request('POST', '/.well-known/brski/enrollstatus', { body: '{', contentType: 'application/json' }), 'ERR_INPUT_MALFORMED_JSON', 400);
      const next = await settledWithin(conn.request('GET', '/.well-known/est/cacerts'), 10_000);
      expect(next.pending, 'the request neither completed nor failed').toBeUndefined();
      if (next.error !== undefined) expect((next.error as { code?: string }).code).toBe('ERR_TRANSPORT');
    } finally {
      await conn.close();
    }
  });

  it('a client key that does not match the certificate is a typed configuration error', async () => {
    const a = identityOf(await (await sys.newDevice()).agent.birth());
    const b = identityOf(await (await sys.newDevice()).agent.birth());
    expect(await errorCode(() => PeerConnection.open(sys.registrarUrl, { cert: a.certPem, key: b.keyPem }))).toBe('ERR_CONFIG');
  });
});
