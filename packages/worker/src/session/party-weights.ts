/**
 * A party's weight share: the parts its store holds with the right size, the rest from the model owner.
 * A cached part is looked up, not read: the start-up check asks the store for each part's byte length (an
 * IndexedDB Blob's size once its last byte reads back, a file's) and takes it when it matches the manifest, so a
 * cached GPT-2-base share (995 MB per dense party) is not read and hashed before the session is ready (`bench
 * browsers --model gpt2-base`, cached run: the owner's serve, which lasts until every party has checked its
 * cache, 49.9 s at load ~14 before, 1.6 s after at load ~9; the first pass then reads the parts itself). Its
 * sha256 is checked when the pass reads it (stored-weights.ts), which fails that job naming a part that does
 * not match and deletes it from the store, so the next session fetches it again (the owner serves parts only
 * before the session's jobs).
 * Parts that arrive are verified and stored as they come and not kept in memory: the secure pass streams them
 * from the store. Parts the store cannot take (not bound to this sharing, full) are kept in memory instead, so
 * such a session still runs, with the whole share resident. The blocks the pass uses are kept for later passes
 * up to the weight cache's budget (stored-weights.ts). Downloaded parts the weight cache will keep go to the
 * first pass as checked, so it does not read and hash them again (stored-weights.ts says why that keeps
 * tamper detection honest).
 */
import type { WeightSource } from '@puma/models/secure';
import { OWNER, type Channel, type PartyId } from '@puma/transport';
import { encodeJson } from './json.ts';
import { partKey, sha256Hex } from './shares.ts';
import { MemoryShareStore } from './store.ts';
import { StoredWeightSource, verifiedPartKept } from './stored-weights.ts';
import type { PartInfo, PartyShareManifest, ShareStore, StoredWeightOptions, WeightTransferReport } from './types.ts';

/** Stores of received parts running at once while the next parts arrive. */
const STORES_IN_FLIGHT = 2;
/** Cached parts looked up at once when a session begins. */
const LOOKUPS_IN_FLIGHT = 8;

/** Runs `task` for 0 .. n-1 with at most `width` running at once; after a failure none starts, and it rejects with it. */
async function inBatches(n: number, width: number, task: (k: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (next < n && !failed) await task(next++).catch((e: unknown) => {
      failed = true;
      throw e;
    });
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(width, n) }, lane));
  const first = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (first) throw first.reason;
}

export interface FetchWeightsOptions {
  channel: Channel;
  id: PartyId;
  identity: string;
  store: ShareStore;
  /** False when the store could not be bound to this sharing: then no part is written to it. */
  cacheable: boolean;
  progress: (w: WeightTransferReport, message: string) => void;
  /** How the pass reads them back (the weight cache's cap; stored-weights.ts). */
  read?: StoredWeightOptions;
}

/** The byte length of the store's entry at `key`, read only from a store that cannot say it otherwise. */
async function storedSize(store: ShareStore, key: string): Promise<number | undefined> {
  return store.size ? store.size(key) : (await store.get(key))?.byteLength;
}

/**
 * Takes every part the store holds with the right size, asks the owner for the rest, verifies and stores
 * those. A cached part of the wrong size is deleted and fetched again, never used.
 */
