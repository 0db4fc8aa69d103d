/**
 * The registrar's client for MASAs (RFC 8995 section 5.4): TLS to the MASA URL named in the
 * device's IDevID, authenticated against that device's manufacturer's trust anchors (or, for a
 * URL an operator gave, every trusted manufacturer's) and the URL's host name, with one
 * keep-alive pool per MASA origin and set of anchors. When given
 * the registrar's certificate and key, it presents them as its TLS client certificate
 * (section 5.4 allows it; the manufacturer shows declarations only to parties it can name).
 */
import { Pool } from 'undici';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { PROBLEM_MEDIA_TYPE, fromProblem } from './problem.js';
import { DeclarationReply, parseJson } from '../../protocols/airlock/messages.js';
import { parseAuditLog, type AuditLog } from '../../protocols/brski/audit-log.js';
import { DECLARATION_READ_HEADER } from '../../protocols/declaration/read-request.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import type { PrivateKeyHandle } from '../../core/ports.js';
import { fromUtf8, toPem, utf8 } from '../../core/bytes.js';
import { VOUCHER_JWS_MEDIA_TYPE, parseVoucherMediaType, type EncodedVoucher, type VoucherMediaType } from '../../protocols/voucher/codec.js';
import { privateKeyPem } from '../crypto/node-crypto.js';

/**
 * Whose TLS certificates may answer for a MASA: the anchors of the one manufacturer the device
 * belongs to. Without it, any trusted manufacturer's (for a URL an operator gave, not a device).
 */
export interface MasaTls {
  anchors: readonly Certificate[];
}

export interface MasaClient {
  /** A JWS registrar voucher request, a JWS voucher back. */
  requestVoucher(masaUrl: string, registrarVoucherRequest: string): Promise<string>;
  /**
   * A registrar voucher request in any format, the voucher in `accept` (RFC 8995 section 5.5:
   * the registrar passes on the format the pledge asked for). Optional: without it, JWS only.
   */
  requestVoucherIn?(masaUrl: string, registrarVoucherRequest: EncodedVoucher, accept: VoucherMediaType, tls?: MasaTls): Promise<EncodedVoucher>;
  /**
   * A device's declaration chain, readable by its owner and authorized onboarders only:
   * authenticated by the client certificate, or by `readRequest` (protocols/declaration/read-request.ts).
   */
  fetchDeclarationChain(masaUrl: string, serial: string, opts?: { readRequest?: string; tls?: MasaTls }): Promise<string[]>;
  /** RFC 8995 section 5.8: the device's audit log, for the registrar voucher request sent for it. */
  requestAuditLog?(masaUrl: string, registrarVoucherRequest: string | EncodedVoucher, tls?: MasaTls): Promise<AuditLog>;
  /** Sends an owner's signed ownership request; returns the new declaration chain. */
  sendOwnershipRequest(manufacturerUrl: string, serial: string, request: string): Promise<string[]>;
  close(): Promise<void>;
}

