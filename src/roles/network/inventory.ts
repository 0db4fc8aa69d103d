/**
 * The inventory: every device the network has onboarded or is onboarding, its state, the
 * identifiers of its credentials (never the secrets), and its audit trail, step by step.
 */
import type { Kysely, Selectable } from 'kysely';
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

  async record(e: EventInput | EventInput[], at: Date, trx: Kysely<NetworkDb> = this.db): Promise<void> {
    const rows = (Array.isArray(e) ? e : [e]).map((x) => ({
      at: at.toISOString(), device_serial: x.serial, step: x.step ?? null, action: x.action, outcome: x.outcome, code: x.code ?? null, detail: x.detail ? JSON.stringify(x.detail) : null,
    }));
    await trx.insertInto('net_events').values(rows).execute();
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
