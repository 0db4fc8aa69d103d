/**
 * The registrar's client for MASAs (RFC 8995 section 5.4): TLS to the MASA URL named in the
 * device's IDevID, authenticated against that device's manufacturer's trust anchors (or, for a
 * URL an operator gave, every trusted manufacturer's) and the URL's host name, with one
 * keep-alive pool per MASA origin and set of anchors. When given
 * the registrar's certificate and key, it presents them as its TLS client certificate
 * (section 5.4 allows it; the manufacturer shows declarations only to parties it can name).
 *
 * The HTTP is our own (connection-pool.ts over connection.ts and http1.ts): after every
 * voucher the registrar asks the MASA twice, and undici cost about 150 us of CPU more per
 * request than writing the request and parsing the answer on the TLS socket directly. A
 * request is never sent again once any of it may have reached the MASA (a voucher request
 * consumes its nonce); connection-pool.ts says when one is retried.
 */
import { createHash } from 'node:crypto';
import { AirlockError } from '../../core/errors.js';
import { PROBLEM_MEDIA_TYPE, bareDetail, fromProblem } from './problem.js';
import { ConnectionPool } from './connection-pool.js';
import { DeclarationReply, parseJson } from '../../protocols/airlock/messages.js';
import { parseAuditLog, type AuditLog } from '../../protocols/brski/audit-log.js';
import { DECLARATION_READ_HEADER } from '../../protocols/declaration/read-request.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import type { PrivateKeyHandle } from '../../core/ports.js';
import { fromUtf8, toPem, utf8 } from '../../core/bytes.js';
import {
  VOUCHER_JWS_MEDIA_TYPE,
  parseVoucherMediaType,
  type EncodedVoucher,
  type VoucherMediaType,
} from '../../protocols/voucher/codec.js';
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
  requestVoucherIn?(
    masaUrl: string,
    registrarVoucherRequest: EncodedVoucher,
    accept: VoucherMediaType,
    tls?: MasaTls,
  ): Promise<EncodedVoucher>;
  /**
   * A device's declaration chain, readable by its owner and authorized onboarders only:
   * authenticated by the client certificate, or by `readRequest` (protocols/declaration/read-request.ts).
   */
  fetchDeclarationChain(
    masaUrl: string,
    serial: string,
    opts?: { readRequest?: string; tls?: MasaTls },
  ): Promise<string[]>;
  /** RFC 8995 section 5.8: the device's audit log, for the registrar voucher request sent for it. */
  requestAuditLog?(
    masaUrl: string,
    registrarVoucherRequest: string | EncodedVoucher,
    tls?: MasaTls,
  ): Promise<AuditLog>;
  /** Sends an owner's signed ownership request; returns the new declaration chain. */
  sendOwnershipRequest(manufacturerUrl: string, serial: string, request: string): Promise<string[]>;
  close(): Promise<void>;
}

