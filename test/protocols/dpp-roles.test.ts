/**
 * The roles of the DPP Authentication protocol, both ways round: the Configurator may initiate
 * (I-capabilities Configurator) to an Enrollee that responds (R-capabilities Enrollee), as well as
 * the reverse. The role matrix of hostap's dpp_auth_req_rx (a Responder takes the role the
 * Initiator leaves it; a clash is answered with Status NOT_COMPATIBLE; no role at all is refused
 * with no answer), and the session each side ends with: the same bk and ke, and the Enrollee's
 * protocol key (PI or PR by who initiated), its private scalar on the Enrollee's side only.
 */
import { describe, expect, it } from 'vitest';
import {
  DppAttributeId,
  decodeDppAttributes,
  encodeDppAttributes,
  findDppAttribute,
} from '../../src/protocols/dpp/attributes.js';
import {
  answerAuthRequest,
  checkAuthConfirm,
  respondToAuthRequest,
} from '../../src/protocols/dpp/authentication.js';
import { DppStatus, dppFrameHeader, type DppRole } from '../../src/protocols/dpp/common.js';
import {
  deriveK1,
  dppCurveParams,
  unwrapDppData,
  wrapDppData,
} from '../../src/protocols/dpp/crypto.js';
import { DppFrameType, type DppActionFrame } from '../../src/protocols/dpp/frames.js';
import {
  initiateAuth,
  readAuthResponse,
  type DppInitiation,
} from '../../src/protocols/dpp/initiation.js';
import { bootstrap, crypto } from '../support/dpp.js';
import { reasonOf } from '../support/errors.js';

const other = (role: DppRole): DppRole => (role === 'configurator' ? 'enrollee' : 'configurator');

/** The Request with its I-capabilities octet replaced (re-wrapped with k1, as a peer would). */
function withCapabilities(
  request: DppActionFrame,
  initiation: DppInitiation,
  caps: number,
): DppActionFrame {
  const k1 = deriveK1(crypto, initiation.curve, initiation.mx);
  const head = request.attributes.slice(0, -1);
  const ad = [dppFrameHeader(DppFrameType.AUTHENTICATION_REQUEST), encodeDppAttributes(head)];
  const inner = decodeDppAttributes(unwrapDppData(k1, ad, request.attributes.at(-1)!.value)).map(
    (a) =>
      a.id === DppAttributeId.INITIATOR_CAPABILITIES ? { ...a, value: Uint8Array.of(caps) } : a,
  );
  return {
    ...request,
    attributes: [
      ...head,
      { id: DppAttributeId.WRAPPED_DATA, value: wrapDppData(k1, ad, encodeDppAttributes(inner)) },
    ],
  };
}

/** The Capabilities octet inside a Response's Wrapped Data (k2, or k1 for a status Response). */
function rCapabilitiesOfStatusResponse(response: DppActionFrame, initiation: DppInitiation) {
  const k1 = deriveK1(crypto, initiation.curve, initiation.mx);
  const head = response.attributes.slice(0, -1);
  const ad = [dppFrameHeader(DppFrameType.AUTHENTICATION_RESPONSE), encodeDppAttributes(head)];
  const inner = decodeDppAttributes(unwrapDppData(k1, ad, response.attributes.at(-1)!.value));
  return findDppAttribute(inner, DppAttributeId.RESPONDER_CAPABILITIES)?.[0];
}

