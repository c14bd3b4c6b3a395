/**
 * ShareStore in IndexedDB (idb-keyval), for party pages and their workers: one entry per key the session
 * runtime uses (a share part under `${identity}/${modelId}/${epoch}/${party}/${tensor}/${part}`, a sharing's
 * binding record under `binding/${modelId}/${epoch}`), so a reloaded page reuses the parts of the same sharing
 * and fetches nothing it already holds. The runtime checks each part's sha256 on read and deletes parts that
 * fail, and refuses to put a second party's bundle of one sharing into the store.
 */
import { createStore, del, get, set, type UseStore } from 'idb-keyval';
import type { ShareStore } from '../session/index.ts';

export class IdbShareStore implements ShareStore {
  private readonly db: UseStore;

  constructor() {
    if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available here; the party cannot cache its shares');
    this.db = createStore('puma-shares', 'parts');
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const value: unknown = await get(key, this.db);
    if (value === undefined) return undefined;
    // A value of another type (an older layout, a foreign writer) counts as missing; the runtime refetches it.
    return value instanceof Uint8Array ? value : undefined;
  }

  set(key: string, bytes: Uint8Array): Promise<void> {
    return set(key, bytes, this.db);
  }

  delete(key: string): Promise<void> {
    return del(key, this.db);
  }
}
