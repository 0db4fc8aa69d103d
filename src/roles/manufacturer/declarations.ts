/**
 * Device information declarations (report sections 3 and 5.1.1 step 6): the manufacturer
 * issues the first at minting, and a new, linked one at every transfer of ownership or change
 * of authorized onboarders. Only the current owner may make such a change.
 */
import { AirlockError, ensure } from '../../core/errors.js';
import type { Party } from '../../core/party.js';
import type { ManufacturerRepositories, ManufacturerStore } from '../../core/store.js';
import { decodeCompact, payloadJson } from '../../protocols/jws/compact.js';
import { mayOnboard } from '../../protocols/declaration/verify.js';
import { verifyOwnershipRequest } from '../../protocols/declaration/ownership-request.js';
import { declarationHash, signDeclaration } from '../../protocols/declaration/sign.js';
import {
  type DeclarationBody,
  type DeclarationEvent,
  type DeclarationExport,
} from '../../protocols/declaration/schema.js';
import type { RoleContext } from '../shared/context.js';
import type { ManufacturerPki } from './pki.js';

export class DeclarationService {
  constructor(
    private readonly ctx: RoleContext,
    private readonly store: ManufacturerStore,
    private readonly pki: ManufacturerPki,
    readonly manufacturer: Party,
  ) {}

  /**
   * The chain for one device, for `reader` (a party id, or undefined when the client proved
   * none): only the current owner and authorized onboarders may read it. Anyone else gets the
   * very error an unknown serial gets, so that the answer says nothing about the device.
   */
  /** The chain, for a reader who is one of `readers` (the parties its credentials prove). */
  async chainFor(serial: string, readers: readonly string[] | undefined): Promise<string[]> {
    const latest = readers === undefined ? undefined : await this.latest(serial);
    // No serial in the error: the problem body is then byte-identical for every refusal.
    if (!latest || !readers!.some((r) => mayOnboard(latest.body, r)))
      throw new AirlockError('ERR_DECLARATION_NOT_FOUND');
    return this.chain(serial);
  }

  /** The chain for one device, oldest first. */
  async chain(serial: string): Promise<string[]> {
    const chain = await this.store.run((r) => r.declarations.chain(serial));
    if (chain.length === 0) throw new AirlockError('ERR_DECLARATION_NOT_FOUND', serial);
    return chain;
  }

  /**
   * Declarations this manufacturer signed, decoded, by their hash: the MASA reads a device's
   * latest one for every voucher and every audit log request, and a declaration never changes.
   */
  readonly #decoded = new Map<string, Readonly<DeclarationBody>>();

  async latest(
    serial: string,
  ): Promise<{ body: Readonly<DeclarationBody>; hash: string } | undefined> {
    return this.store.run((r) => this.latestIn(r, serial));
  }

