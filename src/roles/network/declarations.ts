/**
 * Declarations at the network (report section 5.1.2, second activity): installed ahead of
 * time from the manufacturer's export file, or fetched in real time when none is installed.
 * An installed chain is never replaced by an older one.
 */
import { AirlockError } from '../../core/errors.js';
import { checked } from '../../protocols/schema.js';
import type { NetworkRepositories, NetworkStore } from '../../core/store.js';
import type { MasaClient } from '../../adapters/http/masa-client.js';
import { DeclarationExport } from '../../protocols/declaration/schema.js';
import {
  assertNotStale,
  type VerifiedDeclarationChain,
} from '../../protocols/declaration/verify.js';
import { isForeign, masaTlsAnchors, type AnyManufacturerTrust } from '../shared/trust.js';
import type { TrustedManufacturers } from './manufacturers.js';
import type { RoleContext } from '../shared/context.js';

export class NetworkDeclarations {
  constructor(
    private readonly ctx: RoleContext,
    private readonly store: NetworkStore,
    private readonly manufacturers: TrustedManufacturers,
    private readonly masa: MasaClient,
    private readonly realtime: boolean,
  ) {}

  /** Installs an export file. All or nothing: one bad chain refuses the whole file. */
  async importExport(json: unknown): Promise<{ installed: number }> {
    const message = checked(
      DeclarationExport,
      json,
      'ERR_DECLARATION_MALFORMED',
      'the export file',
    );
    const at = this.ctx.clock.now();
    const verified = message.devices.map((d) => ({
      serial: d['serial-number'],
      chain: d.chain,
      v: this.manufacturers.verifyDeclarations(d.chain, d['serial-number'], at),
    }));
    await this.store.transaction(async (r) => {
      for (const d of verified) {
        const known = await r.declarations.get(d.serial);
        assertNotStale(d.v, known?.sequence);
        await this.#put(r, d.serial, d.chain, d.v, 'import');
      }
    });
    return { installed: verified.length };
  }

  /**
   * The chain to send a device in step 6: the installed one, else the manufacturer's current
   * one. Freshness is not the registrar's to judge: the MASA issued the voucher on the latest
   * declaration, and the device refuses a chain older than one it has seen.
   *
   * A manufacturer that is not Airlock issues no declarations: ERR_DECLARATION_NOT_FOUND for
   * its devices, whatever is installed under the same serial number (serial numbers are
   * unique per manufacturer only). A standard pledge never asks for one.
   */
  async chainFor(
    serial: string,
    masaUrl: string | undefined,
    manufacturer: AnyManufacturerTrust,
  ): Promise<string[]> {
    if (isForeign(manufacturer))
      throw new AirlockError(
        'ERR_DECLARATION_NOT_FOUND',
        'a manufacturer that is not Airlock issues no declarations',
      );
    const row = await this.store.run((r) => r.declarations.get(serial));
    if (row) return row.chain;
    if (!this.realtime || !masaUrl) throw new AirlockError('ERR_DECLARATION_NOT_FOUND', serial);
    const chain = await this.masa.fetchDeclarationChain(masaUrl, serial, {
      tls: { anchors: masaTlsAnchors([manufacturer]) },
    });
    const v = this.manufacturers.verifyDeclarations(
      chain,
      serial,
      this.ctx.clock.now(),
      manufacturer,
    );
    await this.store.transaction(async (r) => {
      const known = await r.declarations.get(serial);
      assertNotStale(v, known?.sequence);
      await this.#put(r, serial, chain, v, 'realtime');
    });
    return chain;
  }

  async #put(
    r: NetworkRepositories,
    serial: string,
    chain: string[],
    v: VerifiedDeclarationChain,
    source: string,
  ): Promise<void> {
    await r.declarations.put(
      { serial, sequence: v.latest.sequence, latestHash: v.latestHash, chain, source },
      this.ctx.clock.now(),
    );
  }
}
