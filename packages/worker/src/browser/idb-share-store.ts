/**
 * ShareStore in IndexedDB (idb-keyval), for party pages and their workers: one entry per key the session
 * runtime uses (a share part under `${identity}/${modelId}/${epoch}/${party}/${tensor}/${part}`, a sharing's
 * binding record under `binding/${modelId}/${epoch}`), so a reloaded page reuses the parts of the same sharing
 * and fetches nothing it already holds. The runtime checks each part's sha256 on read and deletes parts that
 * fail, and refuses to put a second party's bundle of one sharing into the store.
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
  /** Every get is a structured clone of the stored value: the reader's own bytes. */
  readonly freshReads = true;
  private readonly db: UseStore;
  private readonly records: UseStore;

  constructor() {
    if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available here; the party cannot cache its shares');
    this.db = createStore('puma-shares', 'parts');
    this.records = createStore('puma-share-records', 'records');
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const value: unknown = await get(key, this.db);
    if (value === undefined) return undefined;
    // A value of another type (an older layout, a foreign writer) counts as missing; the runtime refetches it.
    return value instanceof Uint8Array ? value : undefined;
  }

  async set(key: string, bytes: Uint8Array): Promise<void> {
    await set(key, ownedBytes(bytes), this.db);
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
      const v: unknown = await get(k, this.db);
      if (!(v instanceof Uint8Array)) continue;
      sizes.set(k, v.byteLength);
      await set(k, { bytes: v.byteLength, at: null } satisfies KeyRecord, this.records);
    }
    const bindings: BindingRecord[] = [];
    const held = await getMany<unknown>(bindingKeys, this.db);
    bindingKeys.forEach((k, i) => {
      const b = decodeBinding(held[i]);
      if (b) bindings.push({ ...parseBindingKey(k)!, ...b });
    });
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
 * `view`'s bytes in an ArrayBuffer of their own (the view itself when it already spans its whole buffer). A
 * put clones a typed array's whole backing buffer, not the view's bytes: an 8 MiB part cut with subarray from a
 * tensor's dense share would store the whole tensor under each of its parts' keys (GPT-2-base's embedding:
 * 37 parts of 309 MB each, 11 GB, cloned on the calling thread).
 */
export function ownedBytes(view: Uint8Array): Uint8Array {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength ? view : view.slice();
}

function isKeyRecord(r: unknown): r is KeyRecord {
  if (typeof r !== 'object' || r === null) return false;
  const { bytes, at } = r as KeyRecord;
  return Number.isFinite(bytes) && (at === null || Number.isFinite(at));
}

/** The binding record's JSON ({ party, identity }); null when it is damaged (it is then listed by its parts only). */
function decodeBinding(v: unknown): { party: number; identity: string } | null {
  if (!(v instanceof Uint8Array)) return null;
  try {
    const b = JSON.parse(new TextDecoder().decode(v)) as { party?: unknown; identity?: unknown };
    if ((b.party === 0 || b.party === 1 || b.party === 2) && typeof b.identity === 'string') return { party: b.party, identity: b.identity };
  } catch {
    // Damaged: left to the runtime, which names it when a session uses this sharing.
  }
  return null;
}
