/**
 * HTTPS servers for the roles: fastify over TLS 1.3 and TLS 1.2 (RFC 8995 section 5.1: a
 * registrar and a MASA must accept TLS 1.2 pledges and EST clients, RFC 7030 section 3.3.1),
 * ECDHE with AEAD ciphers only. Client certificates are requested (and judged by the routes,
 * not by OpenSSL, so that a refusal is a typed problem body). Every phase of a connection is
 * time-limited and connections are capped (limits.ts); every error is an RFC 9457 problem
 * body, those Node's parser raises before any route included; one log line per request;
 * `GET /healthz`; and a bounded, graceful close (`closeGracefully`).
 */
import * as https from 'node:https';
import { constants as cryptoConstants } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AirlockError, ensure, isAirlockError } from '../../core/errors.js';
import type { PrivateKeyHandle } from '../../core/ports.js';
import { toPem } from '../../core/bytes.js';
import {
  VOUCHER_CMS_MEDIA_TYPE,
  VOUCHER_COSE_MEDIA_TYPE,
  parseVoucherMediaType,
  type EncodedVoucher,
} from '../../protocols/voucher/codec.js';
import { parseCertificate, type Certificate } from '../../protocols/x509/certificate.js';
import { privateKeyPem } from '../crypto/node-crypto.js';
import type { Logger } from '../log/logger.js';
import { PROBLEM_MEDIA_TYPE, rawProblemResponse, toProblem } from './problem.js';
import { ConnectionGuard, defaultServerLimits, type ServerLimits } from './limits.js';

export interface HttpsServerOptions {
  key: PrivateKeyHandle;
  /** Server certificate first, then its issuers. */
  certChain: readonly Certificate[];
  requestClientCert: boolean;
  logger: Logger;
  bodyLimit?: number;
  /** Time limits and connection caps; defaultServerLimits where absent. */
  limits?: Partial<ServerLimits>;
}

/**
 * The cipher suites the servers accept. TLS 1.3: its three AEAD suites. TLS 1.2: ECDHE key
 * exchange (forward secrecy) with ECDSA authentication (the servers' keys are P-256) and an
 * AEAD cipher; no CBC, no static RSA, no SHA-1 MAC.
 */
export const TLS13_CIPHER_SUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
] as const;
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
] as const;

/** Media types whose body a route receives as a string. */
const TEXT_TYPES = [
  'application/voucher-jws+json',
  'application/jose',
  'application/pkcs10',
  'application/airlock-declaration-chain+json',
  'text/plain',
];

/** Media types whose body a route receives as bytes. */
const BINARY_TYPES = [VOUCHER_CMS_MEDIA_TYPE, VOUCHER_COSE_MEDIA_TYPE];

declare module 'fastify' {
  interface FastifyRequest {
    /** The device serial number this request is about, once a route knows it (for the request log). */
    airlockSerial: string | undefined;
    /** The AirlockError code of the request's problem response, if any (for the request log). */
    airlockCode: string | undefined;
  }
}

/** Names the device a request is about, for its log line. Routes call it once they know. */
export function setRequestSerial(req: FastifyRequest, serial: string): void {
  req.airlockSerial = serial;
}

interface ServerState {
  draining: boolean;
  guard: ConnectionGuard;
  closing?: Promise<void>;
}

const states = new WeakMap<FastifyInstance, ServerState>();

