/**
 * ShareStore in IndexedDB (idb-keyval), for party pages and their workers: one entry per key the session
 * runtime uses (a share part under `${identity}/${modelId}/${epoch}/${party}/${tensor}/${part}`, a sharing's
 * binding record under `binding/${modelId}/${epoch}`), so a reloaded page reuses the parts of the same sharing
 * and fetches nothing it already holds. A session looks its parts up by size (size(), a Blob's, no read); the
 * pass checks each part's sha256 as it reads it and deletes parts that fail, and the runtime refuses to put a
 * second party's bundle of one sharing into the store.
 *
 * Values are stored as Blobs (format 2): a get then hands back a handle to the browser's file of the value and
 * blob.arrayBuffer() reads the bytes once, where a stored Uint8Array (format 1, written by earlier versions,
 * still read) is deserialized through a structured clone: in a party page's worker (`npm run bench -- idb-reads`,
 * 8 MiB parts) Blob values came back about 1.4-2x as fast and were written about 1.7x as fast. A value of neither
 * type, or a Blob whose bytes can no longer be read, counts as missing: the runtime fetches that part again.
 *
 * Beside the parts, a second database keeps a small record per key (its bytes and when it was written), so the
 * page can list what it caches without reading megabytes of shares back, and delete a sharing or everything.
 * The record is written after its part: a page closed in between leaves a part without a record, whose size
 * the listing then reads from the part itself.
 */
import { clear, createStore, del, delMany, entries, get, getMany, keys, set, type UseStore } from 'idb-keyval';
import type { ShareStore } from '../session/index.ts';
import { groupSharings, keysOfSharing, parseBindingKey, type BindingRecord, type CachedSharing, type SharingRef } from './share-cache-listing.ts';

interface KeyRecord {
  bytes: number;
  /** Date.now() of the write; null for a part written before records existed (its size read back once). */
  at: number | null;
}

export class IdbShareStore implements ShareStore {
  /** Every get is the reader's own bytes: a Blob's arrayBuffer(), or a format-1 value's structured clone. */
  readonly freshReads = true;
  private readonly db: UseStore;
  private readonly records: UseStore;

  constructor() {
    if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available here; the party cannot cache its shares');
    this.db = createStore('puma-shares', 'parts');
    this.records = createStore('puma-share-records', 'records');
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return get<unknown>(key, this.db).then(bytesOfStoredValue);
  }

  /**
   * The stored value's size without reading its bytes: a Blob's size (a format-1 value is deserialized to learn
   * it), once its last byte reads back. A page closed while a part was being stored can leave a key whose Blob
   * still has its size but no longer reads (the storage e2e's resume case, under load); such a part counts as
   * missing here, so the start-up check fetches it again instead of the pass failing on it.
   */
  async size(key: string): Promise<number | undefined> {
    return readableSizeOfStoredValue(await get<unknown>(key, this.db));
  }

  async set(key: string, bytes: Uint8Array): Promise<void> {
    await set(key, storedValue(bytes), this.db);
    await set(key, { bytes: bytes.byteLength, at: Date.now() } satisfies KeyRecord, this.records);
  }

  async delete(key: string): Promise<void> {
    await del(key, this.db);
    await del(key, this.records);
  }

  /** Which of `wanted` the store holds (present, not checked against any hash). */
  async holds(wanted: readonly string[]): Promise<Set<string>> {
    const present = new Set(await keys<string>(this.db));
    return new Set(wanted.filter((k) => present.has(k)));
  }

