/**
 * The verifier's HTTP surface: Veraison's challenge-response verification API (synchronous),
 * its well-known discovery document, and its endorsement provisioning path, which here takes a
 * manufacturer's signed reference values (docs/ATTESTATION.md, "The verifier's API").
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AirlockError } from '../../core/errors.js';
import { EAT_JWT_MEDIA_TYPE } from '../../protocols/eat/claims.js';
import { MAX_EAT_BYTES } from '../../protocols/eat/token.js';
import {
  MAX_REFERENCE_VALUES_BYTES,
  REFERENCE_VALUES_MEDIA_TYPE,
} from '../../protocols/endorsement/reference-values.js';
import {
  NEW_SESSION_PATH,
  SESSION_MEDIA_TYPE,
  SESSION_PATH_PREFIX,
} from '../../protocols/rats/challenge-response.js';
import { textBody } from '../../adapters/http/server.js';
import { ACCEPTED_MEDIA_TYPES, AttestationSessions } from './sessions.js';
import type { Verifier } from './index.js';

export const VERIFICATION_WELL_KNOWN_PATH = '/.well-known/veraison/verification';
export const PROVISIONING_SUBMIT_PATH = '/endorsement-provisioning/v1/submit';

/** A Host header Airlock will write back into a URL: a name or IPv4 address, or a bracketed IPv6 one, and a port. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** A JSON body as bytes: sent as is, its media type without the charset parameter fastify adds to text. */
function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function verifierRoutes(app: FastifyInstance, v: Verifier): void {
  // The evidence is text (a JWT); the media type's parameters (eat_profile) are the route's to judge.
  app.addContentTypeParser(
    EAT_JWT_MEDIA_TYPE,
    { parseAs: 'string', bodyLimit: MAX_EAT_BYTES },
    (_req, body, done) => done(null, body),
  );
  app.addContentTypeParser(
    REFERENCE_VALUES_MEDIA_TYPE,
    { parseAs: 'string', bodyLimit: MAX_REFERENCE_VALUES_BYTES },
    (_req, body, done) => done(null, body),
  );

  /** Where sessions live: the configured public URL, else the origin the client reached. */
  const baseOf = (req: FastifyRequest): string => {
    if (v.config.publicUrl) return v.config.publicUrl.replace(/\/+$/, '');
    const host = req.headers.host;
    if (typeof host === 'string' && HOST.test(host)) return `https://${host}`;
    return v.url ?? '';
  };

  app.post<{ Querystring: { nonce?: string; nonceSize?: string } }>(
    NEW_SESSION_PATH,
    async (req, reply) => {
      const query = req.query as Record<string, unknown>;
      const { id, session } = await v.sessions.open(AttestationSessions.nonceOf(query));
      return reply
        .code(201)
        .header('location', `${baseOf(req)}${SESSION_PATH_PREFIX}${id}`)
        .type(SESSION_MEDIA_TYPE)
        .send(jsonBytes(session));
    },
  );

  app.post<{ Params: { id: string } }>(
    `${SESSION_PATH_PREFIX}:id`,
    { bodyLimit: MAX_EAT_BYTES },
    async (req, reply) => {
      const contentType = req.headers['content-type'] ?? '';
      if (typeof req.body !== 'string')
        throw new AirlockError(
          'ERR_INPUT_MEDIA_TYPE',
          `the evidence must be one of: ${ACCEPTED_MEDIA_TYPES.join(', ')}`,
        );
      const { session } = await v.sessions.submit(req.params.id, contentType, req.body);
      return reply.type(SESSION_MEDIA_TYPE).send(jsonBytes(session));
    },
  );

  app.get<{ Params: { id: string } }>(`${SESSION_PATH_PREFIX}:id`, async (req, reply) => {
    return reply.type(SESSION_MEDIA_TYPE).send(jsonBytes(await v.sessions.get(req.params.id)));
  });

  app.delete<{ Params: { id: string } }>(`${SESSION_PATH_PREFIX}:id`, async (req, reply) => {
    await v.sessions.remove(req.params.id);
    return reply.code(204).send();
  });

  app.get(VERIFICATION_WELL_KNOWN_PATH, async () => ({
    'ear-verification-key': v.earKeyJwk(),
    'media-types': [...ACCEPTED_MEDIA_TYPES],
    'service-state': 'READY',
    'api-endpoints': { newChallengeResponseSession: NEW_SESSION_PATH },
  }));

  app.post(PROVISIONING_SUBMIT_PATH, { bodyLimit: MAX_REFERENCE_VALUES_BYTES }, async (req) => {
    await v.provision(textBody(req, REFERENCE_VALUES_MEDIA_TYPE));
    return { status: 'success' };
  });
}
