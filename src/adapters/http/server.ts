/**
 * HTTPS servers for the roles: fastify over TLS 1.3, client certificates requested (and
 * judged by the routes, not by OpenSSL, so that a refusal is a typed problem body), bodies
 * bounded, every error a problem+json.
 */
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import type { PrivateKeyHandle } from '../../core/ports.js';
import { toPem } from '../../core/bytes.js';
import { parseCertificate, type Certificate } from '../../protocols/x509/certificate.js';
import { privateKeyPem } from '../crypto/node-crypto.js';
import type { Logger } from '../log/logger.js';
import { PROBLEM_MEDIA_TYPE, toProblem } from './problem.js';

export interface HttpsServerOptions {
  key: PrivateKeyHandle;
  /** Server certificate first, then its issuers. */
  certChain: readonly Certificate[];
  requestClientCert: boolean;
  logger: Logger;
  bodyLimit?: number;
}

/** Media types whose body a route receives as a string. */
const TEXT_TYPES = ['application/voucher-jws+json', 'application/jose', 'application/pkcs10', 'application/airlock-declaration-chain+json', 'text/plain'];

export function createHttpsServer(opts: HttpsServerOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: opts.bodyLimit ?? 64 * 1024,
    https: {
      key: privateKeyPem(opts.key),
      cert: opts.certChain.map((c) => toPem('CERTIFICATE', c.der)).join(''),
      minVersion: 'TLSv1.3',
      requestCert: opts.requestClientCert,
      rejectUnauthorized: false,
    },
    keepAliveTimeout: 30_000,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(TEXT_TYPES, { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new AirlockError('ERR_INPUT_MALFORMED_JSON'), undefined);
    }
  });
  app.setNotFoundHandler((req, reply) => {
    const p = toProblem(new AirlockError('ERR_NOT_FOUND', `${req.method} ${req.url.split('?')[0]}`));
    void reply.code(p.status).type(PROBLEM_MEDIA_TYPE).send(p);
  });
  app.setErrorHandler((err, req, reply) => {
    const e = asAirlockError(err);
    const p = toProblem(e);
    if (p.status >= 500) opts.logger.error({ code: e.code, route: req.routeOptions.url, err: { message: e.message, cause: String((e.cause as Error | undefined)?.message ?? '') } }, 'request failed');
    else opts.logger.debug({ code: e.code, route: req.routeOptions.url }, 'request refused');
    void reply.code(p.status).type(PROBLEM_MEDIA_TYPE).send(p);
  });
  return app;
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

/** The TLS client certificate of the request's connection, parsed once per connection. */
export function clientCertificate(req: FastifyRequest): Certificate | undefined {
  const socket = req.raw.socket as TLSSocket;
  let cached = peerCerts.get(socket);
  if (cached === undefined) {
    const peer = typeof socket.getPeerX509Certificate === 'function' ? socket.getPeerX509Certificate() : undefined;
    cached = peer ? parseCertificate(new Uint8Array(peer.raw)) : null;
    peerCerts.set(socket, cached);
  }
  return cached ?? undefined;
}

/** The body of a request that must be of `mediaType` (as a string); ERR_INPUT_MEDIA_TYPE otherwise. */
export function textBody(req: FastifyRequest, mediaType: string): string {
  if (typeof req.body !== 'string' || !req.headers['content-type']?.toLowerCase().startsWith(mediaType)) {
    throw new AirlockError('ERR_INPUT_MEDIA_TYPE', `expected ${mediaType}`);
  }
  return req.body;
}

/** An RFC 5705 exporter value for the request's TLS connection. */
export function channelBinding(req: FastifyRequest, label: string, length: number): Uint8Array {
  return new Uint8Array((req.raw.socket as TLSSocket).exportKeyingMaterial(length, label, Buffer.alloc(0)));
}

export async function listen(app: FastifyInstance, port: number, host = '127.0.0.1'): Promise<{ port: number; url: string }> {
  await app.listen({ port, host });
  const addr = app.server.address() as AddressInfo;
  return { port: addr.port, url: `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${addr.port}` };
}