  /** Every sharing this store holds parts (or a binding record) of, newest first. */
  async list(): Promise<CachedSharing[]> {
    const all = await keys<string>(this.db);
    const sizes = new Map<string, number>();
    const written = new Map<string, number>();
    for (const [k, r] of await entries<string, unknown>(this.records)) {
      if (isKeyRecord(r)) {
        sizes.set(k, r.bytes);
        if (r.at !== null) written.set(k, r.at);
      }
    }
    const bindingKeys = all.filter((k) => parseBindingKey(k) !== null);
    // Parts written before records existed, or whose record a closed page did not write: their size is read
    // once and recorded, so the next listing does not read them again.
    for (const k of all) {
      if (sizes.has(k) || bindingKeys.includes(k)) continue;
      const bytes = sizeOfStoredValue(await get<unknown>(k, this.db));
      if (bytes === null) continue;
      sizes.set(k, bytes);
      await set(k, { bytes, at: null } satisfies KeyRecord, this.records);
    }
    const bindings: BindingRecord[] = [];
    const held = await getMany<unknown>(bindingKeys, this.db);
    for (const [i, k] of bindingKeys.entries()) {
      const b = decodeBinding(await bytesOfStoredValue(held[i]));
      if (b) bindings.push({ ...parseBindingKey(k)!, ...b });
    }
    return groupSharings(all, sizes, written, bindings);
  }

  /** Deletes one sharing's parts and binding record; resolves with the number of keys deleted. */
  async deleteSharing(s: SharingRef): Promise<number> {
    const doomed = keysOfSharing(await keys<string>(this.db), s);
    await delMany(doomed, this.db);
    await delMany(doomed, this.records);
    return doomed.length;
  }

  /** Deletes everything this store holds. */
  async clear(): Promise<void> {
    await clear(this.db);
    await clear(this.records);
  }
}

/**
 * What set() writes for `bytes`: a Blob of exactly the view's bytes (format 2). A Blob takes the view's bytes
 * only, where a put of a Uint8Array clones its whole backing buffer (an 8 MiB part cut with subarray from a
 * 309 MB tensor would store the tensor under each of its parts' keys).
 */
export function storedValue(bytes: Uint8Array): Blob {
  return new Blob([bytes as Uint8Array<ArrayBuffer>]);
}

/**
 * The bytes of a stored value, in a buffer of the reader's own: a Blob (format 2) read once, a Uint8Array
 * (format 1, already the reader's structured clone) as it is. Anything else, or a Blob whose file the browser
 * can no longer read (a profile damaged on disk), is undefined: a missing part, which the runtime fetches again.
 */
export async function bytesOfStoredValue(value: unknown): Promise<Uint8Array | undefined> {
  if (value instanceof Uint8Array) return value;
  if (!(value instanceof Blob)) return undefined;
  try {
    return new Uint8Array(await value.arrayBuffer());
  } catch {
    return undefined;
  }
}

/** A stored value's size in bytes without reading it (a Blob knows its size); null for a value of no known format. */
export function sizeOfStoredValue(value: unknown): number | null {
  if (value instanceof Blob) return value.size;
  if (value instanceof Uint8Array) return value.byteLength;
  return null;
}

/** A stored value's size once its last byte reads back (IdbShareStore.size says why); undefined when it does not. */
export async function readableSizeOfStoredValue(value: unknown): Promise<number | undefined> {
  const size = sizeOfStoredValue(value);
  if (size === null) return undefined;
  if (value instanceof Blob && size > 0) {
    try {
      await value.slice(size - 1, size).arrayBuffer();
    } catch {
      return undefined;
    }
  }
  return size;
}

function isKeyRecord(r: unknown): r is KeyRecord {
  if (typeof r !== 'object' || r === null) return false;
  const { bytes, at } = r as KeyRecord;
  return Number.isFinite(bytes) && (at === null || Number.isFinite(at));
}

/** The binding record's JSON ({ party, identity }); null when it is damaged (it is then listed by its parts only). */
function decodeBinding(v: Uint8Array | undefined): { party: number; identity: string } | null {
  if (v === undefined) return null;
  try {
    const b = JSON.parse(new TextDecoder().decode(v)) as { party?: unknown; identity?: unknown };
    if ((b.party === 0 || b.party === 1 || b.party === 2) && typeof b.identity === 'string') return { party: b.party, identity: b.identity };
  } catch {
    // Damaged: left to the runtime, which names it when a session uses this sharing.
  }
  return null;
}
