/**
 * A registrar in memory, for the device's onboarding steps without TLS: a PledgeConnector
 * whose channels answer each BRSKI, EST and Airlock request with real artifacts (a voucher
 * signed by the test manufacturer's MASA key, a declaration chain, an LDevID issued by a test
 * domain CA for the key in the request), checking what the device sends as the real registrar
 * would (the voucher request, the channel-bound status, the CSR). `script` changes an answer,
 * so that a test can play an impostor or a registrar that cheats.
 */
import { AirlockError } from '../../src/core/errors.js';
import { toBase64, toPem } from '../../src/core/bytes.js';
import type { BirthCredentials } from '../../src/core/credentials.js';
import { partyIdFromSpki, type Party } from '../../src/core/party.js';
import type {
  Clock,
  PledgeChannel,
  PledgeConnectOptions,
  PledgeConnector,
} from '../../src/core/ports.js';
import { exportPkcs8 } from '../../src/adapters/crypto/node-crypto.js';
import type { Certificate } from '../../src/protocols/x509/certificate.js';
import { caProfile, ldevidProfile, registrarProfile } from '../../src/protocols/x509/profiles.js';
import { issueCertificate } from '../../src/protocols/x509/issue.js';
import { signVoucher, type VoucherInput } from '../../src/protocols/voucher/voucher.js';
import { verifyPledgeVoucherRequest } from '../../src/protocols/voucher/pledge-voucher-request.js';
import { verifyVoucherStatus } from '../../src/protocols/brski/status.js';
import { declarationHash, signDeclaration } from '../../src/protocols/declaration/sign.js';
import type { DeclarationBody } from '../../src/protocols/declaration/schema.js';
import { encodeCertsOnly } from '../../src/protocols/est/certs-only.js';
import { decodeCsrBody, verifyCsr } from '../../src/protocols/est/csr.js';
import { crypto, device, issue, manufacturerPki, T0, type Pair } from './pki.js';

/** Now, for the steps: after every test certificate's notBefore, before any notAfter. */
export const NOW = new Date(T0.getTime() + 30 * 86_400_000);
export const fixedClock: Clock = { now: () => NOW };

/** A manufacturer, one device it minted and sold, and the network owner's domain PKI. */
export async function pledgeWorld(serialNumber = 'SN-PLEDGE-1') {
  const mfg = await manufacturerPki();
  const idevid = await device(mfg.idevidCa, serialNumber);
  const maker: Party = { id: partyIdFromSpki(crypto, mfg.root.cert.spki), name: 'Test Maker' };
  const domainCa = await issue(
    caProfile({
      name: 'Owner Domain CA',
      notBefore: T0,
      notAfter: new Date(T0.getTime() + 10 * 365 * 86_400_000),
      pathLength: 0,
    }),
  );
  const registrar = await issue(
    registrarProfile({
      name: 'Owner Registrar',
      dnsNames: ['registrar.example'],
      notBefore: T0,
      notAfter: new Date(T0.getTime() + 2 * 365 * 86_400_000),
    }),
    domainCa,
  );
  const owner: Party = { id: partyIdFromSpki(crypto, domainCa.cert.spki), name: 'Owner' };
  const birth: BirthCredentials = {
    serialNumber,
    model: 'm1',
    idevidChain: [toBase64(idevid.cert.der), toBase64(mfg.idevidCa.cert.der)],
    idevidKey: toBase64(exportPkcs8(idevid.key)),
    manufacturerAnchor: toBase64(mfg.root.cert.der),
    masaAnchor: toBase64(mfg.masaCa.cert.der),
    declarationAnchor: toBase64(mfg.declarationsCa.cert.der),
    masaUrl: 'https://masa.example:8443',
    application: { url: 'https://app.example' },
  };
  return { mfg, idevid, maker, domainCa, registrar, owner, birth, serialNumber };
}
export type PledgeWorld = Awaited<ReturnType<typeof pledgeWorld>>;

/** The declaration chain of `world`'s device: minted, then sold to `owner` (default: the network owner). */
export function declarationChain(world: PledgeWorld, owner: Party = world.owner): string[] {
  const steps: Array<Pick<DeclarationBody, 'event' | 'owner' | 'authorized-onboarders'>> = [
    { event: 'minted', owner: world.maker, 'authorized-onboarders': [] },
    { event: 'transferred', owner, 'authorized-onboarders': [] },
  ];
  const out: string[] = [];
  for (const [i, s] of steps.entries()) {
    out.push(
      signDeclaration(crypto, world.mfg.declarationSigner.key, [world.mfg.declarationSigner.cert], {
        'serial-number': world.serialNumber,
        sequence: i,
        previous: i === 0 ? null : declarationHash(crypto, out[i - 1]!),
        'issued-on': T0.toISOString(),
        manufacturer: world.maker,
        ...s,
      }),
    );
  }
  return out;
}

/** What a test may change in the registrar's answers. */
export interface RegistrarScript {
  /** The TLS server certificate the channel presents (default: the registrar's). */
  serverCert?: Certificate;
  /** Changes the voucher before it is signed (a wrong nonce, another pinned certificate). */
  voucher?: (input: VoucherInput) => VoucherInput;
  declarationChain?: string[];
  /** EST cacerts (default: the domain CA). */
  cacerts?: Uint8Array[];
  /** The LDevID issued for a request's key and the serial number it names; default: that key and the device's serial. */
  ldevid?: (requested: { spki: Uint8Array; serialNumber: string }) => Promise<Uint8Array>;
  /** Thrown instead of answering the enrollment status (the registrar refuses it). */
  refuseEnrollStatus?: AirlockError;
}

