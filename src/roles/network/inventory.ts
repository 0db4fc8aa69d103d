/**
 * The inventory: every device the network has onboarded or is onboarding, its state, the
 * identifiers of its credentials (never the secrets), and its audit trail, step by step.
 */
import { CompiledQuery, type Kysely, type Selectable } from 'kysely';
import { AirlockError } from '../../core/errors.js';
import type { OnboardingStepNumber } from '../../core/onboarding-steps.js';
import type { NetworkDb } from '../../adapters/store/schema.js';

export type DeviceRecord = Omit<Selectable<NetworkDb['net_devices']>, 'idevid_der'>;
export type EventRecord = Selectable<NetworkDb['net_events']>;

export interface EventInput {
  serial: string | null;
  step?: OnboardingStepNumber;
  action: string;
  /** `warning`: the step went on, but something deserves a look (e.g. another domain claimed the device). */
  outcome: 'ok' | 'refused' | 'error' | 'warning';
  code?: string;
  detail?: Record<string, string | number | boolean | null>;
}

export class Inventory {
  constructor(private readonly db: Kysely<NetworkDb>) {}

  /** The insert of `n` events, compiled once per `n`: every request records one or two (docs/BENCHMARKS.md). */
  readonly #insertSql = new Map<number, string>();

  async record(e: EventInput | EventInput[], at: Date, trx: Kysely<NetworkDb> = this.db): Promise<void> {
    const events = Array.isArray(e) ? e : [e];
    if (events.length === 0) return;
    let sql = this.#insertSql.get(events.length);
    if (!sql) {
      const blank = { at: '', device_serial: null, step: null, action: '', outcome: '', code: null, detail: null };
      sql = trx.insertInto('net_events').values(events.map(() => blank)).compile().sql;
      this.#insertSql.set(events.length, sql);
    }
    // The parameters in the order of `blank`'s columns, row after row.
    const parameters = events.flatMap((x) => [at.toISOString(), x.serial, x.step ?? null, x.action, x.outcome, x.code ?? null, x.detail ? JSON.stringify(x.detail) : null]);
    await trx.executeQuery(CompiledQuery.raw(sql, parameters));
  }

  async device(serial: string): Promise<DeviceRecord> {
    const row = await this.db.selectFrom('net_devices').selectAll().where('serial', '=', serial).executeTakeFirst();
    if (!row) throw new AirlockError('ERR_DEVICE_NOT_FOUND', serial);
    const { idevid_der: _omit, ...rest } = row;
    return rest;
  }

  async devices(): Promise<DeviceRecord[]> {
    return this.db
      .selectFrom('net_devices')
      .select(['serial', 'manufacturer', 'state', 'nonce', 'voucher_at', 'authenticated_at', 'onboarded_at', 'ldevid_serial', 'psk_id', 'onboardings', 'updated_at'])
      .orderBy('serial')
      .execute();
  }

  async events(serial: string): Promise<EventRecord[]> {
    return this.db.selectFrom('net_events').selectAll().where('device_serial', '=', serial).orderBy('id').execute();
  }

  async certificates(serial: string): Promise<Selectable<NetworkDb['net_certificates']>[]> {
    return this.db.selectFrom('net_certificates').selectAll().where('device_serial', '=', serial).orderBy('issued_at').execute();
  }
}
