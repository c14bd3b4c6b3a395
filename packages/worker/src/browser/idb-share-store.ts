/**
 * ShareStore in IndexedDB (idb-keyval), for party pages and their workers: one entry per share part under the
 * session runtime's key `${modelId}/${epoch}/${party}/${tensor}/${part}`, so a reloaded page reuses the parts
 * of the same sharing and fetches nothing it already holds. The runtime checks each part's sha256 on read and
 * deletes parts that fail.
 */
import { createStore, del, get, keys, set, type UseStore } from 'idb-keyval';
import type { ShareStore } from '../session/index.ts';

export const SHARE_DB_NAME = 'puma-shares';
export const SHARE_STORE_NAME = 'parts';

export class IdbShareStore implements ShareStore {
  private readonly db: UseStore;

  constructor(dbName = SHARE_DB_NAME, storeName = SHARE_STORE_NAME) {
    if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available here; the party cannot cache its shares');
    this.db = createStore(dbName, storeName);
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

  /** Keys held, for the page's cache summary. */
  async keys(): Promise<string[]> {
    return (await keys(this.db)).filter((k): k is string => typeof k === 'string');
  }
}