export interface Exchange {
  method: 'GET' | 'POST';
  path: string;
  contentType?: string;
  accept?: string;
}

/** A scripted registrar: its connector, and what the device did through it. */
export class FakeRegistrar {
  /** Every request, in order, over every channel. */
  readonly requests: Exchange[] = [];
  /** The options of every channel opened. */
  readonly connections: PledgeConnectOptions[] = [];
  /** How many channels are still open. */
  open = 0;
  /** The status proofs the device sent, verified against their channel. */
  statuses = 0;

  constructor(
    readonly world: PledgeWorld,
    readonly script: RegistrarScript = {},
  ) {}

  readonly connect: PledgeConnector = async (_url, opts) => {
    this.connections.push(opts);
    this.open++;
    return new FakeChannel(this, opts);
  };

  /** The answer body to one request on `channel`. */
  async answer(channel: FakeChannel, ex: Exchange, body: string | undefined): Promise<string> {
    const { world, script } = this;
    const client = world.idevid.cert;
    switch (`${ex.method} ${ex.path}`) {
      case 'POST /.well-known/brski/requestvoucher': {
        const pvr = verifyPledgeVoucherRequest(crypto, body!, {
          tlsClientCert: client,
          registrarCert: channel.serverCert,
        });
        channel.nonce = pvr.nonce;
        const input: VoucherInput = {
          serialNumber: pvr.serialNumber,
          nonce: pvr.nonce,
          pinnedDomainCert: world.domainCa.cert,
          createdOn: NOW,
          assertion: 'logged',
        };
        return signVoucher(
          crypto,
          world.mfg.masaSigner.key,
          [world.mfg.masaSigner.cert],
          script.voucher ? script.voucher(input) : input,
        );
      }
      case 'GET /.well-known/airlock/declaration':
        return JSON.stringify({ chain: script.declarationChain ?? declarationChain(world) });
      case 'POST /.well-known/brski/voucher_status':
        verifyVoucherStatus(crypto, body!, {
          tlsClientCert: client,
          nonce: channel.nonce!,
          channelBinding: channel.binding,
        });
        this.statuses++;
        return '';
      case 'POST /.well-known/airlock/app-bootstrap':
        return JSON.stringify({
          applicationUrl: 'https://app.example',
          trustAnchor: toPem('CERTIFICATE', world.domainCa.cert.der),
        });
      case 'GET /.well-known/est/cacerts':
        return encodeCertsOnly(script.cacerts ?? [world.domainCa.cert.der]);
      case 'POST /.well-known/est/simpleenroll':
      case 'POST /.well-known/est/simplereenroll': {
        const csr = verifyCsr(crypto, decodeCsrBody(body!));
        const requested = { spki: csr.spki, serialNumber: world.serialNumber };
        return encodeCertsOnly([
          script.ldevid ? await script.ldevid(requested) : this.issueLdevid(requested),
        ]);
      }
      case 'POST /.well-known/airlock/wifi':
        return JSON.stringify({ ssid: 'airlock-test', psk: 'correct horse battery' });
      case 'POST /.well-known/brski/enrollstatus':
        if (script.refuseEnrollStatus) throw script.refuseEnrollStatus;
        return '';
      default:
        throw new AirlockError('ERR_NOT_FOUND', `${ex.method} ${ex.path}`);
    }
  }

  /** An LDevID from the domain CA. */
  issueLdevid(
    requested: { spki: Uint8Array; serialNumber: string },
    ca: Pair = this.world.domainCa,
  ): Uint8Array {
    return issueCertificate(
      crypto,
      ldevidProfile({
        serialNumber: requested.serialNumber,
        domain: 'Owner',
        notBefore: T0,
        notAfter: new Date(T0.getTime() + 365 * 86_400_000),
      }),
      requested.spki,
      { key: ca.key, cert: ca.cert },
    ).der;
  }
}

/** One channel to the fake registrar: its own exporter value, the certificate it presents. */
export class FakeChannel implements PledgeChannel {
  readonly binding = crypto.bytes(32);
  readonly serverCert: Certificate;
  nonce: string | undefined;
  #closed = false;

  constructor(
    private readonly registrar: FakeRegistrar,
    readonly opts: PledgeConnectOptions,
  ) {
    this.serverCert = registrar.script.serverCert ?? registrar.world.registrar.cert;
  }

  peerCertificate(): Uint8Array {
    return this.serverCert.der;
  }

  exporter(label: string, length: number): Uint8Array {
    if (label !== 'EXPORTER-airlock-voucher-status' || length !== 32)
      throw new Error(`unexpected exporter ${label}/${length}`);
    return this.binding;
  }

  async call(
    method: 'GET' | 'POST',
    path: string,
    request: { body?: string; contentType?: string; accept?: string } = {},
  ) {
    if (this.#closed)
      throw new AirlockError('ERR_TRANSPORT', 'the channel is closed', {
        details: { unsent: true },
      });
    const ex: Exchange = {
      method,
      path,
      ...(request.contentType ? { contentType: request.contentType } : {}),
      ...(request.accept ? { accept: request.accept } : {}),
    };
    this.registrar.requests.push(ex);
    const body = await this.registrar.answer(this, ex, request.body);
    return { status: 200, contentType: 'application/octet-stream', body };
  }

  async close(): Promise<void> {
    if (!this.#closed) this.registrar.open--;
    this.#closed = true;
  }
}
