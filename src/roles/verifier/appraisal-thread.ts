/**
 * The verifier's appraisals in a worker thread of their own (appraiser.ts). The thread runs
 * this very module: the CLI's bundle when the CLI runs bundled (bin/airlock.js), else this
 * TypeScript source, through appraisal-thread-boot.mjs, which registers tsx's hooks first. It starts
 * at the first appraisal; until it has loaded, and for good should it ever fail, appraisals run
 * on the event loop: the thread is a place to run them, never a condition for running them.
 *
 * The manufacturers' endorsements go to the thread when they change (a new document of
 * reference values), not with every piece of evidence; each request names the set it is
 * appraised against, and messages on the port arrive in order.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { AirlockError, isAirlockError, reviveAirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import { NodeCrypto } from '../../adapters/crypto/node-crypto.js';
import type { Logger } from '../../adapters/log/logger.js';
import type { Appraisal, ManufacturerEndorsements } from '../../onboarding/verifier/appraise.js';
import { appraiseNow, type AppraisalRequest, type Appraiser } from './appraiser.js';

/** The `workerData` key that tells a thread to serve appraisals. */
const ROLE_KEY = 'airlockAppraisalThread';

type ToThread =
  | { type: 'manufacturers'; version: number; manufacturers: readonly ManufacturerEndorsements[] }
  | {
      type: 'appraise';
      id: number;
      version: number;
      mediaType: string;
      evidence: string;
      nonce: string;
      clockSkewSeconds: number;
      at: number;
    };

type FromThread =
  | { type: 'ready' }
  | { type: 'appraised'; id: number; appraisal: Appraisal }
  | {
      type: 'refused';
      id: number;
      code: string;
      message: string;
      details: Record<string, string | number | boolean>;
    }
  | { type: 'failed'; id: number; message: string };

export class AppraisalThread implements Appraiser {
  #worker: Worker | undefined;
  #ready = false;
  #closed = false;
  /** The thread stopped once: appraisals stay on the event loop. */
  #failed = false;
  #next = 0;
  readonly #pending = new Map<
    number,
    { resolve(a: Appraisal): void; reject(e: AirlockError): void }
  >();
  /** The endorsements the thread holds, as last sent, and their version. */
  #sent: readonly ManufacturerEndorsements[] | undefined;
  #version = 0;

  /**
   * `entry`: the module the thread runs, this one unless given (a module that speaks the same
   * messages: the tests' thread that dies).
   */
  constructor(
    private readonly crypto: Crypto,
    private readonly logger: Logger,
    private readonly entry: string = import.meta.url,
  ) {}