export async function fetchWeights(manifest: PartyShareManifest, o: FetchWeightsOptions): Promise<{ weights: WeightSource; report: WeightTransferReport }> {
  const { channel, store } = o;
  const key = (k: number) => partKey(o.identity, manifest.modelId, manifest.epoch, o.id, manifest.parts[k].tensor, manifest.parts[k].part);
  const report: WeightTransferReport = {
    partsTotal: manifest.parts.length, cacheHits: 0, corruptParts: 0, partsFetched: 0, shareBytesDownloaded: 0, cacheWriteFailures: 0,
  };
  const kept = new MemoryShareStore();
  const found: Array<'hit' | 'missing' | 'corrupt'> = [];
  await inBatches(manifest.parts.length, LOOKUPS_IN_FLIGHT, async (k) => {
    const size = await storedSize(store, key(k));
    if (size === undefined) {
      found[k] = 'missing';
    } else if (size === manifest.parts[k].bytes) {
      found[k] = 'hit';
    } else {
      found[k] = 'corrupt';
      await store.delete?.(key(k));
    }
  });
  const missing = manifest.parts.flatMap((_, k) => (found[k] === 'hit' ? [] : [k]));
  report.cacheHits = found.filter((f) => f === 'hit').length;
  report.corruptParts = found.filter((f) => f === 'corrupt').length;
  o.progress(report, `model ${manifest.modelId}: ${report.cacheHits} of ${report.partsTotal} parts cached` +
    (report.corruptParts ? ` (${report.corruptParts} of the wrong size, refetching)` : '') + `, fetching ${missing.length}`);
  channel.send(OWNER, 'w:want', encodeJson({ parts: missing }));
  const keep = verifiedPartKept(manifest, o.read);
  const verified = new Map<PartInfo, Uint8Array>();
  // Each part is acknowledged (w:got:<k>) once verified and stored, which paces the owner (owner.ts sendParts);
  // up to STORES_IN_FLIGHT stores run while the next parts arrive and are verified.
  const fetchStart = performance.now();
  const times = { waiting: 0, verifying: 0, storing: 0 };
  const storing: Promise<void>[] = [];
  const storePart = async (k: number, bytes: Uint8Array) => {
    let stored = false;
    if (o.cacheable) {
      try {
        await store.set(key(k), bytes);
        stored = true;
      } catch {
        // A full or unavailable cache costs a download next time and memory this session, not the session.
      }
    }
    if (!stored) {
      report.cacheWriteFailures += 1;
      await kept.set(key(k), bytes);
    }
    channel.send(OWNER, `w:got:${k}`, new Uint8Array(0));
  };
  for (const k of missing) {
    const info = manifest.parts[k];
    let t = performance.now();
    const bytes = await channel.recv(OWNER, `w:part:${k}`);
    times.waiting += performance.now() - t;
    t = performance.now();
    if (bytes.byteLength !== info.bytes || (await sha256Hex(bytes)) !== info.sha256) {
      throw new Error(`share part ${info.tensor}/${info.part} from the model owner does not match its sha256 in the manifest`);
    }
    times.verifying += performance.now() - t;
    // The received bytes are the party's own (stores copy them), so the first pass may use them as checked.
    if (o.cacheable && keep(info)) verified.set(info, bytes);
    report.partsFetched += 1;
    report.shareBytesDownloaded += bytes.byteLength;
    const put = storePart(k, bytes);
    // Awaited below; a failure while the loop has already thrown must not count as unhandled.
    put.catch(() => {});
    storing.push(put);
    t = performance.now();
    if (storing.length >= STORES_IN_FLIGHT) await storing.shift();
    times.storing += performance.now() - t;
    o.progress(report, `fetched ${report.partsFetched} of ${missing.length} parts (${report.shareBytesDownloaded} bytes)`);
  }
  const t = performance.now();
  await Promise.all(storing);
  times.storing += performance.now() - t;
  if (missing.length > 0) {
    Object.assign(report, {
      msFetching: Math.round(performance.now() - fetchStart), msWaitingForParts: Math.round(times.waiting),
      msVerifying: Math.round(times.verifying), msWaitingForStores: Math.round(times.storing),
    });
    o.progress(report, `fetched ${missing.length} parts in ${(report.msFetching! / 1000).toFixed(1)} s: waiting for parts ` +
      `${(times.waiting / 1000).toFixed(1)} s, sha256 ${(times.verifying / 1000).toFixed(1)} s, waiting for stores ${(times.storing / 1000).toFixed(1)} s`);
  }
  channel.send(OWNER, 'w:done', encodeJson(report));
  const source: ShareStore = kept.entries.size === 0 ? store : {
    get: async (k) => (await kept.get(k)) ?? store.get(k),
    set: (k, bytes) => kept.set(k, bytes),
  };
  return { weights: new StoredWeightSource(manifest, source, o.identity, o.read, verified), report };
}