  /** The latest declaration, read in the caller's unit of work. */
  async latestIn(
    r: ManufacturerRepositories,
    serial: string,
  ): Promise<{ body: Readonly<DeclarationBody>; hash: string } | undefined> {
    // The hash first: the JWS (certificates and all) is read only for a declaration not yet decoded.
    const row = await r.declarations.latest(serial);
    if (!row) return undefined;
    let body = this.#decoded.get(row.hash);
    if (!body) {
      const jws = await r.declarations.jws(serial, row.sequence);
      if (jws === undefined) throw new AirlockError('ERR_DECLARATION_NOT_FOUND', serial);
      body = (payloadJson(decodeCompact(jws)) as { 'airlock-declaration': DeclarationBody })[
        'airlock-declaration'
      ];
      if (this.#decoded.size >= 4096) this.#decoded.delete(this.#decoded.keys().next().value!);
      this.#decoded.set(row.hash, body);
    }
    return { body, hash: row.hash };
  }

  /**
   * The first declaration of a newly minted device: the manufacturer owns it. `mudUrl`: the
   * MUD URL its birth certificate carries; `dppUri`: its Wi-Fi Easy Connect bootstrapping URI
   * (docs/DPP.md). Every later declaration carries both, so the purchaser receives them signed.
   */
  async issueFirst(
    r: ManufacturerRepositories,
    serial: string,
    mudUrl?: string,
    dppUri?: string,
  ): Promise<void> {
    // RFC 8520 section 10: a MUD URL is an https URL; anything else is not declared.
    const declared = mudUrl?.startsWith('https://') ? mudUrl : undefined;
    await this.#append(r, serial, undefined, 'minted', this.manufacturer, [], declared, dppUri);
  }

  /** Sells (transfers) a device: the new owner starts with no authorized onboarders. */
  async transfer(
    serial: string,
    actorId: string,
    to: Party,
    expectedPrevious?: string,
  ): Promise<string[]> {
    return this.#change(serial, actorId, expectedPrevious, (prev) => ({
      event: 'transferred',
      owner: to,
      onboarders: prev.owner.id === to.id ? prev['authorized-onboarders'] : [],
    }));
  }

  async addOnboarder(
    serial: string,
    actorId: string,
    party: Party,
    expectedPrevious?: string,
  ): Promise<string[]> {
    return this.#change(serial, actorId, expectedPrevious, (prev) => ({
      event: 'onboarders-changed',
      owner: prev.owner,
      onboarders: [...prev['authorized-onboarders'].filter((p) => p.id !== party.id), party],
    }));
  }

  async removeOnboarder(
    serial: string,
    actorId: string,
    partyId: string,
    expectedPrevious?: string,
  ): Promise<string[]> {
    return this.#change(serial, actorId, expectedPrevious, (prev) => {
      ensure(
        prev['authorized-onboarders'].some((p) => p.id === partyId),
        'ERR_PARTY_UNKNOWN',
        'not an authorized onboarder',
      );
      return {
        event: 'onboarders-changed',
        owner: prev.owner,
        onboarders: prev['authorized-onboarders'].filter((p) => p.id !== partyId),
      };
    });
  }

  /** The export file for a network owner (report section 5.1.2): every device it may onboard. */
  async exportFor(partyId: string): Promise<DeclarationExport> {
    const serials = await this.store.run((r) => r.declarations.serials());
    const devices: DeclarationExport['devices'] = [];
    for (const serial of serials) {
      const latest = await this.latest(serial);
      if (
        latest &&
        (latest.body.owner.id === partyId ||
          latest.body['authorized-onboarders'].some((p) => p.id === partyId))
      ) {
        devices.push({ 'serial-number': serial, chain: await this.chain(serial) });
      }
    }
    return {
      format: 'airlock-declarations/1',
      'exported-on': this.ctx.clock.now().toISOString(),
      devices,
    };
  }

  /** Applies an owner's signed request (see protocols/declaration/ownership-request.ts). */
  async applyOwnershipRequest(
    serial: string,
    text: string,
    maxSkewSeconds: number,
  ): Promise<string[]> {
    const { actorId, op } = verifyOwnershipRequest(this.ctx.crypto, text, {
      at: this.ctx.clock.now(),
      maxSkewSeconds,
    });
    ensure(
      op['serial-number'] === serial,
      'ERR_INPUT_SCHEMA',
      'serial-number differs from the URL',
    );
    switch (op.op) {
      case 'transfer':
        return this.transfer(serial, actorId, op.party, op.previous);
      case 'add-onboarder':
        return this.addOnboarder(serial, actorId, op.party, op.previous);
      case 'remove-onboarder':
        return this.removeOnboarder(serial, actorId, op.party.id, op.previous);
    }
  }

  async #change(
    serial: string,
    actorId: string,
    expectedPrevious: string | undefined,
    next: (prev: DeclarationBody) => { event: DeclarationEvent; owner: Party; onboarders: Party[] },
  ): Promise<string[]> {
    await this.store.transaction(async (r) => {
      // Changes to one device's declarations queue behind each other (PostgreSQL: its row is locked).
      await r.devices.lock(serial);
      const prev = await this.latestIn(r, serial);
      if (!prev) throw new AirlockError('ERR_DECLARATION_NOT_FOUND', serial);
      // Report section 6: only the device owner may transfer or name authorized onboarders.
      ensure(prev.body.owner.id === actorId, 'ERR_DECLARATION_FORBIDDEN');
      // A request names the declaration it changes: a replayed or crossed one no longer does.
      if (expectedPrevious !== undefined)
        ensure(
          prev.hash === expectedPrevious,
          'ERR_DECLARATION_STALE',
          'the declaration has changed since the request was made',
        );
      const n = next(prev.body);
      await this.#append(r, serial, prev, n.event, n.owner, n.onboarders);
    });
    return this.chain(serial);
  }

  async #append(
    r: ManufacturerRepositories,
    serial: string,
    prev: { body: DeclarationBody; hash: string } | undefined,
    event: DeclarationEvent,
    owner: Party,
    onboarders: Party[],
    mudUrl: string | undefined = prev?.body['mud-url'],
    dppUri: string | undefined = prev?.body['dpp-uri'],
  ): Promise<void> {
    const body: DeclarationBody = {
      'serial-number': serial,
      sequence: prev ? prev.body.sequence + 1 : 0,
      previous: prev ? prev.hash : null,
      'issued-on': this.ctx.clock.now().toISOString(),
      event,
      manufacturer: this.manufacturer,
      owner,
      'authorized-onboarders': onboarders,
      ...(mudUrl !== undefined ? { 'mud-url': mudUrl } : {}),
      ...(dppUri !== undefined ? { 'dpp-uri': dppUri } : {}),
    };
    const jws = signDeclaration(
      this.ctx.crypto,
      this.pki.declarations.key,
      [this.pki.declarations.cert],
      body,
    );
    await r.declarations.append({
      serial,
      sequence: body.sequence,
      jws,
      hash: declarationHash(this.ctx.crypto, jws),
      ownerId: owner.id,
      issuedOn: body['issued-on'],
    });
  }
}