export function createHttpsServer(opts: HttpsServerOptions): FastifyInstance {
  const limits: ServerLimits = { ...defaultServerLimits, ...opts.limits };
  for (const [name, v] of Object.entries(limits))
    ensure(Number.isSafeInteger(v) && v > 0, 'ERR_CONFIG', `${name} must be a positive integer`);
  ensure(
    limits.headersTimeoutMs <= limits.requestTimeoutMs,
    'ERR_CONFIG',
    'headersTimeoutMs must not exceed requestTimeoutMs',
  );
  const log = opts.logger;
  const guard = new ConnectionGuard(limits, {
    refused: (reason, address) =>
      log.warn({ reason, peer: address }, 'connection refused: over the connection limit'),
  });
  const state: ServerState = { draining: false, guard };
  // How often Node looks for requests over their time limits.
  const checkEveryMs = Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4)));
  const app = Fastify({
    logger: false,
    bodyLimit: opts.bodyLimit ?? 64 * 1024,
    // Shutdown is ours (closeGracefully): a 503 problem body, not fastify's.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    serverFactory: (handler) => {
      const server = https.createServer(
        {
          key: privateKeyPem(opts.key),
          cert: opts.certChain.map((c) => toPem('CERTIFICATE', c.der)).join(''),
          minVersion: 'TLSv1.2',
          ciphers: [...TLS13_CIPHER_SUITES, ...TLS12_CIPHERS].join(':'),
          honorCipherOrder: true,
          // No stateless session tickets: Airlock's clients never resume (a device onboards on
          // one connection; the registrar keeps its MASA connections open), and sealing a copy
          // of every session into two tickets cost the registrar a quarter of a handshake
          // (docs/BENCHMARKS.md). TLS 1.3 then sends session IDs that no cache keeps.
          secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
          requestCert: opts.requestClientCert,
          rejectUnauthorized: false,
          handshakeTimeout: limits.tlsHandshakeTimeoutMs,
          maxHeaderSize: limits.maxHeaderBytes,
          // Runs from the connection's start for its first request, so a client that
          // handshakes and then says nothing is closed too (test/e2e/slow-clients.test.ts).
          headersTimeout: limits.headersTimeoutMs,
          requestTimeout: limits.requestTimeoutMs,
          keepAliveTimeout: limits.keepAliveTimeoutMs,
          connectionsCheckingInterval: checkEveryMs,
        },
        handler,
      );
      server.maxRequestsPerSocket = limits.maxRequestsPerConnection;
      guard.attach(server);
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
        log.debug({ code: err.code, peer: socket.remoteAddress }, 'TLS handshake failed');
      });
      return server;
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) =>
      clientError(err, socket, log),
    frameworkErrors: (_err, req, reply) => {
      void sendProblem(
        req,
        reply,
        new AirlockError('ERR_HTTP_MALFORMED', 'the request target is not a valid URL'),
      );
    },
  });
  states.set(app, state);
  app.decorateRequest('airlockSerial', undefined);
  app.decorateRequest('airlockCode', undefined);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(TEXT_TYPES, { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );
  app.addContentTypeParser(BINARY_TYPES, { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new AirlockError('ERR_INPUT_MALFORMED_JSON'), undefined);
    }
  });
  // Callback hooks, not async ones: every request runs them, and a promise each is not free.
  // A hook that answers the request itself does not call done.
  app.addHook('onRequest', (req, reply, done) => {
    if (state.draining) {
      void reply.header('connection', 'close');
      sendProblem(req, reply, new AirlockError('ERR_HTTP_SHUTTING_DOWN'));
      return;
    }
    // Node's parser bounds the request line with the headers; the target has its own, lower bound.
    if ((req.raw.url ?? '').length > limits.maxUrlBytes) {
      sendProblem(req, reply, new AirlockError('ERR_HTTP_URI_TOO_LONG'));
      return;
    }
    done();
  });
  app.addHook('onSend', (_req, reply, payload, done) => {
    // A response finished while draining ends its connection.
    if (state.draining) void reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (req, reply, done) => {
    done();
    if (!log.isLevelEnabled('info')) return;
    log.info(
      {
        method: req.method,
        path: logPath(req.raw.url),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ...(req.airlockSerial !== undefined ? { serial: req.airlockSerial } : presentedSerial(req)),
        ...(req.airlockCode !== undefined ? { code: req.airlockCode } : {}),
      },
      'request',
    );
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.setNotFoundHandler((req, reply) => {
    // The path is never echoed: it is the client's input.
    void sendProblem(req, reply, new AirlockError('ERR_NOT_FOUND'));
  });
  app.setErrorHandler((err, req, reply) => {
    const e = asAirlockError(err);
    const p = toProblem(e);
    if (p.status >= 500)
      opts.logger.error(
        {
          code: e.code,
          route: req.routeOptions.url,
          err: { message: e.message, cause: String((e.cause as Error | undefined)?.message ?? '') },
        },
        'request failed',
      );
    else opts.logger.debug({ code: e.code, route: req.routeOptions.url }, 'request refused');
    return sendProblem(req, reply, e);
  });
  return app;
}

function sendProblem(req: FastifyRequest, reply: FastifyReply, e: AirlockError): FastifyReply {
  const p = toProblem(e);
  req.airlockCode = e.code;
  return reply.code(p.status).type(PROBLEM_MEDIA_TYPE).send(p);
}

/**
 * A request Node's HTTP parser refused before any route saw it: headers too large, a request
 * too slow, malformed HTTP. Answered with a problem body on the raw socket, then closed.
 */
function clientError(err: NodeJS.ErrnoException, socket: Socket, log: Logger): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 'ERR_HTTP_HEADERS_TOO_LARGE'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'ERR_HTTP_TIMEOUT'
        : 'ERR_HTTP_MALFORMED';
  const e = new AirlockError(code);
  const pending = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  const status = toProblem(e).status;
  // A response already started cannot be replaced: the connection just ends.
  if (socket.writable && !pending?.headersSent) socket.write(rawProblemResponse(e));
  log.info({ status, code, peer: socket.remoteAddress }, 'request');
  socket.destroy();
}

/** The request path for the log: no query (it may carry anything), bounded in length. */
function logPath(url: string | undefined): string {
  const p = (url ?? '').split('?')[0] ?? '';
  return p.length > 128 ? `${p.slice(0, 128)}...` : p;
}

/** The serialNumber of the certificate the client presented, once a route has read it: a claim, named as one. */
function presentedSerial(req: FastifyRequest): { claimedSerial?: string } {
  const cert = peerCerts.get(req.raw.socket);
  return cert?.subjectSerialNumber ? { claimedSerial: cert.subjectSerialNumber } : {};
}

/**
 * Drains and closes the server: no new connections; new requests on kept-alive connections
 * get a 503 problem (ERR_HTTP_SHUTTING_DOWN) and the connection closes; requests in flight
 * may finish for up to `boundMs`, then every connection left is destroyed. Resolves once the
 * server is closed, so at most about `boundMs` after the call. Calling it again returns the
 * same promise.
 */
export function closeGracefully(app: FastifyInstance, boundMs: number): Promise<void> {
  const state = states.get(app);
  if (!state) return app.close();
  state.closing ??= (async () => {
    state.draining = true;
    state.guard.startDraining();
    const timer = setTimeout(() => state.guard.destroyAll(), boundMs);
    try {
      await app.close();
    } finally {
      clearTimeout(timer);
    }
  })();
  return state.closing;
}

/** Whether the server is draining (closeGracefully has been called). */
export function isDraining(app: FastifyInstance): boolean {
  return states.get(app)?.draining ?? false;
}

function asAirlockError(err: unknown): AirlockError {
  if (isAirlockError(err)) return err;
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AirlockError('ERR_INPUT_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AirlockError('ERR_INPUT_MEDIA_TYPE');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AirlockError('ERR_INPUT_MALFORMED_JSON');
    case 'FST_ERR_VALIDATION':
      return new AirlockError('ERR_INPUT_SCHEMA');
    default:
      return new AirlockError('ERR_INTERNAL', undefined, { cause: err });
  }
}

const peerCerts = new WeakMap<object, Certificate | null>();

/**
 * The TLS client certificate of the request's connection, parsed once per connection. Read
 * with getPeerCertificate: getPeerX509Certificate copies the whole chain the client sent
 * through OpenSSL's decoders, 330 us against 150 us for a device's two-certificate chain.
 */
export function clientCertificate(req: FastifyRequest): Certificate | undefined {
  const socket = req.raw.socket as TLSSocket;
  let cached = peerCerts.get(socket);
  if (cached === undefined) {
    const raw =
      typeof socket.getPeerCertificate === 'function'
        ? socket.getPeerCertificate(false)?.raw
        : undefined;
    cached = raw ? parseCertificate(new Uint8Array(raw)) : null;
    peerCerts.set(socket, cached);
  }
  return cached ?? undefined;
}

/** The body of a request that must be of `mediaType` (as a string); ERR_INPUT_MEDIA_TYPE otherwise. */
/** A signed voucher or voucher request in the body, in whichever format its Content-Type names. */
export function voucherBody(req: FastifyRequest): EncodedVoucher {
  const mediaType = parseVoucherMediaType(req.headers['content-type'] ?? '');
  const body: unknown = req.body;
  if (typeof body === 'string') return { mediaType, bytes: new TextEncoder().encode(body) };
  if (body instanceof Uint8Array)
    return { mediaType, bytes: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) };
  throw new AirlockError('ERR_INPUT_MEDIA_TYPE', `expected ${mediaType}`);
}

export function textBody(req: FastifyRequest, mediaType: string): string {
  if (
    typeof req.body !== 'string' ||
    !req.headers['content-type']?.toLowerCase().startsWith(mediaType)
  ) {
    throw new AirlockError('ERR_INPUT_MEDIA_TYPE', `expected ${mediaType}`);
  }
  return req.body;
}

/** An RFC 5705 exporter value for the request's TLS connection. */
export function channelBinding(req: FastifyRequest, label: string, length: number): Uint8Array {
  return new Uint8Array(
    (req.raw.socket as TLSSocket).exportKeyingMaterial(length, label, Buffer.alloc(0)),
  );
}

export async function listen(
  app: FastifyInstance,
  port: number,
  host = '127.0.0.1',
): Promise<{ port: number; url: string }> {
  await app.listen({ port, host });
  const addr = app.server.address() as AddressInfo;
  return {
    port: addr.port,
    url: `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${addr.port}`,
  };
}
