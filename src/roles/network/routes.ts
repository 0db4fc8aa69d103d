/**
 * The registrar's wire binding: RFC 8995 (/.well-known/brski), RFC 7030 (/.well-known/est),
 * and Airlock's additions for the steps BRSKI leaves open (/.well-known/airlock).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  channelBinding,
  clientCertificate,
  setRequestSerial,
  textBody,
  voucherBody,
} from '../../adapters/http/server.js';
import { negotiateVoucherFormat } from '../../protocols/voucher/codec.js';
import { CERTS_ONLY_MEDIA_TYPE, encodeCertsOnly } from '../../protocols/est/certs-only.js';
import { csrAttributes } from '../../protocols/est/csr.js';
import { toBase64 } from '../../core/bytes.js';
import { EAT_JWT_MEDIA_TYPE } from '../../protocols/eat/claims.js';
import { MAX_EAT_BYTES } from '../../protocols/eat/token.js';
import {
  ATTESTATION_STATUS_FIELD,
  EVIDENCE_FIELD,
  EVIDENCE_TYPE_FIELD,
} from '../../protocols/airlock/messages.js';
import { AirlockError } from '../../core/errors.js';
import type { ChannelContext } from './registrar.js';
import type { Network } from './index.js';

function channel(req: FastifyRequest): ChannelContext {
  return {
    clientCert: clientCertificate(req),
    exporter: (label, length) => channelBinding(req, label, length),
    peer: req.ip,
    connection: req.raw.socket,
    identified: (serial) => setRequestSerial(req, serial),
  };
}

/** The evidence a voucher request carries in Airlock's fields: both or neither, each once. */
function evidenceFields(req: FastifyRequest): { mediaType: string; evidence: string } | undefined {
  // Distinct: Node joins a repeated field's values with ', ', which would read as one value.
  const [mediaType, ...moreTypes] = req.raw.headersDistinct[EVIDENCE_TYPE_FIELD] ?? [];
  const [evidence, ...moreEvidence] = req.raw.headersDistinct[EVIDENCE_FIELD] ?? [];
  if (mediaType === undefined && evidence === undefined) return undefined;
  if (!mediaType || !evidence || moreTypes.length > 0 || moreEvidence.length > 0)
    throw new AirlockError(
      'ERR_INPUT_SCHEMA',
      `${EVIDENCE_TYPE_FIELD} and ${EVIDENCE_FIELD} go together, once each`,
    );
  return { mediaType, evidence };
}

export function registrarRoutes(app: FastifyInstance, n: Network): void {
  const r = n.registrar;

  // Steps 2 to 4 (docs/ATTESTATION.md): Airlock's extension, optional for a pledge. The
  // evidence is text (a JWT); its media type's parameters are the verifier's to judge.
  app.addContentTypeParser(
    EAT_JWT_MEDIA_TYPE,
    { parseAs: 'string', bodyLimit: MAX_EAT_BYTES },
    (_req, body, done) => done(null, body),
  );
  app.post('/.well-known/airlock/attestation/challenge', async (req) =>
    r.attestationChallenge(channel(req)),
  );

  app.post('/.well-known/airlock/attestation', async (req) => {
    const mediaType = req.headers['content-type'] ?? '';
    const out = await r.attestation(channel(req), mediaType, textBody(req, 'application/eat+jwt'));
    // Nothing about the network yet: the device learns whether it may go on, no more.
    return { status: out.status };
  });

  app.post('/.well-known/brski/requestvoucher', async (req, reply) => {
    // RFC 8995 section 5.2: the pledge's request in JWS or CMS; the voucher in the format its
    // Accept asks for (by default the request's own), passed on to the MASA; else 406. With
    // Airlock's evidence fields, steps 2 to 4 come first (docs/ATTESTATION.md).
    const pvr = voucherBody(req);
    const evidence = evidenceFields(req);
    const voucher = await r.requestVoucherIn(
      channel(req),
      pvr,
      negotiateVoucherFormat(req.headers.accept, pvr.mediaType),
      evidence,
    );
    if (voucher.attestation) reply.header(ATTESTATION_STATUS_FIELD, voucher.attestation);
    return reply.type(voucher.mediaType).send(Buffer.from(voucher.bytes));
  });

  app.get('/.well-known/airlock/declaration', async (req) => ({
    chain: await r.declaration(channel(req)),
  }));

  // RFC 8995 section 5.7: application/json telemetry; application/jose is Airlock's signed, channel-bound form.
  app.post('/.well-known/brski/voucher_status', async (req) => {
    const json = req.headers['content-type']?.toLowerCase().startsWith('application/json');
    return r.voucherStatus(
      channel(req),
      json ? { json: req.body } : { jose: textBody(req, 'application/jose') },
    );
  });

  app.post('/.well-known/airlock/app-bootstrap', async (req) =>
    r.appBootstrap(channel(req), req.body),
  );

  app.get('/.well-known/est/cacerts', async (_req, reply) => {
    return reply
      .type(CERTS_ONLY_MEDIA_TYPE)
      .header('content-transfer-encoding', 'base64')
      .send(n.cacertsBody);
  });

  app.get('/.well-known/est/csrattrs', async (_req, reply) => {
    return reply
      .type('application/csrattrs')
      .header('content-transfer-encoding', 'base64')
      .send(toBase64(csrAttributes()));
  });

  app.post('/.well-known/est/simpleenroll', async (req, reply) => {
    const cert = await r.simpleEnroll(channel(req), textBody(req, 'application/pkcs10'));
    return reply
      .type(CERTS_ONLY_MEDIA_TYPE)
      .header('content-transfer-encoding', 'base64')
      .send(encodeCertsOnly([cert.der]));
  });

  app.post('/.well-known/est/simplereenroll', async (req, reply) => {
    const cert = await r.simpleReenroll(channel(req), textBody(req, 'application/pkcs10'));
    return reply
      .type(CERTS_ONLY_MEDIA_TYPE)
      .header('content-transfer-encoding', 'base64')
      .send(encodeCertsOnly([cert.der]));
  });

  app.post('/.well-known/airlock/wifi', async (req, reply) => {
    // Credentials: never cached by anything between the device and the registrar.
    return reply.header('cache-control', 'no-store').send(await r.wifiCredentials(channel(req)));
  });

  app.post('/.well-known/airlock/connection-report', async (req, reply) => {
    await r.connectionReport(channel(req), req.body);
    return reply.code(200).send({ ok: true });
  });

  app.post('/.well-known/brski/enrollstatus', async (req, reply) => {
    await r.enrollStatus(channel(req), req.body);
    return reply.code(200).send({ ok: true });
  });

  app.get('/.well-known/airlock/crl', async (_req, reply) =>
    reply.type('application/pkix-crl').send(Buffer.from(await n.credentials.crl())),
  );
}
