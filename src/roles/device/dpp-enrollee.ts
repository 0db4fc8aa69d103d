/**
 * The device agent as a Wi-Fi Easy Connect (DPP) Enrollee (docs/DPP.md): the same onboarding
 * over another transport, with the device's birth DPP key. Either the device scanned the
 * network's URI and initiates (`enroll`: the owner added the device's URI, so authentication is
 * mutual), or it listens and a Configurator that scanned its URI initiates (`listen`). What it
 * receives (sta-psk, sta-sae, or a sta-dpp Connector verified with its C-sign key) is kept in
 * its secure store, replacing what an earlier DPP exchange gave it. Nothing is logged: the
 * passphrase and the netAccessKey live only in the secure store.
 */
import { toBase64, utf8 } from '../../core/bytes.js';
import { AirlockError } from '../../core/errors.js';
import { SecureStoreEntry, type DppConfigurationRecord } from '../../core/credentials.js';
import type { Clock, Crypto, SecureStore } from '../../core/ports.js';
import { runDppTcpEnrollee } from '../../adapters/dpp/tcp-enrollee.js';
import {
  listenDppTcpEnrollee,
  type DppResponderExchange,
} from '../../adapters/dpp/tcp-responder.js';
import type { DppEnrolleeResult } from '../../adapters/dpp/received.js';
import type { DppOwnBootstrap } from '../../protocols/dpp/authentication.js';
import { formatDppUri, parseDppUri } from '../../protocols/dpp/uri.js';

interface EnrolleeContext {
  crypto: Crypto;
  clock: Clock;
  store: SecureStore;
  bootstrap: DppOwnBootstrap;
  /** The name the Configurator sees (the serial number). */
  name: string;
}

/** What the device received, as it can be shown: never the passphrase or a key. */
export interface DppEnrollmentSummary {
  kind: DppConfigurationRecord['kind'];
  ssid: string;
  mutual: boolean;
  role: DppConfigurationRecord['role'];
}

/** The device initiates to the Configurator whose URI it scanned (its `H:` host, or `host`). */
export async function enrollByDpp(
  c: EnrolleeContext,
  o: { uri: string; host?: string; port?: number },
): Promise<DppEnrollmentSummary> {
  const peer = parseDppUri(o.uri.trim());
  const host = o.host ?? peer.host?.address;
  if (host === undefined)
    throw new AirlockError('ERR_CONFIG', "the Configurator's URI names no host (H:): give one", {
      details: { reason: 'no-host' },
    });
  const port = o.port ?? peer.host?.port;
  const result = await runDppTcpEnrollee({
    crypto: c.crypto,
    peer: peer.key,
    own: c.bootstrap,
    name: c.name,
    host,
    ...(port !== undefined ? { port } : {}),
  });
  return keep(c, result, 'initiator');
}

/**
 * The device listens on `host`:`port` until a Configurator configures it (or `signal`
 * aborts: ERR_TRANSPORT `closed`). `onListening` hears the URI to show, with the address
 * it listens on (`H:`).
 */
export async function listenForDpp(
  c: EnrolleeContext,
  o: {
    host?: string;
    port?: number;
    onListening?: (uri: string, port: number) => void;
    onExchange?: (exchange: DppResponderExchange) => void;
    signal?: AbortSignal;
  },
): Promise<DppEnrollmentSummary> {
  const host = o.host ?? '127.0.0.1';
  const listener = await listenDppTcpEnrollee({
    crypto: c.crypto,
    bootstrap: c.bootstrap,
    name: c.name,
    host,
    port: o.port ?? 8908,
    ...(o.onExchange ? { onExchange: o.onExchange } : {}),
  });
  const abort = () => void listener.close();
  o.signal?.addEventListener('abort', abort, { once: true });
  try {
    o.onListening?.(
      formatDppUri({
        info: `SN=${c.name}`,
        version: 2,
        host: { address: host, port: listener.port },
        key: c.bootstrap.spkiDer,
      }),
      listener.port,
    );
    const result = await listener.configured;
    if (!result)
      throw new AirlockError(
        'ERR_TRANSPORT',
        'stopped before a Configurator configured the device',
        {
          details: { reason: 'closed' },
        },
      );
    return await keep(c, result, 'responder');
  } finally {
    o.signal?.removeEventListener('abort', abort);
    await listener.close();
  }
}

/** The configuration the secure store holds, if any. */
export async function storedDppConfiguration(
  store: SecureStore,
): Promise<DppConfigurationRecord | undefined> {
  const raw = await store.read(SecureStoreEntry.dpp);
  if (!raw) return undefined;
  return JSON.parse(new TextDecoder().decode(raw)) as DppConfigurationRecord;
}

async function keep(
  c: EnrolleeContext,
  result: DppEnrolleeResult,
  role: DppConfigurationRecord['role'],
): Promise<DppEnrollmentSummary> {
  const o = result.configuration;
  const record: DppConfigurationRecord = {
    receivedAt: c.clock.now().toISOString(),
    mutual: result.mutual,
    role,
    kind: o.kind,
    akm: o.akm,
    ssid: o.ssid,
    ...(o.kind !== 'sta-dpp'
      ? {
          ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
          ...('pskHex' in o && o.pskHex !== undefined ? { pskHex: o.pskHex } : {}),
        }
      : {
          signedConnector: o.signedConnector,
          csign: { ...o.csign },
          ...(o.ppKey ? { ppKey: { ...o.ppKey } } : {}),
          ...(result.netAccessKey ? { netAccessKey: toBase64(result.netAccessKey) } : {}),
        }),
  };
  await c.store.write(SecureStoreEntry.dpp, utf8(JSON.stringify(record)));
  return { kind: record.kind, ssid: record.ssid, mutual: record.mutual, role };
}
