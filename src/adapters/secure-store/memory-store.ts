import type { SecureStore } from '../../core/ports.js';

/** A secure store in memory, for simulated fleets (benchmarks) and unit tests. */
export class MemorySecureStore implements SecureStore {
  readonly #entries = new Map<string, Uint8Array>();

  async read(name: string): Promise<Uint8Array | undefined> {
    return this.#entries.get(name);
  }

  async write(name: string, data: Uint8Array): Promise<void> {
    this.#entries.set(name, new Uint8Array(data));
  }

  async erase(name: string): Promise<void> {
    this.#entries.delete(name);
  }

  async names(): Promise<string[]> {
    return [...this.#entries.keys()];
  }
}
