import type { ShareStore } from './types.ts';

/** ShareStore in memory (tests; a page without IndexedDB). `entries` is exposed so tests can inspect or corrupt it. */
export class MemoryShareStore implements ShareStore {
  readonly entries = new Map<string, Uint8Array>();
  async get(key: string): Promise<Uint8Array | undefined> {
    return this.entries.get(key);
  }
  async set(key: string, bytes: Uint8Array): Promise<void> {
    this.entries.set(key, bytes.slice());
  }
  async size(key: string): Promise<number | undefined> {
    return this.entries.get(key)?.byteLength;
  }
  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }
}