describe.each(['P-256', 'P-384', 'P-521', 'BP-256'] as const)('%s', (curve) => {
  it.each(['configurator', 'enrollee'] as const)(
    'the %s initiates: both sides end with one session, the Enrollee’s key in its place',
    (initiatorRole) => {
      const responder = bootstrap(curve);
      const responderRole = other(initiatorRole);
      const rKey = crypto.ecGenerate(dppCurveParams(curve).ecCurve);
      const { request, initiation } = initiateAuth(
        crypto,
        { curve, spkiDer: responder.spkiDer },
        { role: initiatorRole },
      );
      const answer = answerAuthRequest(crypto, responder, request, {
        role: responderRole,
        protocolKey: rKey,
      });
      expect(answer.kind).toBe('response');
      if (answer.kind !== 'response') return;
      const { confirm, session: iSession } = readAuthResponse(crypto, initiation, answer.response);
      const rSession = checkAuthConfirm(crypto, answer.pending, confirm);
      expect(Buffer.from(iSession.ke)).toEqual(Buffer.from(rSession.ke));
      expect(Buffer.from(iSession.bk)).toEqual(Buffer.from(rSession.bk));
      // The Enrollee's protocol key: PI when it initiated, PR when it responded.
      const enrolleeKey = initiatorRole === 'enrollee' ? initiation.PI : rKey.publicKey;
      expect(Buffer.from(iSession.enrolleeProtocolKey)).toEqual(Buffer.from(enrolleeKey));
      expect(Buffer.from(rSession.enrolleeProtocolKey)).toEqual(Buffer.from(enrolleeKey));
      // Its private scalar only on the Enrollee's side.
      const [eSession, cSession] =
        initiatorRole === 'enrollee' ? [iSession, rSession] : [rSession, iSession];
      const enrolleePrivate = initiatorRole === 'enrollee' ? initiation.pI : rKey.privateKey;
      expect(Buffer.from(eSession.enrolleeProtocolPrivateKey!)).toEqual(
        Buffer.from(enrolleePrivate),
      );
      expect(cSession.enrolleeProtocolPrivateKey).toBeUndefined();
      expect(iSession.mutual).toBe(false);
      expect(rSession.mutual).toBe(false);
    },
  );
});

describe('mutual, the Configurator initiating', () => {
  it('the Enrollee knows the Configurator’s key: both sides mutual, one ke', () => {
    const enrollee = bootstrap('P-256');
    const network = bootstrap('P-256');
    const { request, initiation } = initiateAuth(
      crypto,
      { curve: 'P-256', spkiDer: enrollee.spkiDer },
      { role: 'configurator', own: network },
    );
    const { response, pending } = respondToAuthRequest(crypto, enrollee, request, {
      role: 'enrollee',
      peers: [{ spkiDer: network.spkiDer }],
      requirePeer: true,
    });
    expect(
      findDppAttribute(response.attributes, DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH),
    ).toEqual(crypto.sha256(network.spkiDer));
    const { confirm, session } = readAuthResponse(crypto, initiation, response);
    const rSession = checkAuthConfirm(crypto, pending, confirm);
    expect(session.mutual).toBe(true);
    expect(rSession.mutual).toBe(true);
    expect(Buffer.from(session.ke)).toEqual(Buffer.from(rSession.ke));
  });

  it('an Enrollee that requires a known Configurator refuses another: unknown-configurator', () => {
    const enrollee = bootstrap('P-256');
    const { request } = initiateAuth(
      crypto,
      { curve: 'P-256', spkiDer: enrollee.spkiDer },
      { role: 'configurator', own: bootstrap('P-256') },
    );
    expect(
      reasonOf(() =>
        respondToAuthRequest(crypto, enrollee, request, {
          role: 'enrollee',
          peers: [{ spkiDer: bootstrap('P-256').spkiDer }],
          requirePeer: true,
        }),
      ),
    ).toBe('ERR_DPP_AUTH/unknown-configurator');
  });
});

