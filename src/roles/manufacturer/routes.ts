/**
 * The manufacturer's HTTP surface: the MASA (RFC 8995 section 5.5) and declarations in real
 * time (report section 5.1.1 step 6, 5.2 step 6).
 */
import type { FastifyInstance } from 'fastify';
import { AirlockError } from '../../core/errors.js';
import { VOUCHER_JWS_MEDIA_TYPE } from '../../protocols/voucher/schema.js';
import type { Manufacturer } from './index.js';

export function manufacturerRoutes(app: FastifyInstance, m: Manufacturer): void {
  app.post('/.well-known/brski/requestvoucher', async (req, reply) => {
    if (typeof req.body !== 'string' || !req.headers['content-type']?.startsWith(VOUCHER_JWS_MEDIA_TYPE)) {
      throw new AirlockError('ERR_INPUT_MEDIA_TYPE', `expected ${VOUCHER_JWS_MEDIA_TYPE}`);
    }
    const voucher = await m.masa.requestVoucher(req.body, req.ip);
    return reply.type(VOUCHER_JWS_MEDIA_TYPE).send(voucher);
  });

  app.get<{ Params: { serial: string } }>('/declarations/:serial', async (req) => ({ chain: await m.declarations.chain(req.params.serial) }));

  app.post<{ Params: { serial: string } }>('/declarations/:serial', async (req) => {
    if (typeof req.body !== 'string' || !req.headers['content-type']?.startsWith('application/jose')) {
      throw new AirlockError('ERR_INPUT_MEDIA_TYPE', 'expected application/jose');
    }
    const chain = await m.declarations.applyOwnershipRequest(req.params.serial, req.body, m.config.ownershipRequestSkewSeconds);
    return { chain };
  });
}
