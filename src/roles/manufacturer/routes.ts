/**
 * The manufacturer's HTTP surface: the MASA (RFC 8995 section 5.5) and declarations in real
 * time (report section 5.1.1 step 6, 5.2 step 6), and its reference values for verifiers
 * (section 5.1.1 step 3).
 */
import type { FastifyInstance } from 'fastify';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { textBody, voucherBody } from '../../adapters/http/server.js';
import { clientCertificateChain } from '../../adapters/http/peer-chain.js';
import {
  DECLARATION_READ_HEADER,
  partiesOfRegistrarChain,
  verifyDeclarationReadRequest,
} from '../../protocols/declaration/read-request.js';
import { negotiateVoucherFormat } from '../../protocols/voucher/codec.js';
import { AUDIT_LOG_MEDIA_TYPE } from '../../protocols/brski/audit-log.js';
import { REFERENCE_VALUES_MEDIA_TYPE } from '../../protocols/endorsement/reference-values.js';
import { MUD_MEDIA_TYPE } from '../../protocols/mud/parse.js';
import type { Manufacturer } from './index.js';

export function manufacturerRoutes(app: FastifyInstance, m: Manufacturer): void {
  // RFC 8995 section 5.5: the registrar voucher request in any format Airlock reads; the
  // voucher in the format the Accept header asks for (by default the request's), else 406.
  app.post('/.well-known/brski/requestvoucher', async (req, reply) => {
    const rvr = voucherBody(req);
    const format = negotiateVoucherFormat(req.headers.accept, rvr.mediaType);
    const voucher = await m.masa.issueVoucher(rvr, req.ip, format);
    return reply.type(voucher.mediaType).send(Buffer.from(voucher.bytes));
  });

  // RFC 8995 section 5.8: the registrar voucher request in, the device's audit log out.
  app.post('/.well-known/brski/requestauditlog', async (req, reply) => {
    const log = await m.auditLog.forRequest(voucherBody(req), req.ip);
    return reply.type(AUDIT_LOG_MEDIA_TYPE).send(JSON.stringify(log));
  });

  // Only the owner's registrar and authorized onboarders may read a chain (read-request.ts):
  // by TLS client certificate, or by a signed read request in a header. Anyone else, and an
  // unknown serial, get the same 404.
  app.get<{ Params: { serial: string } }>('/declarations/:serial', async (req) => {
    const serial = req.params.serial;
    const at = m.ctx.clock.now();
    const attempt = (f: () => string[]): string[] | undefined => {
      try {
        return f();
      } catch (e) {
        if (!isAirlockError(e)) throw e;
        return undefined;
      }
    };
    const tlsChain = clientCertificateChain(req);
    const header = req.headers[DECLARATION_READ_HEADER];
    const reader =
      (tlsChain.length > 0
        ? attempt(() => partiesOfRegistrarChain(m.ctx.crypto, tlsChain, at))
        : undefined) ??
      (typeof header === 'string'
        ? attempt(() =>
            verifyDeclarationReadRequest(m.ctx.crypto, header, {
              serial,
              manufacturer: m.party.id,
              at,
              maxSkewSeconds: m.config.ownershipRequestSkewSeconds,
            }),
          )
        : undefined);
    return { chain: await m.declarations.chainFor(serial, reader) };
  });

  app.post<{ Params: { serial: string } }>('/declarations/:serial', async (req) => {
    const chain = await m.declarations.applyOwnershipRequest(
      req.params.serial,
      textBody(req, 'application/jose'),
      m.config.ownershipRequestSkewSeconds,
    );
    return { chain };
  });

  // RFC 8520: each model's MUD file at the URL its birth certificates carry, and its detached
  // signature (section 13); public, like the reference values (docs/INTENT.md).
  app.get<{ Params: { file: string } }>('/mud/:file', async (req, reply) => {
    const file = /^(.+)\.(json|p7s)$/.exec(req.params.file);
    if (!file) throw new AirlockError('ERR_NOT_FOUND', 'no such MUD file');
    const doc = await m.intent.document(file[1]!);
    return file[2] === 'json'
      ? reply.type(MUD_MEDIA_TYPE).send(Buffer.from(doc.bytes))
      : reply.type('application/pkcs7-signature').send(Buffer.from(doc.signature));
  });

  // docs/ATTESTATION.md: the current signed reference values, for any verifier to pull (the
  // document is signed, so no client certificate is asked for); 404 before the first release.
  app.get('/.well-known/airlock/reference-values', async (_req, reply) => {
    const document = await m.firmware.referenceValues();
    return reply.type(REFERENCE_VALUES_MEDIA_TYPE).send(document);
  });
}
