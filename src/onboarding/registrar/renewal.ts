/**
 * RFC 7030 section 4.2.2 (simplereenroll): renewal, authenticated by the current LDevID, in
 * whatever state its device is. The new LDevID names the device of the LDevID that
 * authenticated the request, whatever the request's subject. The key may be the current
 * LDevID's (renewal) or a fresh one (rekey); never a key certified for another device, a
 * superseded key, or a birth key.
 */
import { equalBytes } from '../../core/bytes.js';
import { decodeCsrBody, verifyCsr } from '../../protocols/est/csr.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import type { Endpoint } from './pipeline.js';
import { ensureNotOurKey } from './own-keys.js';
import { ldevidHolder } from './session.js';

export const simpleReenroll: Endpoint<string, Certificate> = {
  method: 'POST',
  path: '/.well-known/est/simplereenroll',
  action: 'simplereenroll',
  step: undefined,
  device: 'current LDevID',
  requires: null,
  lock: true,
  transactional: true,
  async handler(ctx, call, body) {
    const holder = await ldevidHolder(ctx, call.r, call.ch, 'renewal');
    const current = holder.ldevid;
    call.identify(holder.device);
    const csr = verifyCsr(ctx.crypto, decodeCsrBody(body));
    const sameKey = equalBytes(csr.spki, current.spki);
    if (!sameKey) ensureNotOurKey(ctx, csr.spki);
    const cert = ctx.credentials.signLdevid(holder.device, csr.spki);
    await ctx.credentials.recordLdevid(
      call.r,
      holder.device,
      cert,
      sameKey ? current.serial : undefined,
    );
    await call.r.devices.update(
      holder.device,
      { state: holder.state, ldevidSerial: cert.serial },
      ctx.clock.now(),
    );
    return cert;
  },
  detail: (c) => ({ ldevid: c.serial }),
};
