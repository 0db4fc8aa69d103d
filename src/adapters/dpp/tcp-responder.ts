/**
 * A DPP Enrollee that listens over TCP (Wi-Fi Easy Connect v2 section 6.8, port 8908 by default)
 * as the Responder: a Configurator that scanned our URI connects and initiates. Each connection
 * runs one exchange with the pure code (protocols/dpp/authentication.ts with `role: 'enrollee'`,
 * enrollment.ts):
 *
 *   us <- Authentication Request (I-capabilities Configurator)
 *   us -> Authentication Response (R-capabilities Enrollee)
 *   us <- Authentication Confirm
 *   us -> Configuration Request (GAS Initial Request: over TCP the Enrollee always sends it)
 *   us <- Configuration Response
 *   us -> Configuration Result (to a Configurator of version 2 or more that gave a configuration)
 *
 * as hostap's Controller with `role=enrollee` runs it (dpp_controller_rx_auth_req,
 * dpp_controller_auth_success, dpp_tcp_rx_gas_resp). Roles as hostap's dpp_auth_req_rx: an
 * Initiator that offers only the Enrollee role is answered with Status NOT_COMPATIBLE
 * (R-capabilities Enrollee) and the connection closed; I-capabilities with no role are refused
 * with no answer. Mutual authentication when the Request names a Configurator key we were given
 * (`peers`); `onlyKnownConfigurators` refuses any other.
 *
 * Any refusal (a frame not well-formed, out of order, not for our key, failing its checks) ends
 * that exchange with no answer and closes its socket; `onExchange` hears its error code. The
 * listener keeps listening until an exchange configured us: then it stops, and `configured`
 * gives what we received. Nothing is logged; the passphrase is only in the value given.
 */
import type * as net from 'node:net';
import { AirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import {
  answerAuthRequest,
  checkAuthConfirm,
  type DppAuthPending,
  type DppOwnBootstrap,
  type DppPeerBootstrap,
  type DppSession,
} from '../../protocols/dpp/authentication.js';
import { buildConfigurationRequest, type DppEnrollment } from '../../protocols/dpp/enrollment.js';
import type { DppMessage } from '../../protocols/dpp/frames.js';
import {
  dppTcpErrorOf,
  dppTcpPeer,
  listenDppTcp,
  serveDppTcpExchange,
  type DppTcpListenOptions,
} from './dpp-tcp-connection.js';
import { answerConfigurationResponse, type DppEnrolleeResult } from './received.js';

/**
 * Limits: connections at once, default 4, and from one remote address, default 2; the first
 * message within 5 s, then at most 10 s idle, 30 s for a whole exchange; messages of at most
 * 16384 octets. Listens on 127.0.0.1, port 8908, by default.
 */
export interface DppTcpResponderOptions extends DppTcpListenOptions {
  crypto: Crypto;
  /** Our bootstrapping key: the one in the URI the Configurator scanned. */
  bootstrap: DppOwnBootstrap;
  /** Configurators' bootstrapping keys we know (we scanned their URIs): mutual authentication. */
  peers?: readonly DppPeerBootstrap[];
  /** Answer only a Configurator whose key `peers` holds (mutual): ERR_DPP_AUTH `unknown-configurator`. */
  onlyKnownConfigurators?: boolean;
  /** The name the Configurator sees in our Configuration Request. */
  name: string;
  /** Hears each exchange as it ends. */
  onExchange?: (exchange: DppResponderExchange) => void;
}

/** One exchange, as it ended. Carries no secret. */
export interface DppResponderExchange {
  /** The peer's address and port. */
  peer: string;
  authenticated: boolean;
  /** The Configurator proved it holds a bootstrapping key of `peers`. */
  mutual: boolean;
  /** It configured us (the first usable Configuration Object was taken). */
  configured: boolean;
  /** The error code that ended it, when it failed, and its `details.reason`. */
  error?: string;
  reason?: string;
}

export interface DppTcpResponder {
  readonly port: number;
  /**
   * What the first exchange that configured us received (secret: the passphrase is here);
   * undefined when the listener was closed before.
   */
  readonly configured: Promise<DppEnrolleeResult | undefined>;
  close(): Promise<void>;
}

type State =
  | { step: 'auth-request' }
  | { step: 'auth-confirm'; pending: DppAuthPending }
  | { step: 'conf-response'; session: DppSession; enrollment: DppEnrollment };

/** Listens as a DPP Enrollee, until configured once or closed. */
export async function listenDppTcpEnrollee(
  options: DppTcpResponderOptions,
): Promise<DppTcpResponder> {
  let resolveConfigured!: (r: DppEnrolleeResult | undefined) => void;
  const configured = new Promise<DppEnrolleeResult | undefined>((r) => (resolveConfigured = r));
  let done = false;
  const listener = await listenDppTcp(
    options,
    { maxConnections: 4, maxConnectionsPerAddress: 2 },
    (socket) =>
      serve(socket, options, (result) => {
        if (done) return false;
        done = true;
        resolveConfigured(result);
        // Configured: stop listening; the other exchanges end.
        listener.stop(socket);
        return true;
      }),
    { accepting: () => !done },
  );
  const close = () => {
    done = true;
    resolveConfigured(undefined);
    return listener.close();
  };
  return { port: listener.port, configured, close };
}

function serve(
  socket: net.Socket,
  options: DppTcpResponderOptions,
  /** Takes a configuration; false when another exchange configured us first. */
  take: (result: DppEnrolleeResult) => boolean,
): void {
  const { crypto } = options;
  const exchange: DppResponderExchange = {
    peer: dppTcpPeer(socket),
    authenticated: false,
    mutual: false,
    configured: false,
  };
  let state: State = { step: 'auth-request' };

  const step = (message: DppMessage): void => {
    switch (state.step) {
      case 'auth-request': {
        const answer = answerAuthRequest(crypto, options.bootstrap, message, {
          role: 'enrollee',
          ...(options.peers ? { peers: options.peers } : {}),
          ...(options.onlyKnownConfigurators ? { requirePeer: true } : {}),
        });
        tcp.send(answer.response);
        if (answer.kind === 'not-compatible') {
          // As hostap: the Response with Status NOT_COMPATIBLE, then the exchange ends.
          tcp.end(
            new AirlockError('ERR_DPP_AUTH', 'the Configurator does not offer to configure', {
              details: { reason: 'not-compatible' },
            }),
          );
          return;
        }
        state = { step: 'auth-confirm', pending: answer.pending };
        return;
      }
      case 'auth-confirm': {
        const session = checkAuthConfirm(crypto, state.pending, message);
        exchange.authenticated = true;
        exchange.mutual = session.mutual;
        const { request, enrollment } = buildConfigurationRequest(crypto, session, {
          name: options.name,
        });
        tcp.send(request);
        state = { step: 'conf-response', session, enrollment };
        return;
      }
      case 'conf-response': {
        // Config Rejected when nothing usable came, or another exchange configured us first.
        const answer = answerConfigurationResponse(crypto, state, message, take);
        if ('refused' in answer) {
          tcp.end(answer.refused);
          return;
        }
        if (answer.reply) tcp.send(answer.reply);
        exchange.configured = 'taken' in answer;
        tcp.end('rejected' in answer ? answer.rejected : undefined);
        return;
      }
    }
  };

  const tcp = serveDppTcpExchange(socket, options, {
    peerName: 'Configurator',
    cutShort: { onEnd: true, onClose: true },
    step,
    ended: (error) => {
      if (error) Object.assign(exchange, dppTcpErrorOf(error));
      options.onExchange?.(exchange);
    },
  });
}
