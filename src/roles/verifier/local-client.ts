/**
 * The registrar's client of a verifier that runs in the same process (`airlock up`, which runs
 * every role in one): the same sessions and the same appraisal as over Veraison's API
 * (src/adapters/http/verifier-client.ts), called directly rather than over loopback HTTPS,
 * which cost the registrar and the verifier more CPU than the appraisal itself
 * (docs/BENCHMARKS.md). The verifier reserves the session and stores it complete, with the
 * evidence and the signed EAR, in one write once the evidence is appraised. The result is
 * taken as the verifier built it (nothing comes between them to check its signature against;
 * the registrar checks its nonce, whatever the transport). A refusal of the verifier is
 * ERR_VERIFIER_REFUSED naming the verifier's code, as a problem answer would be; an internal
 * failure says no more than a 500 would.
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { fromBase64Url } from '../../core/bytes.js';
import type { EarClaims } from '../../protocols/ear/claims.js';
import { SESSION_PATH_PREFIX } from '../../protocols/rats/challenge-response.js';
import type { VerifierPort, VerifierSession } from '../../onboarding/registrar/ports.js';
import type { Verifier } from './index.js';

/** Where a local session lives, for the record: the verifier's own URL once it serves. */
const LOCAL_ORIGIN = 'https://verifier.invalid';

export class LocalVerifierClient implements VerifierPort {
  /** Airlock's verifier names the device of each result (`ear.veraison.annotated-evidence`). */
  readonly annotates = true;

  constructor(private readonly verifier: Verifier) {}

  async openSession(nonce?: string): Promise<VerifierSession> {
    let asked: Uint8Array | undefined;
    if (nonce !== undefined) {
      asked = fromBase64Url(nonce);
      if (!asked)
        throw new AirlockError('ERR_INPUT_SCHEMA', 'the nonce to ask for is not base64url');
    }
    const { id, session } = await refused(async () =>
      this.verifier.sessions.reserve(asked ? { value: asked } : { size: 32 }),
    );
    return {
      url: `${this.verifier.url ?? LOCAL_ORIGIN}${SESSION_PATH_PREFIX}${id}`,
      nonce: session.nonce,
      expiry: session.expiry,
      accept: [...session.accept],
    };
  }

  async appraise(
    session: VerifierSession,
    mediaType: string,
    evidence: string,
  ): Promise<{ claims: EarClaims; jwt: string }> {
    const at = session.url.lastIndexOf(SESSION_PATH_PREFIX);
    if (at < 0) throw new AirlockError('ERR_VERIFIER_REFUSED', 'not a session of this verifier');
    const id = session.url.slice(at + SESSION_PATH_PREFIX.length);
    const done = await refused(() =>
      this.verifier.sessions.submitReserved(
        { id, nonce: session.nonce, expiry: session.expiry },
        mediaType,
        evidence,
      ),
    );
    // The verifier's own result, as it signed it: nothing came between to check it against.
    const jwt = done.session.result;
    if (done.session.state !== 'complete' || jwt === undefined)
      throw new AirlockError('ERR_VERIFIER_REFUSED', `the session is ${done.session.state}`);
    return { claims: done.claims, jwt };
  }
}

/** The verifier's own refusal as its client reports one: ERR_VERIFIER_REFUSED with its code. */
async function refused<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    // As over HTTP: an internal failure is a bare 500, its detail kept in the verifier's log.
    if (!isAirlockError(e) || e.code === 'ERR_INTERNAL')
      throw new AirlockError('ERR_VERIFIER_REFUSED', 'ERR_INTERNAL', {
        cause: e,
        details: { code: 'ERR_INTERNAL' },
      });
    throw new AirlockError('ERR_VERIFIER_REFUSED', `${e.code}: ${e.message}`, {
      cause: e,
      details: { code: e.code },
    });
  }
}