/** How long the MASA may take to connect (TCP and TLS), and to answer a request, from sending it to the answer's last byte. */
const MASA_TIMEOUT_MS = 15_000;
/** Keep-alive connections per MASA origin and set of anchors. */
const MASA_CONNECTIONS = 8;
/** The largest answer read from a MASA (vouchers, declaration chains and audit logs are small). */
const MASA_MAX_RESPONSE_BYTES = 1024 * 1024;
const MASA_TLS_CIPHERS = [
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

export class HttpMasaClient implements MasaClient {
  /** By origin and anchors (`#poolFor`). */
  readonly #pools = new Map<string, ConnectionPool>();
  /** MASA URLs as parsed, by URL (a registrar asks few MASAs, many times). */
  readonly #targets = new Map<string, { origin: string; base: string }>();
  #closed = false;

  readonly #clientCert: { cert: string; key: string } | undefined;

  /** `clientAuth`: the registrar's key and its certificate chain (leaf first, then its CA). */
  constructor(
    private readonly trustAnchorsPem: string,
    clientAuth?: { key: PrivateKeyHandle; certChain: readonly Certificate[] },
  ) {
    this.#clientCert = clientAuth
      ? {
          cert: clientAuth.certChain.map((c) => toPem('CERTIFICATE', c.der)).join(''),
          key: privateKeyPem(clientAuth.key),
        }
      : undefined;
  }

  async requestVoucher(masaUrl: string, rvr: string): Promise<string> {
    const voucher = await this.requestVoucherIn(
      masaUrl,
      { mediaType: VOUCHER_JWS_MEDIA_TYPE, bytes: utf8(rvr) },
      VOUCHER_JWS_MEDIA_TYPE,
    );
    return fromUtf8(voucher.bytes);
  }

  async requestVoucherIn(
    masaUrl: string,
    rvr: EncodedVoucher,
    accept: VoucherMediaType,
    tls?: MasaTls,
  ): Promise<EncodedVoucher> {
    const res = await this.#send(
      masaUrl,
      'POST',
      '/.well-known/brski/requestvoucher',
      rvr.bytes,
      rvr.mediaType,
      { accept },
      tls,
    );
    let mediaType: VoucherMediaType;
    try {
      mediaType = parseVoucherMediaType(res.contentType);
    } catch (cause) {
      throw new AirlockError(
        'ERR_MASA_ANSWER_MALFORMED',
        'the MASA answered with no voucher media type',
        { cause },
      );
    }
    if (mediaType !== accept)
      throw new AirlockError(
        'ERR_MASA_ANSWER_MALFORMED',
        `asked for ${accept}, the MASA answered ${mediaType}`,
      );
    return { mediaType, bytes: res.bytes };
  }

  async fetchDeclarationChain(
    masaUrl: string,
    serial: string,
    opts: { readRequest?: string; tls?: MasaTls } = {},
  ): Promise<string[]> {
    const headers: Record<string, string> = opts.readRequest
      ? { [DECLARATION_READ_HEADER]: opts.readRequest }
      : {};
    return chainOf(
      fromUtf8(
        (
          await this.#send(
            masaUrl,
            'GET',
            `/declarations/${encodeURIComponent(serial)}`,
            undefined,
            undefined,
            headers,
            opts.tls,
          )
        ).bytes,
      ),
    );
  }

  async requestAuditLog(
    masaUrl: string,
    rvr: string | EncodedVoucher,
    tls?: MasaTls,
  ): Promise<AuditLog> {
    const request =
      typeof rvr === 'string' ? { mediaType: VOUCHER_JWS_MEDIA_TYPE, bytes: utf8(rvr) } : rvr;
    return parseAuditLog(
      fromUtf8(
        (
          await this.#send(
            masaUrl,
            'POST',
            '/.well-known/brski/requestauditlog',
            request.bytes,
            request.mediaType,
            {},
            tls,
          )
        ).bytes,
      ),
    );
  }

  async sendOwnershipRequest(
    manufacturerUrl: string,
    serial: string,
    request: string,
  ): Promise<string[]> {
    return chainOf(
      await this.#call(
        manufacturerUrl,
        'POST',
        `/declarations/${encodeURIComponent(serial)}`,
        request,
        'application/jose',
      ),
    );
  }

  async #call(
    masaUrl: string,
    method: 'GET' | 'POST',
    path: string,
    body?: string,
    contentType?: string,
    extraHeaders: Record<string, string> = {},
  ): Promise<string> {
    return fromUtf8(
      (
        await this.#send(
          masaUrl,
          method,
          path,
          body === undefined ? undefined : utf8(body),
          contentType,
          extraHeaders,
        )
      ).bytes,
    );
  }

  async #send(
    masaUrl: string,
    method: 'GET' | 'POST',
    path: string,
    body?: Uint8Array,
    contentType?: string,
    extraHeaders: Record<string, string> = {},
    tls?: MasaTls,
  ): Promise<{ contentType: string; bytes: Uint8Array }> {
    const { origin, base } = this.#target(masaUrl);
    let res;
    try {
      const pool = this.#poolFor(origin, tls);
      // A MASA under a path prefix (normaliseMasaUrl keeps it) is asked under that prefix.
      res = await pool.request(method, `${base}${path}`, {
        headers: contentType ? { ...extraHeaders, 'content-type': contentType } : extraHeaders,
        ...(body !== undefined ? { body } : {}),
      });
    } catch (e) {
      // Not reached, refused at TLS (anchors, host name), no answer in time, an answer too large or malformed.
      throw new AirlockError('ERR_MASA_UNREACHABLE', bareDetail((e as Error).message), {
        cause: e,
      });
    }
    const ct = res.headers.get('content-type') ?? '';
    const bytes = new Uint8Array(res.body.buffer, res.body.byteOffset, res.body.byteLength);
    if (res.status >= 200 && res.status < 300) return { contentType: ct, bytes };
    throw ct.startsWith(PROBLEM_MEDIA_TYPE)
      ? fromProblem(res.status, fromUtf8(bytes))
      : new AirlockError('ERR_MASA_REFUSED', `HTTP ${res.status}`);
  }

  /** The MASA URL's origin, and its path as a prefix without trailing slashes. */
  #target(masaUrl: string): { origin: string; base: string } {
    let t = this.#targets.get(masaUrl);
    if (t !== undefined) return t;
    try {
      const u = new URL(masaUrl);
      if (u.protocol !== 'https:') throw new Error('not https');
      t = { origin: u.origin, base: u.pathname.replace(/\/+$/, '') };
    } catch {
      throw new AirlockError('ERR_IDEVID_INVALID', 'the MASA URL is not an https URL');
    }
    // URLs come from devices' certificates: the cache is bounded.
    if (this.#targets.size >= 256) this.#targets.clear();
    this.#targets.set(masaUrl, t);
    return t;
  }

  /**
   * One pool per origin and set of anchors: a manufacturer's MASA is trusted on its own
   * anchors only. Anchors are known by their SHA-256, computed once per certificate, and
   * their PEM is written once, for the pool.
   */
  #poolFor(origin: string, tls: MasaTls | undefined): ConnectionPool {
    if (this.#closed) throw new AirlockError('ERR_TRANSPORT', 'the MASA client is closed');
    const key =
      tls === undefined
        ? origin
        : tls.anchors.length === 1
          ? `${origin} ${anchorId(tls.anchors[0]!)}`
          : `${origin} ${tls.anchors.map(anchorId).join(',')}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = new ConnectionPool(origin, {
        maxConnections: MASA_CONNECTIONS,
        connection: {
          ca: tls
            ? tls.anchors.map((c) => toPem('CERTIFICATE', c.der)).join('')
            : this.trustAnchorsPem,
          // The certificate must name the MASA URL's host (an IP address: in its IP SANs).
          verifyHostname: true,
          // RFC 8995 section 5.4 allows TLS 1.2: with ECDHE and AEAD only, as Airlock's servers.
          minVersion: 'TLSv1.2',
          ciphers: MASA_TLS_CIPHERS,
          handshakeTimeoutMs: MASA_TIMEOUT_MS,
          requestTimeoutMs: MASA_TIMEOUT_MS,
          maxResponseBytes: MASA_MAX_RESPONSE_BYTES,
          // Full handshakes only, and PeerConnection never offers a session to resume: a resumed
          // TLS session would carry the registrar's certificate without the domain CA it sent,
          // and the manufacturer names the registrar's party by it.
          ...this.#clientCert,
        },
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** Closes every connection once its request (if any) is answered; later requests are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
  }
}

/** An anchor's identity in a pool key: its SHA-256, once per certificate object. */
const anchorIds = new WeakMap<Certificate, string>();
function anchorId(c: Certificate): string {
  let id = anchorIds.get(c);
  if (id === undefined) {
    id = createHash('sha256').update(c.der).digest('base64');
    anchorIds.set(c, id);
  }
  return id;
}

function chainOf(body: string): string[] {
  try {
    return parseJson(body, DeclarationReply).chain;
  } catch (cause) {
    throw new AirlockError(
      'ERR_DECLARATION_MALFORMED',
      'the manufacturer sent no declaration chain',
      { cause },
    );
  }
}
