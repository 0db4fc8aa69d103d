/**
 * The inventory: every device the network has onboarded or is onboarding, its state, the
 * identifiers of its credentials (never the secrets), and its audit trail, step by step.
 */
import { AirlockError } from '../../core/errors.js';
import type {
  CertificateRecord,
  DeviceRecord,
  EventInput,
  EventRecord,
  NetworkRepositories,
  NetworkStore,
} from '../../core/store.js';

export type { DeviceRecord, EventInput, EventRecord };

export class Inventory {
  constructor(private readonly store: NetworkStore) {}

  /** Records events in `r`'s unit of work, or on their own. */
  async record(e: EventInput | EventInput[], at: Date, r?: NetworkRepositories): Promise<void> {
    const events = Array.isArray(e) ? e : [e];
    await (r ? r.events.record(events, at) : this.store.run((x) => x.events.record(events, at)));
  }

  async device(serial: string): Promise<DeviceRecord> {
    const row = await this.store.run((r) => r.devices.record(serial));
    if (!row) throw new AirlockError('ERR_DEVICE_NOT_FOUND', serial);
    return row;
  }

  async devices(): Promise<DeviceRecord[]> {
    return this.store.run((r) => r.devices.list());
  }

  /** The device's latest attestation result: the EAR as the verifier signed it, if any. */
  async attestation(serial: string): Promise<string | null> {
    return this.store.run(async (r) => (await r.devices.attestationResult(serial)) ?? null);
  }

  async events(serial: string): Promise<EventRecord[]> {
    return this.store.run((r) => r.events.of(serial));
  }

  async certificates(serial: string): Promise<CertificateRecord[]> {
    return this.store.run((r) => r.credentials.certificatesOf(serial));
  }
}
