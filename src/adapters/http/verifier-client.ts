/**
 * The registrar's client of a verification service (RFC 9334 verifier) over Veraison's
 * challenge-response API (src/protocols/rats/challenge-response.ts): Airlock's own verifier
 * or any other that speaks it.
 *
 * TLS must chain to the verifier's CA (`tlsCaPem`) and name the URL's host, as the MASA client
 * asks of a MASA (masa-client.ts: the same keep-alive pool, TLS 1.2 or 1.3 with ECDHE and AEAD,
 * deadlines on connecting and on each answer, a bounded answer). A session URL (`Location`) is
 * followed only when it is https and on the verifier's own origin. Results are believed only
 * when signed by the verifier's EAR key: the one configured, else the one its well-known
 * document names, fetched once over that same trusted TLS; never a key a result carries.
 *
 * Errors: the verifier not reached (TLS refused, no answer in time, an answer too large or not
 * HTTP) is ERR_VERIFIER_UNREACHABLE; a problem answer is ERR_VERIFIER_REFUSED naming the
 * verifier's code (in the message, and in `details.code`); an answer that is not what the API
 * says is ERR_VERIFIER_REFUSED; a result signed by another key, or for another nonce, is
 * ERR_EAR_UNTRUSTED.
 */
import { REFERENCE_VALUES_MEDIA_TYPE } from '../../protocols/endorsement/reference-values.js';
import { AirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import {
  equalBytes,
  fromAnyBase64,
  fromBase64Url,
  fromUtf8,
  sameBase64Bytes,
  toBase64Url,
  toPaddedBase64Url,
  utf8,
} from '../../core/bytes.js';
import type { EarClaims } from '../../protocols/ear/claims.js';
import { verifyEar } from '../../protocols/ear/result.js';
import {
  NEW_SESSION_PATH,
  SESSION_MEDIA_TYPE,
  readSession,
  type ChallengeResponseSession,
} from '../../protocols/rats/challenge-response.js';
import type { VerifierPort, VerifierSession } from '../../onboarding/registrar/ports.js';
import { NodeCrypto } from '../crypto/node-crypto.js';
import { spkiFromJwk } from '../crypto/p256-encoding.js';
import { ConnectionPool } from './connection-pool.js';
import { PROBLEM_MEDIA_TYPE, bareDetail, fromProblem } from './problem.js';

/** A P-256 public key as a JWK (what the verifier's well-known document carries). */
export interface EcPublicJwk {
  kty: string;
  crv?: string;
  x?: string;
  y?: string;
}

export interface VerifierClientOptions {
  /** The verifier's TLS trust anchor(s), PEM. */
  tlsCaPem: string;
  /** The key that signs the verifier's results: a JWK, or DER SubjectPublicKeyInfo. Default: fetched from its well-known document. */
  earKey?: EcPublicJwk | Uint8Array;
  /** Default: node:crypto. */
  crypto?: Crypto;
}

export const VERIFICATION_WELL_KNOWN_PATH = '/.well-known/veraison/verification';

/** How long the verifier may take to connect (TCP and TLS), and to answer a request. */
const VERIFIER_TIMEOUT_MS = 15_000;
const VERIFIER_CONNECTIONS = 8;
/** Sessions carry the evidence back (up to 16 KiB) and the EAR (up to 32 KiB). */
const VERIFIER_MAX_RESPONSE_BYTES = 256 * 1024;
const VERIFIER_TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export class HttpVerifierClient implements VerifierPort {
  readonly #origin: string;
  /** The base URL's path, without trailing slashes. */
  readonly #base: string;
  readonly #pool: ConnectionPool;
  readonly #crypto: Crypto;
  #earKey: Promise<Uint8Array> | undefined;

  constructor(url: string, opts: VerifierClientOptions) {
    let u: URL;
    try {
      u = new URL(url);
    } catch (cause) {
      throw new AirlockError('ERR_CONFIG', 'the verifier URL is not a URL', { cause });
    }
    if (u.protocol !== 'https:' || u.username || u.password || u.search || u.hash)
      throw new AirlockError('ERR_CONFIG', 'the verifier URL must be a plain https URL');
    this.#origin = u.origin;
    this.#base = u.pathname.replace(/\/+$/, '');
    this.#crypto = opts.crypto ?? new NodeCrypto();
    if (opts.earKey !== undefined)
      this.#earKey = Promise.resolve(spkiOf(opts.earKey, 'ERR_CONFIG'));
    this.#pool = new ConnectionPool(this.#origin, {
      maxConnections: VERIFIER_CONNECTIONS,
      connection: {
        ca: opts.tlsCaPem,
        verifyHostname: true,
        minVersion: 'TLSv1.2',
        ciphers: VERIFIER_TLS_CIPHERS,
        handshakeTimeoutMs: VERIFIER_TIMEOUT_MS,
        requestTimeoutMs: VERIFIER_TIMEOUT_MS,
        maxResponseBytes: VERIFIER_MAX_RESPONSE_BYTES,
      },
    });
  }

  async openSession(nonce?: string): Promise<VerifierSession> {
    const asked = nonce === undefined ? undefined : fromBase64Url(nonce);
    if (nonce !== undefined && asked === undefined)
      throw new AirlockError('ERR_INPUT_SCHEMA', 'the nonce to ask for is not base64url');
    // Padded base64url: Veraison decodes it with Go's base64.URLEncoding, which wants the padding.
    const query =
      nonce === undefined
        ? 'nonceSize=32'
        : `nonce=${encodeURIComponent(toPaddedBase64Url(asked!))}`;
    const path = `${this.#base}${NEW_SESSION_PATH}?${query}`;
    const res = await this.#send('POST', path, { accept: SESSION_MEDIA_TYPE });
    if (res.status !== 201)
      throw new AirlockError('ERR_VERIFIER_REFUSED', `newSession answered ${res.status}, not 201`);
    const location = res.headers.get('location');
    if (location === undefined)
      throw new AirlockError('ERR_VERIFIER_REFUSED', 'newSession answered with no Location');
    // A relative reference is resolved against the request's own URL (RFC 9110 section 10.2.2).
    const url = this.#sameOrigin(location, `${this.#origin}${path}`);
    const session = readSession(this.#json(res.body));
    // In whichever base64 the verifier writes it (Veraison: the standard one); base64url here.
    const held = fromAnyBase64(session.nonce);
    if (!held) throw new AirlockError('ERR_VERIFIER_REFUSED', 'the session nonce is not base64');
    if (asked !== undefined && !equalBytes(held, asked))
      throw new AirlockError(
        'ERR_VERIFIER_REFUSED',
        'the session does not hold the nonce asked for',
      );
    return {
      url,
      nonce: toBase64Url(held),
      expiry: session.expiry,
      accept: [...session.accept],
    };
  }

  async appraise(
    session: VerifierSession,
    mediaType: string,
    evidence: string,
  ): Promise<{ claims: EarClaims; jwt: string }> {
    const url = new URL(this.#sameOrigin(session.url, this.#origin));
    const res = await this.#send(
      'POST',
      `${url.pathname}${url.search}`,
      { accept: SESSION_MEDIA_TYPE, 'content-type': mediaType },
      utf8(evidence),
    );
    if (res.status !== 200)
      throw new AirlockError('ERR_VERIFIER_REFUSED', `the session answered ${res.status}, not 200`);
    const answered: ChallengeResponseSession = readSession(this.#json(res.body));
    if (answered.state !== 'complete' || answered.result === undefined)
      throw new AirlockError(
        'ERR_VERIFIER_REFUSED',
        `the session is ${answered.state}${answered.result === undefined ? ', with no result' : ''}`,
      );
    const jwt = answered.result;
    const claims = verifyEar(this.#crypto, jwt, await this.#verificationKey());
    // In whichever base64 the verifier writes it (Veraison: the standard one).
    if (!sameBase64Bytes(claims.eat_nonce, session.nonce))
      throw new AirlockError('ERR_EAR_UNTRUSTED', "the result does not carry the session's nonce");
    return { claims, jwt };
  }

  /** The EAR key: configured, or fetched once from the well-known document (again after a failure). */
  #verificationKey(): Promise<Uint8Array> {
    this.#earKey ??= (async () => {
      const res = await this.#send('GET', `${this.#base}${VERIFICATION_WELL_KNOWN_PATH}`, {
        accept: 'application/json',
      });
      if (res.status !== 200)
        throw new AirlockError(
          'ERR_VERIFIER_REFUSED',
          `the verification document answered ${res.status}`,
        );
      const doc = this.#json(res.body) as { 'ear-verification-key'?: unknown } | null;
      return spkiOf(doc?.['ear-verification-key'], 'ERR_VERIFIER_REFUSED');
    })();
    const key = this.#earKey;
    key.catch(() => {
      if (this.#earKey === key) this.#earKey = undefined;
    });
    return key;
  }

  /** `location` resolved against `base`: an https URL of the verifier's origin, else ERR_VERIFIER_REFUSED. */
  #sameOrigin(location: string, base: string): string {
    let u: URL;
    try {
      u = new URL(location, base);
    } catch {
      throw new AirlockError('ERR_VERIFIER_REFUSED', 'the session URL is not a URL');
    }
    if (u.protocol !== 'https:' || u.origin !== this.#origin || u.username || u.password)
      throw new AirlockError(
        'ERR_VERIFIER_REFUSED',
        "the session URL is not on the verifier's origin",
      );
    u.hash = '';
    return u.href;
  }

  #json(body: Uint8Array): unknown {
    try {
      return JSON.parse(fromUtf8(body));
    } catch (cause) {
      throw new AirlockError('ERR_VERIFIER_REFUSED', 'the verifier answered with no JSON', {
        cause,
      });
    }
  }

  async #send(
    method: 'GET' | 'POST',
    path: string,
    headers: Record<string, string>,
    body?: Uint8Array,
  ): Promise<{ status: number; headers: ReadonlyMap<string, string>; body: Uint8Array }> {
    let res;
    try {
      res = await this.#pool.request(method, path, {
        headers,
        ...(body !== undefined ? { body } : {}),
      });
    } catch (e) {
      throw new AirlockError('ERR_VERIFIER_UNREACHABLE', bareDetail((e as Error).message), {
        cause: e,
      });
    }
    const bytes = new Uint8Array(res.body.buffer, res.body.byteOffset, res.body.byteLength);
    if (res.status >= 200 && res.status < 300)
      return { status: res.status, headers: res.headers, body: bytes };
    const ct = res.headers.get('content-type') ?? '';
    if (ct.startsWith(PROBLEM_MEDIA_TYPE)) {
      const peer = fromProblem(res.status, fromUtf8(bytes));
      const detail = bareDetail(peer.message);
      throw new AirlockError('ERR_VERIFIER_REFUSED', `${peer.code}${detail ? `: ${detail}` : ''}`, {
        cause: peer,
        details: { status: res.status, code: peer.code },
      });
    }
    throw new AirlockError('ERR_VERIFIER_REFUSED', `HTTP ${res.status}`, {
      details: { status: res.status },
    });
  }

  /**
   * Hands the verifier a manufacturer's signed reference values (Veraison's provisioning path,
   * docs/ATTESTATION.md): what a manufacturer does after a release or a withdrawal, so that the
   * verifier judges by it at once rather than at its next pull.
   */
  async provision(document: string): Promise<void> {
    await this.#send(
      'POST',
      `${this.#base}/endorsement-provisioning/v1/submit`,
      { 'content-type': REFERENCE_VALUES_MEDIA_TYPE, accept: 'application/json' },
      utf8(document),
    );
  }

  /** Closes every connection once its request (if any) is answered; later requests are refused. */
  async close(): Promise<void> {
    await this.#pool.close();
  }
}

/** The DER SubjectPublicKeyInfo of a P-256 key given as a JWK or as DER; `code` otherwise. */
function spkiOf(key: unknown, code: 'ERR_CONFIG' | 'ERR_VERIFIER_REFUSED'): Uint8Array {
  if (key instanceof Uint8Array) return key;
  const jwk = key as EcPublicJwk | null | undefined;
  if (jwk && typeof jwk === 'object' && jwk.kty === 'EC' && jwk.crv === 'P-256') {
    try {
      return spkiFromJwk({ x: jwk.x, y: jwk.y });
    } catch {
      // falls through
    }
  }
  throw new AirlockError(code, 'the EAR verification key is not a P-256 JWK');
}
