/**
 * The manufacturer's HTTP surface: the MASA (RFC 8995 section 5.5) and declarations in real
 * time (report section 5.1.1 step 6, 5.2 step 6).
 */
import type { FastifyInstance } from 'fastify';
import { textBody } from '../../adapters/http/server.js';
import { VOUCHER_JWS_MEDIA_TYPE } from '../../protocols/voucher/schema.js';
import type { Manufacturer } from './index.js';

export function manufacturerRoutes(app: FastifyInstance, m: Manufacturer): void {
  app.post('/.well-known/brski/requestvoucher', async (req, reply) => {
    const voucher = await m.masa.requestVoucher(textBody(req, VOUCHER_JWS_MEDIA_TYPE), req.ip);
    return reply.type(VOUCHER_JWS_MEDIA_TYPE).send(voucher);
  });

  app.get<{ Params: { serial: string } }>('/declarations/:serial', async (req) => ({ chain: await m.declarations.chain(req.params.serial) }));

  app.post<{ Params: { serial: string } }>('/declarations/:serial', async (req) => {
    const chain = await m.declarations.applyOwnershipRequest(req.params.serial, textBody(req, 'application/jose'), m.config.ownershipRequestSkewSeconds);
    return { chain };
  });
}
