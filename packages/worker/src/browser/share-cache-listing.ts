/**
 * What a share store holds, grouped for people: one row per sharing a party keeps (identity, model id, sharing
 * epoch, party slot), with its part count, bytes and when a part of it was last written. Pure: the IndexedDB
 * store (idb-share-store.ts) hands in its keys, the part sizes and the binding records it read.
 *
 * Keys are the session runtime's: parts under `${identity}/${modelId}/${epoch}/${party}/${tensor}/${part}`
 * (identity 64 hex digits; model ids and epochs never contain "/"), binding records under
 * `binding/${modelId}/${epoch}`.
 */

/** Which sharing a row is: enough to delete exactly its keys. */
export interface SharingRef {
  identity: string;
  modelId: string;
  epoch: string;
  party: number;
}

export interface CachedSharing extends SharingRef {
  parts: number;
  bytes: number;
  /** Milliseconds since the epoch of the newest part write the store recorded; null when it recorded none. */
  lastWritten: number | null;
}

/** The binding record's content (store-binding.ts): the party slot and identity this store holds for a sharing. */
export interface BindingRecord {
  modelId: string;
  epoch: string;
  party: number;
  identity: string;
}

const PART_KEY = /^([0-9a-f]{64})\/([^/]+)\/([^/]+)\/([0-2])\/.+$/;
const BINDING_KEY = /^binding\/([^/]+)\/([^/]+)$/;

/** The key prefix every part of a sharing starts with. */
export function sharingPrefix(s: SharingRef): string {
  return `${s.identity}/${s.modelId}/${s.epoch}/${s.party}/`;
}

/** The binding record's key of a sharing (the same as store-binding.ts bindingKey). */
export function bindingKeyOf(s: Pick<SharingRef, 'modelId' | 'epoch'>): string {
  return `binding/${s.modelId}/${s.epoch}`;
}

/** Parses a binding record key; null for any other key. */
export function parseBindingKey(key: string): { modelId: string; epoch: string } | null {
  const m = BINDING_KEY.exec(key);
  return m ? { modelId: m[1], epoch: m[2] } : null;
}

/**
 * Groups part keys into sharings. `sizes` gives each part's bytes and `written` its last write time where the
 * store recorded one. A binding record without any part yet (a session that stopped before its first part)
 * is a row of 0 parts, so it can be seen and deleted too. Keys of no known form are left out. Rows are sorted
 * newest first, then by model id.
 */
export function groupSharings(
  keys: readonly string[],
  sizes: ReadonlyMap<string, number>,
  written: ReadonlyMap<string, number>,
  bindings: readonly BindingRecord[],
): CachedSharing[] {
  const rows = new Map<string, CachedSharing>();
  const row = (ref: SharingRef): CachedSharing => {
    const id = sharingPrefix(ref);
    let r = rows.get(id);
    if (!r) {
      r = { ...ref, parts: 0, bytes: 0, lastWritten: null };
      rows.set(id, r);
    }
    return r;
  };
  for (const key of keys) {
    const m = PART_KEY.exec(key);
    if (!m) continue;
    const r = row({ identity: m[1], modelId: m[2], epoch: m[3], party: Number(m[4]) });
    r.parts += 1;
    r.bytes += sizes.get(key) ?? 0;
    const at = written.get(key);
    if (at !== undefined && (r.lastWritten === null || at > r.lastWritten)) r.lastWritten = at;
  }
  for (const b of bindings) row(b);
  return [...rows.values()].sort((a, b) => (b.lastWritten ?? 0) - (a.lastWritten ?? 0) || a.modelId.localeCompare(b.modelId) || a.epoch.localeCompare(b.epoch));
}

/** The keys of one sharing among `keys`: its parts, and its binding record. */
export function keysOfSharing(keys: readonly string[], s: SharingRef): string[] {
  const prefix = sharingPrefix(s);
  const binding = bindingKeyOf(s);
  return keys.filter((k) => k.startsWith(prefix) || k === binding);
}
