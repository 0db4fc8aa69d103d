/**
 * The manufacturer's intent file server (report section 5.1.1 step 4, RFC 8520): each model's
 * MUD file at the URL its devices' birth certificates carry, `<mudBaseUrl>/<model>.json`, with
 * its detached CMS signature at `<mudBaseUrl>/<model>.p7s` (section 13), signed by the MUD
 * signer, a key of that purpose alone under its own CA.
 *
 * A manufacturer publishes a model's file (`publish`, `airlock manufacturer intent publish`):
 * Airlock sets its `mud-url`, `mud-signature` and `last-update`, reads it as a network would
 * (fail closed), signs it and keeps it in the database; every node serves that file from then
 * on, and a network fetching again after the file's `cache-validity` gets the update. Until
 * then, a model's file says: the device talks to its own network's controller
 * (`my-controller`) and to nothing else, both ways; that file is made once per model and
 * process, so that the bytes and the signature stay the same between fetches. A model with
 * neither a published file nor a device minted is 404.
 */
import { AirlockError } from '../../core/errors.js';
import { fromBase64, fromUtf8, toBase64, utf8 } from '../../core/bytes.js';
import { OID_DATA_CONTENT, signSignedData } from '../../protocols/cms/signed-data.js';
import { parseMud } from '../../protocols/mud/parse.js';
import { compileProfile } from '../../protocols/mud/compile.js';
import type { ManufacturerStore } from '../../core/store.js';
import type { RoleContext } from '../shared/context.js';
import type { ManufacturerConfig } from './defaults.js';
import type { ManufacturerPki } from './pki.js';

/** Model names as the factory writes them into MUD URLs: nothing a path could be made of. */
const MODEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface MudDocument {
  bytes: Uint8Array;
  signature: Uint8Array;
}

export class IntentService {
  readonly #made = new Map<string, Promise<MudDocument>>();

  constructor(
    private readonly ctx: RoleContext,
    private readonly store: ManufacturerStore,
    private readonly pki: ManufacturerPki,
    private readonly config: ManufacturerConfig,
    private readonly name: string,
  ) {}

  /** The model's MUD file and its signature; ERR_NOT_FOUND for a model never minted. */
  async document(model: string): Promise<MudDocument> {
    if (!MODEL.test(model) || model.includes('..'))
      throw new AirlockError('ERR_NOT_FOUND', 'no such MUD file');
    const published = await this.store.run((r) => r.mudFiles.get(model));
    if (published)
      return { bytes: utf8(published.mud), signature: fromBase64(published.signature)! };
    let made = this.#made.get(model);
    if (!made) {
      made = this.#make(model);
      this.#made.set(model, made);
      made.catch(() => this.#made.delete(model));
    }
    return made;
  }

  /**
   * Publishes `text` (a MUD file: RFC 8520 JSON) as the model's file, replacing any before.
   * Its `mud-url`, `mud-signature` and `last-update` are set here; anything a network would
   * refuse (parse.ts) is refused here first, ERR_MUD_MALFORMED naming the place, and nothing
   * is published. Returns what is now served.
   */
  async publish(model: string, text: string): Promise<MudDocument & { warnings: string[] }> {
    if (!MODEL.test(model) || model.includes('..'))
      throw new AirlockError('ERR_INPUT_SCHEMA', 'model names are 1-64 letters, digits, . _ -');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new AirlockError('ERR_MUD_MALFORMED', 'not JSON');
    }
    const container =
      typeof doc === 'object' && doc !== null
        ? (doc as Record<string, unknown>)['ietf-mud:mud']
        : undefined;
    if (typeof container !== 'object' || container === null || Array.isArray(container))
      throw new AirlockError(
        'ERR_MUD_MALFORMED',
        '/ietf-mud:mud: missing (an RFC 8520 file is needed)',
      );
    const at = this.ctx.clock.now();
    Object.assign(container, this.#locator(model, at));
    const bytes = utf8(JSON.stringify(doc, null, 2));
    const { mud, warnings } = parseMud(bytes);
    // A router must be able to enforce it: the network's own context only adds addresses.
    compileProfile(mud, 'publish', { controllers: {}, myController: [], localNetworks: [] });
    const signature = this.#sign(bytes, at);
    await this.store.run((r) =>
      r.mudFiles.put(model, { mud: fromUtf8(bytes), signature: toBase64(signature) }, at),
    );
    this.#made.delete(model);
    return { bytes, signature, warnings };
  }

  /** Where the model's file and signature are served, and when it was made. */
  #locator(model: string, at: Date) {
    const base = this.config.mudBaseUrl;
    return {
      'mud-url': `${base}/${model}.json`,
      'mud-signature': `${base}/${model}.p7s`,
      'last-update': at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
  }

  #sign(bytes: Uint8Array, at: Date): Uint8Array {
    return signSignedData(this.ctx.crypto, this.pki.mud.key, {
      eContentType: OID_DATA_CONTENT,
      content: bytes,
      signerChain: [this.pki.mud.cert],
      signingTime: at,
      detached: true,
    });
  }

  async #make(model: string): Promise<MudDocument> {
    if (!(await this.store.run((r) => r.devices.hasModel(model))))
      throw new AirlockError('ERR_NOT_FOUND', 'no such MUD file');
    const at = this.ctx.clock.now();
    const acl = (name: string) => ({
      name,
      type: 'mixed-eth-ipv4-ipv6-acl-type',
      aces: {
        ace: [
          {
            name: 'my-controller',
            matches: { 'ietf-mud:mud': { 'my-controller': [null] } },
            actions: { forwarding: 'accept' },
          },
        ],
      },
    });
    const doc = {
      'ietf-mud:mud': {
        'mud-version': 1,
        ...this.#locator(model, at),
        'cache-validity': 48,
        'is-supported': true,
        systeminfo: `${model} by ${this.name}`.slice(0, 60),
        'mfg-name': this.name,
        'model-name': model,
        'from-device-policy': { 'access-lists': { 'access-list': [{ name: 'from-device' }] } },
        'to-device-policy': { 'access-lists': { 'access-list': [{ name: 'to-device' }] } },
      },
      'ietf-access-control-list:acls': { acl: [acl('from-device'), acl('to-device')] },
    };
    const bytes = utf8(JSON.stringify(doc, null, 2));
    parseMud(bytes); // what is served is what the network will read
    return { bytes, signature: this.#sign(bytes, at) };
  }
}