/** How long the MASA may take to connect, to start answering, or between bytes of its answer. */
const MASA_TIMEOUT_MS = 15_000;
/** The largest answer read from a MASA (vouchers, declaration chains and audit logs are small). */
const MASA_MAX_RESPONSE_BYTES = 1024 * 1024;
const MASA_TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export class HttpMasaClient implements MasaClient {
  readonly #pools = new Map<string, Pool>();

  readonly #clientCert: { cert: string; key: string } | undefined;

  /** `clientAuth`: the registrar's key and its certificate chain (leaf first, then its CA). */
  constructor(private readonly trustAnchorsPem: string, clientAuth?: { key: PrivateKeyHandle; certChain: readonly Certificate[] }) {
    this.#clientCert = clientAuth ? { cert: clientAuth.certChain.map((c) => toPem('CERTIFICATE', c.der)).join(''), key: privateKeyPem(clientAuth.key) } : undefined;
  }

  async requestVoucher(masaUrl: string, rvr: string): Promise<string> {
    const voucher = await this.requestVoucherIn(masaUrl, { mediaType: VOUCHER_JWS_MEDIA_TYPE, bytes: utf8(rvr) }, VOUCHER_JWS_MEDIA_TYPE);
    return fromUtf8(voucher.bytes);
  }

  async requestVoucherIn(masaUrl: string, rvr: EncodedVoucher, accept: VoucherMediaType, tls?: MasaTls): Promise<EncodedVoucher> {
    const res = await this.#send(masaUrl, 'POST', '/.well-known/brski/requestvoucher', rvr.bytes, rvr.mediaType, { accept }, tls);
    let mediaType: VoucherMediaType;
    try {
      mediaType = parseVoucherMediaType(res.contentType);
    } catch (cause) {
      throw new AirlockError('ERR_MASA_REFUSED', 'the MASA answered with no voucher media type', { cause });
    }
    if (mediaType !== accept) throw new AirlockError('ERR_MASA_REFUSED', `asked for ${accept}, the MASA answered ${mediaType}`);
    return { mediaType, bytes: res.bytes };
  }

  async fetchDeclarationChain(masaUrl: string, serial: string, opts: { readRequest?: string; tls?: MasaTls } = {}): Promise<string[]> {
    const headers: Record<string, string> = opts.readRequest ? { [DECLARATION_READ_HEADER]: opts.readRequest } : {};
    return chainOf(fromUtf8((await this.#send(masaUrl, 'GET', `/declarations/${encodeURIComponent(serial)}`, undefined, undefined, headers, opts.tls)).bytes));
  }

  async requestAuditLog(masaUrl: string, rvr: string | EncodedVoucher, tls?: MasaTls): Promise<AuditLog> {
    const request = typeof rvr === 'string' ? { mediaType: VOUCHER_JWS_MEDIA_TYPE, bytes: utf8(rvr) } : rvr;
    return parseAuditLog(fromUtf8((await this.#send(masaUrl, 'POST', '/.well-known/brski/requestauditlog', request.bytes, request.mediaType, {}, tls)).bytes));
  }

  async sendOwnershipRequest(manufacturerUrl: string, serial: string, request: string): Promise<string[]> {
    return chainOf(await this.#call(manufacturerUrl, 'POST', `/declarations/${encodeURIComponent(serial)}`, request, 'application/jose'));
  }

  async #call(masaUrl: string, method: 'GET' | 'POST', path: string, body?: string, contentType?: string, extraHeaders: Record<string, string> = {}): Promise<string> {
    return fromUtf8((await this.#send(masaUrl, method, path, body === undefined ? undefined : utf8(body), contentType, extraHeaders)).bytes);
  }

  async #send(masaUrl: string, method: 'GET' | 'POST', path: string, body?: Uint8Array, contentType?: string, extraHeaders: Record<string, string> = {}, tls?: MasaTls): Promise<{ contentType: string; bytes: Uint8Array }> {
    let origin: string;
    let base: string;
    try {
      const u = new URL(masaUrl);
      if (u.protocol !== 'https:') throw new Error('not https');
      origin = u.origin;
      // A MASA under a path prefix (normaliseMasaUrl keeps it) is asked under that prefix.
      base = u.pathname.replace(/\/+$/, '');
    } catch {
      throw new AirlockError('ERR_IDEVID_INVALID', 'the MASA URL is not an https URL');
    }
    // One pool per origin and set of anchors: a manufacturer's MASA is trusted on its own anchors only.
    const ca = tls ? tls.anchors.map((c) => toPem('CERTIFICATE', c.der)).join('') : this.trustAnchorsPem;
    const poolKey = `${origin}|${ca}`;
    let pool = this.#pools.get(poolKey);
    if (!pool) {
      pool = new Pool(origin, {
        connections: 8,
        pipelining: 1,
        headersTimeout: MASA_TIMEOUT_MS,
        bodyTimeout: MASA_TIMEOUT_MS,
        maxResponseSize: MASA_MAX_RESPONSE_BYTES,
        connect: {
          ca,
          rejectUnauthorized: true,
          // RFC 8995 section 5.4 allows TLS 1.2: with ECDHE and AEAD only, as Airlock's servers.
          minVersion: 'TLSv1.2',
          ciphers: MASA_TLS_CIPHERS,
          // Full handshakes only: a resumed TLS session would carry the registrar's certificate
          // without the domain CA it sent, and the manufacturer names the registrar's party by it.
          maxCachedSessions: 0,
          timeout: MASA_TIMEOUT_MS,
          ...this.#clientCert,
        },
      });
      this.#pools.set(poolKey, pool);
    }
    try {
      const res = await pool.request({ method, path: `${base}${path}`, body, headers: { ...extraHeaders, ...(contentType ? { 'content-type': contentType } : {}) } });
      const bytes = new Uint8Array(await res.body.arrayBuffer());
      const ct = String(res.headers['content-type'] ?? '');
      if (res.statusCode >= 200 && res.statusCode < 300) return { contentType: ct, bytes };
      throw ct.startsWith(PROBLEM_MEDIA_TYPE) ? fromProblem(res.statusCode, fromUtf8(bytes)) : new AirlockError('ERR_MASA_REFUSED', `HTTP ${res.statusCode}`);
    } catch (e) {
      if (isAirlockError(e)) throw e;
      throw new AirlockError('ERR_MASA_UNREACHABLE', (e as Error).message, { cause: e });
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
  }
}

function chainOf(body: string): string[] {
  try {
    return parseJson(body, DeclarationReply).chain;
  } catch (cause) {
    throw new AirlockError('ERR_DECLARATION_MALFORMED', 'the manufacturer sent no declaration chain', { cause });
  }
}