describe('the role matrix (hostap’s dpp_auth_req_rx)', () => {
  const responder = bootstrap('P-256');
  const cases = [
    // [I-capabilities, Responder role, outcome]
    [0x01, 'configurator', 'response'],
    [0x02, 'configurator', 'not-compatible'],
    [0x03, 'configurator', 'response'],
    [0x01, 'enrollee', 'not-compatible'],
    [0x02, 'enrollee', 'response'],
    [0x03, 'enrollee', 'response'],
  ] as const;
  it.each(cases)(
    'I-capabilities 0x0%i to a Responder that is the %s: %s',
    (caps, role, outcome) => {
      const { request, initiation } = initiateAuth(crypto, {
        curve: 'P-256',
        spkiDer: responder.spkiDer,
      });
      const answer = answerAuthRequest(
        crypto,
        responder,
        withCapabilities(request, initiation, caps),
        {
          role,
        },
      );
      expect(answer.kind).toBe(outcome);
      const status = findDppAttribute(answer.response.attributes, DppAttributeId.STATUS)?.[0];
      if (outcome === 'not-compatible') {
        // Status NOT_COMPATIBLE; no protocol key; {I-nonce, R-capabilities = our role}k1.
        expect(status).toBe(DppStatus.NOT_COMPATIBLE);
        expect(
          findDppAttribute(answer.response.attributes, DppAttributeId.RESPONDER_PROTOCOL_KEY),
        ).toBeUndefined();
        expect(rCapabilitiesOfStatusResponse(answer.response, initiation)).toBe(
          role === 'configurator' ? 0x02 : 0x01,
        );
        // respondToAuthRequest refuses instead of answering.
        expect(
          reasonOf(() =>
            respondToAuthRequest(crypto, responder, withCapabilities(request, initiation, caps), {
              role,
            }),
          ),
        ).toBe('ERR_DPP_AUTH/roles');
      } else expect(status).toBe(DppStatus.OK);
    },
  );

  it.each(['configurator', 'enrollee'] as const)(
    'I-capabilities with no role, to the %s: refused, no answer',
    (role) => {
      const { request, initiation } = initiateAuth(crypto, {
        curve: 'P-256',
        spkiDer: responder.spkiDer,
      });
      expect(
        reasonOf(() =>
          answerAuthRequest(crypto, responder, withCapabilities(request, initiation, 0x00), {
            role,
          }),
        ),
      ).toBe('ERR_DPP_AUTH/roles');
    },
  );

  it('the Initiator reads NOT_COMPATIBLE as `not-compatible`; tampered, as `wrapped-data`', () => {
    const { request, initiation } = initiateAuth(crypto, {
      curve: 'P-256',
      spkiDer: responder.spkiDer,
    });
    const answer = answerAuthRequest(crypto, responder, request, { role: 'enrollee' });
    expect(answer.kind).toBe('not-compatible');
    expect(reasonOf(() => readAuthResponse(crypto, initiation, answer.response))).toBe(
      'ERR_DPP_AUTH/not-compatible',
    );
    const wrapped = answer.response.attributes.at(-1)!;
    const flipped = wrapped.value.slice();
    flipped[flipped.length - 1]! ^= 1;
    const tampered: DppActionFrame = {
      ...answer.response,
      attributes: [...answer.response.attributes.slice(0, -1), { ...wrapped, value: flipped }],
    };
    expect(reasonOf(() => readAuthResponse(crypto, initiation, tampered))).toBe(
      'ERR_DPP_AUTH/wrapped-data',
    );
  });

  it('a Configurator Initiator refuses a Responder that configures too: roles', () => {
    // Both Configurators: the Responder answers NOT_COMPATIBLE (it is asked to enroll).
    const { request, initiation } = initiateAuth(
      crypto,
      { curve: 'P-256', spkiDer: responder.spkiDer },
      { role: 'configurator' },
    );
    const answer = answerAuthRequest(crypto, responder, request);
    expect(answer.kind).toBe('not-compatible');
    expect(reasonOf(() => readAuthResponse(crypto, initiation, answer.response))).toBe(
      'ERR_DPP_AUTH/not-compatible',
    );
    // An Initiator that asked for either role (0x03) is answered by a Configurator, and a
    // Configurator Initiator would refuse that Response (it wants exactly R-capabilities Enrollee).
    const either = answerAuthRequest(
      crypto,
      responder,
      withCapabilities(request, initiation, 0x03),
    );
    expect(either.kind).toBe('response');
    expect(reasonOf(() => readAuthResponse(crypto, initiation, either.response))).toBe(
      'ERR_DPP_AUTH/roles',
    );
  });
});