  /** The thread, started at the first appraisal (a verifier that never appraises starts none). */
  #start(): Worker | undefined {
    if (this.#worker || this.#closed || this.#failed) return this.#worker;
    const entry = this.entry;
    const source = new URL(entry).pathname.endsWith('.ts');
    const worker = new Worker(
      source ? new URL('./appraisal-thread-boot.mjs', entry) : new URL(entry),
      {
        // Not the parent's flags (a --cpu-prof, a --import of tsx): the thread loads what it needs.
        execArgv: [],
        workerData: { [ROLE_KEY]: true, entry },
      },
    );
    // The thread never keeps the process alive: close() ends it, and so does the process.
    worker.unref();
    worker.on('message', (m: FromThread) => this.#answer(m));
    worker.on('error', (e) => this.#lost(e));
    worker.on('exit', (code) => this.#lost(new Error(`the appraisal thread exited (${code})`)));
    this.#worker = worker;
    return worker;
  }

  /** Whether appraisals go to the thread (it has loaded, and has not failed). */
  get threaded(): boolean {
    return this.#ready && this.#worker !== undefined;
  }

  /**
   * Starts the thread if it is not running, and resolves once it takes appraisals; false if it
   * failed first (they run on the event loop).
   */
  ready(): Promise<boolean> {
    const worker = this.#start();
    if (this.#ready || !worker) return Promise.resolve(this.threaded);
    return new Promise((resolve) => {
      const done = (): void => {
        worker.off('message', onMessage);
        worker.off('exit', done);
        resolve(this.threaded);
      };
      const onMessage = (m: FromThread): void => {
        if (m.type === 'ready') done();
      };
      worker.on('message', onMessage);
      worker.on('exit', done);
    });
  }

  async appraise(request: AppraisalRequest): Promise<Appraisal> {
    const worker = this.#start();
    if (!this.#ready || !worker) return appraiseNow(this.crypto, request);
    if (!sameEndorsements(this.#sent, request.manufacturers)) {
      this.#sent = request.manufacturers;
      this.#version += 1;
      worker.postMessage({
        type: 'manufacturers',
        version: this.#version,
        manufacturers: request.manufacturers,
      } satisfies ToThread);
    }
    const id = ++this.#next;
    return new Promise<Appraisal>((resolve, reject) => {
      worker.postMessage({
        type: 'appraise',
        id,
        version: this.#version,
        mediaType: request.mediaType,
        evidence: request.evidence,
        nonce: request.nonce,
        clockSkewSeconds: request.clockSkewSeconds,
        at: request.at.getTime(),
      } satisfies ToThread);
      // Held once sent (a request that cannot be sent throws here, and is not held); the
      // answer comes in a later turn of the event loop.
      this.#pending.set(id, { resolve, reject });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
    this.#rejectPending();
  }

  #answer(m: FromThread): void {
    if (m.type === 'ready') {
      this.#ready = true;
      this.logger.info('verifier: the appraisal thread is ready');
      return;
    }
    const waiting = this.#pending.get(m.id);
    if (!waiting) return;
    this.#pending.delete(m.id);
    if (m.type === 'appraised') waiting.resolve(m.appraisal);
    else if (m.type === 'refused') waiting.reject(reviveAirlockError(m));
    else {
      this.logger.error({ err: m.message }, 'verifier: the appraisal thread failed an appraisal');
      waiting.reject(new AirlockError('ERR_INTERNAL'));
    }
  }

  /** The thread is gone: what it held fails, and appraisals run inline from now on. */
  #lost(e: Error): void {
    if (this.#closed || !this.#worker) return;
    this.#worker = undefined;
    this.#ready = false;
    this.#failed = true;
    this.logger.error(
      { err: e.message },
      'verifier: the appraisal thread stopped; appraising on the event loop',
    );
    this.#rejectPending();
  }

  #rejectPending(): void {
    for (const { reject } of this.#pending.values()) reject(new AirlockError('ERR_INTERNAL'));
    this.#pending.clear();
  }
}

/** Whether two sets of endorsements are the very same documents and anchors. */
function sameEndorsements(
  a: readonly ManufacturerEndorsements[] | undefined,
  b: readonly ManufacturerEndorsements[],
): boolean {
  return (
    a !== undefined &&
    a.length === b.length &&
    a.every(
      (m, i) =>
        m.party.id === b[i]!.party.id &&
        m.root === b[i]!.root &&
        m.endorsementsCa === b[i]!.endorsementsCa &&
        m.references === b[i]!.references,
    )
  );
}

/** The thread's side: appraisals of what the port brings, answered in the order they came. */
function serve(port: NonNullable<typeof parentPort>): void {
  const crypto = new NodeCrypto();
  const held = new Map<number, readonly ManufacturerEndorsements[]>();
  const answer = (m: FromThread): void => port.postMessage(m);
  port.on('message', (m: ToThread) => {
    if (m.type === 'manufacturers') {
      // Only the newest set is ever asked for again.
      held.clear();
      held.set(m.version, m.manufacturers);
      return;
    }
    const manufacturers = held.get(m.version);
    try {
      if (!manufacturers) throw new Error(`no endorsements of version ${m.version}`);
      const appraisal = appraiseNow(crypto, {
        mediaType: m.mediaType,
        evidence: m.evidence,
        nonce: m.nonce,
        manufacturers,
        clockSkewSeconds: m.clockSkewSeconds,
        at: new Date(m.at),
      });
      answer({ type: 'appraised', id: m.id, appraisal });
    } catch (e) {
      if (isAirlockError(e) && e.code !== 'ERR_INTERNAL')
        answer({
          type: 'refused',
          id: m.id,
          code: e.code,
          message: e.message,
          details: { ...e.details },
        });
      else answer({ type: 'failed', id: m.id, message: (e as Error).message });
    }
  });
  answer({ type: 'ready' });
}

if (!isMainThread && parentPort && (workerData as Record<string, unknown>)?.[ROLE_KEY] === true)
  serve(parentPort);
