/**
 * A party's weight shares read from its share store during the secure pass (the WeightSource of
 * models/secure/weight-source.ts): seeds parts (40 or 72 bytes, kept once read) and dense slices ("dense.<k>",
 * DENSE_PART_BYTES each) read by word range. A part is copied out of the store's hands first (unless the store's
 * reads are already the reader's own bytes, as IndexedDB's structured clones are) and the copy is checked
 * against its size and sha256 in the manifest, so what the pass uses is what was checked; a part that
 * went missing or changed since it was fetched fails the step with a message naming it, never a silently
 * wrong result. Such a part is deleted from the store first (and refused again if the session asks for it), so
 * the next session's start-up check, which looks parts up by size only (party-weights.ts), finds it missing and
 * fetches it again: the pass's check is the only one a cached part gets. The last few dense parts read are kept
 * (and a read in flight is shared), so consecutive row blocks that share a part read it once.
 *
 * With a weight cache (the default; models/secure/weight-cache.ts) the pass keeps the blocks it used, up to
 * the cache's budget, for the session's later passes: those blocks are read and checked once per session,
 * the rest on every pass. A share larger than the budget is cached dense-first (only the dense words of a
 * block, its PRG component regenerated each pass), which spares twice the store reads per byte of budget, with
 * its budget reserved first for the tensors read as the most blocks in a row (the vocabulary tables). The file
 * header of weight-cache.ts says why that keeps tamper detection honest.
 *
 * Parts the session has just downloaded and checked need not be read again by the first pass: the session hands
 * them over (`verified`), and the first read of such a part takes those bytes, as checked, instead of the
 * store's (a GPT-2-base share otherwise goes through IndexedDB and sha256 twice before its first token: 1.3 GB
 * each time). It is the same guarantee as the cache's: what a pass uses is exactly what a check of the part's
 * sha256 saw, and a part changed in the store afterwards is read (and refused, naming it) only by a pass that
 * does not hold it. The session keeps only the dense parts whose words the cache will keep (verifiedPartKept:
 * all of them when the share fits; else the tensors the cache reserves room for, then the others in manifest
 * order, the pass's order, up to its budget), so they take about the memory the cache takes after the first
 * pass, and seeds parts (tens of bytes each). Cached parts are not handed over: the start-up check does not
 * read them, so the first pass reads and checks them itself.
 */
import { decodeBundle } from '@puma/protocol';
import { sizeOf, zeroWords } from '@puma/ring';
import { cacheReservations, DEFAULT_BLOCK_WORDS, expandedShareBytes, newWeightTimes, weightCacheBudget, WeightBlockCache, type SeedExpander, type TensorSeeds, type WeightManifest, type WeightSource, type WeightTimes } from '@puma/models/secure';
import { DENSE_PART_BYTES, partKey, sha256Hex } from './shares.ts';
import type { PartInfo, PartyShareManifest, ShareStore, StoredWeightOptions } from './types.ts';

const PART_WORDS = DENSE_PART_BYTES / 8;
/**
 * Dense parts of the same tensor read ahead of the one a block asks for: the stream reads one block ahead, and
 * with these a tensor's next parts load during the work before it too (IndexedDB took 2-4 reads in flight
 * about as fast as one, per read, in `npm run bench -- idb-reads`).
 */
const READ_AHEAD_PARTS = 2;
/** Dense parts kept after their read: the open block's two, the next block's, and those read ahead. */
const RECENT_PARTS = 3 + READ_AHEAD_PARTS;

/** The weight cache a source over `shares` keeps (StoredWeightSource's constructor), and whether it holds every block. */
function cachePlan(shares: PartyShareManifest, o: StoredWeightOptions): { budget: number; denseFirst: boolean; sizes: Array<{ name: string; words: number; bytesPerWord: number }>; wholeShare: boolean } {
  const manifest = { modelId: shares.modelId, config: shares.config, fracBits: shares.fracBits, tensors: shares.tensors };
  const dense = new Set(shares.parts.filter((p) => p.part !== 'seeds').map((p) => p.tensor));
  const budget = weightCacheBudget(manifest, o.weightCacheBytes);
  // A share that does not fit keeps dense words first: they cost a store read and a hash, PRG words only an
  // expansion; and its budget goes first to the tensors whose reads the pass waits for most (weight-cache.ts).
  const denseFirst = budget < expandedShareBytes(manifest);
  const sizes = shares.tensors.map((t) => ({ name: t.name, words: sizeOf(t.shape), bytesPerWord: denseFirst && dense.has(t.name) ? 8 : 16 }));
  const wholeShare = budget > 0 && sizes.reduce((sum, t) => sum + t.words * t.bytesPerWord, 0) <= budget;
  return { budget, denseFirst, sizes, wholeShare };
}

/**
 * Whether a session should hand part `info`, just checked, to its source for the first pass (the file header
 * says why): a seeds part always; dense parts as the weight cache of `o` will keep their words: every one
 * when the share fits, else (dense-first, 8 bytes a word) the tensors it reserves room for, then the others in
 * manifest order, part by part while they fit its budget.
 */
export function verifiedPartKept(shares: PartyShareManifest, o: StoredWeightOptions = {}): (info: PartInfo) => boolean {
  const { budget, denseFirst, sizes, wholeShare } = cachePlan(shares, o);
  if (wholeShare) return () => true;
  const kept = new Set<PartInfo>();
  if (budget > 0 && denseFirst) {
    const reserved = [...cacheReservations(sizes, budget, DEFAULT_BLOCK_WORDS).keys()];
    const order = [...reserved, ...shares.tensors.map((t) => t.name).filter((n) => !reserved.includes(n))];
    const dense = order.flatMap((name) => shares.parts.filter((p) => p.tensor === name && p.part !== 'seeds'));
    let left = budget;
    for (const info of dense) {
      if (info.bytes > left) break;
      kept.add(info);
      left -= info.bytes;
    }
  }
  return (info) => info.part === 'seeds' || kept.has(info);
}

/** A part's bytes as words: a view when they are 8-byte aligned, else a copy. */
function wordsOf(bytes: Uint8Array): BigUint64Array {
  if (bytes.byteOffset % 8 === 0 && bytes.byteLength % 8 === 0) return new BigUint64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  const words = new BigUint64Array(Math.ceil(bytes.byteLength / 8));
  new Uint8Array(words.buffer).set(bytes);
  return words;
}

export class StoredWeightSource implements WeightSource {
  readonly manifest: WeightManifest;
  readonly cache?: WeightBlockCache;
  readonly expand?: SeedExpander;
  readonly times: WeightTimes = newWeightTimes();
  private readonly seedParts = new Map<string, PartInfo>();
  private readonly denseParts = new Map<string, PartInfo[]>();
  private readonly sha256: (bytes: Uint8Array) => string | Promise<string>;
  /** The latest dense part reads, in flight or done, oldest first (at most RECENT_PARTS). */
  private readonly recent = new Map<PartInfo, Promise<BigUint64Array>>();
  /** Parts handed over already checked, each taken by its first read (the file header says why). */
  private readonly verified: Map<PartInfo, Uint8Array>;
  /** Parts a read found missing or damaged (and deleted), with the error every later read of them throws. */
  private readonly refused = new Map<PartInfo, Error>();

  /**
   * `verified`: parts of `shares.parts` (the same objects) with bytes the caller has just checked against their
   * sha256 and that nobody writes afterwards; the first read of each takes them instead of the store's.
   */
  constructor(
    private readonly shares: PartyShareManifest,
    private readonly store: ShareStore,
    private readonly identity: string,
    o: StoredWeightOptions = {},
    verified: ReadonlyMap<PartInfo, Uint8Array> = new Map(),
  ) {
    const { modelId, config, fracBits, tensors } = shares;
    this.manifest = { modelId, config, fracBits, tensors };
    this.sha256 = o.sha256 ?? sha256Hex;
    this.expand = o.expand;
    for (const p of shares.parts) {
      if (p.part === 'seeds') {
        this.seedParts.set(p.tensor, p);
      } else {
        const list = this.denseParts.get(p.tensor) ?? [];
        list[Number(p.part.slice('dense.'.length))] = p;
        this.denseParts.set(p.tensor, list);
      }
    }
    const { budget, denseFirst, sizes } = cachePlan(shares, o);
    if (budget > 0) {
      this.cache = new WeightBlockCache(budget, { denseFirst, reserved: denseFirst ? cacheReservations(sizes, budget, DEFAULT_BLOCK_WORDS) : undefined });
    }
    const parts = new Set(shares.parts);
    for (const info of verified.keys()) {
      if (!parts.has(info)) throw new Error(`a verified part ${info.tensor}/${info.part} handed to the weight source is not one of party ${shares.party}'s manifest parts`);
    }
    this.verified = new Map(verified);
  }

  async seeds(tensor: string): Promise<TensorSeeds> {
    const info = this.seedParts.get(tensor);
    if (!info) return {};
    const b = decodeBundle((await this.read(info)).bytes);
    return { seed0: b.seed0, seed1: b.seed1 };
  }

  /** A view of the part when the range lies in one part (the usual case for a small tensor), else a copy. */
  async dense(tensor: string, start: number, count: number): Promise<BigUint64Array> {
    const parts = this.denseParts.get(tensor);
    if (!parts) throw new Error(`party ${this.shares.party} holds no dense component of tensor ${tensor}`);
    const first = Math.floor(start / PART_WORDS);
    if (count > 0 && Math.floor((start + count - 1) / PART_WORDS) === first) {
      const words = await this.denseWords(this.part(parts, tensor, start), parts);
      const from = start - first * PART_WORDS;
      if (from + count > words.length) throw new Error(`tensor ${tensor}: words [${start}, ${start + count}) run past its dense part ${first}`);
      return words.subarray(from, from + count);
    }
    const out = zeroWords(count);
    for (let w = start; w < start + count;) {
      const k = Math.floor(w / PART_WORDS);
      const words = await this.denseWords(this.part(parts, tensor, w), parts);
      const from = w - k * PART_WORDS;
      const n = Math.min(words.length - from, start + count - w);
      out.set(words.subarray(from, from + n), w - start);
      w += n;
    }
    return out;
  }

  private part(parts: PartInfo[], tensor: string, word: number): PartInfo {
    const info = parts[Math.floor(word / PART_WORDS)];
    if (!info) throw new Error(`tensor ${tensor}: word ${word} lies in no dense part of the manifest`);
    return info;
  }

  /**
   * A dense part's words, sharing a read with any block that asked for the same part before it finished or
   * since: a row block rarely ends on a part boundary, so consecutive blocks share a part, and the next block
   * is fetched while this one is (the stream's read-ahead). Without this, GPT-2-base's first pass in a tab read
   * 2,418 MB of dense parts for a 1,300 MB share. The tensor's next READ_AHEAD_PARTS parts are read too.
   */
  private denseWords(info: PartInfo, tensorParts: readonly PartInfo[]): Promise<BigUint64Array> {
    const words = this.recentRead(info);
    const at = tensorParts.indexOf(info);
    for (let k = at + 1; k <= at + READ_AHEAD_PARTS && k < tensorParts.length; k++) {
      // Nobody waits on a read-ahead yet: a failure is reported by the block that asks for the part.
      if (tensorParts[k]) this.recentRead(tensorParts[k]).catch(() => {});
    }
    return words;
  }

  /** The part's words from the recent reads, or a new read kept there. */
  private recentRead(info: PartInfo): Promise<BigUint64Array> {
    const held = this.recent.get(info);
    if (held) return held;
    const words = this.read(info).then((r) => r.words);
    // A failed read is not kept: the next block asking reads the part again (and reports what it finds).
    words.catch(() => this.recent.delete(info));
    this.recent.set(info, words);
    while (this.recent.size > RECENT_PARTS) this.recent.delete(this.recent.keys().next().value!);
    return words;
  }

  /** The part's bytes copied into a buffer of this source's own (8-byte aligned), checked after the copy. */
  private async read(info: PartInfo): Promise<{ bytes: Uint8Array; words: BigUint64Array }> {
    const m = this.shares;
    const what = `share part ${info.tensor}/${info.part} of party ${m.party} (model ${m.modelId}, sharing ${m.epoch})`;
    const t = this.times;
    const checked = this.verified.get(info);
    if (checked !== undefined) {
      this.verified.delete(info);
      t.partsReused += 1;
      t.bytesReused += checked.byteLength;
      return { bytes: checked, words: wordsOf(checked) };
    }
    const refused = this.refused.get(info);
    if (refused) throw refused;
    const key = partKey(this.identity, m.modelId, m.epoch, m.party, info.tensor, info.part);
    const t0 = performance.now();
    const stored = await this.store.get(key);
    const t1 = performance.now();
    t.storeMs += t1 - t0;
    if (stored === undefined) throw await this.refuse(info, key, `${what} is missing from this party's share store or can no longer be read`);
    t.partsRead += 1;
    t.bytesRead += stored.byteLength;
    // A store whose reads are the reader's own bytes (IndexedDB) is checked in place when they can be words.
    const inPlace = this.store.freshReads === true && stored.byteOffset === 0 && stored.byteLength === stored.buffer.byteLength && stored.byteLength % 8 === 0;
    const words = inPlace ? new BigUint64Array(stored.buffer) : new BigUint64Array(Math.ceil(stored.byteLength / 8));
    const bytes = inPlace ? stored : new Uint8Array(words.buffer, 0, stored.byteLength);
    if (!inPlace) bytes.set(stored);
    const t2 = performance.now();
    t.copyMs += t2 - t1;
    const digest = stored.byteLength === info.bytes ? await this.sha256(bytes) : null;
    t.hashMs += performance.now() - t2;
    if (digest !== info.sha256) {
      throw await this.refuse(info, key, `${what} in this party's share store does not match its sha256 in the manifest (changed or damaged since it was fetched)`);
    }
    return { bytes, words };
  }

  /**
   * Deletes a part a read found missing or damaged, so the next session fetches it again (its start-up check
   * looks parts up by size only), and returns the error that fails this read and every later one of the part.
   */
  private async refuse(info: PartInfo, key: string, problem: string): Promise<Error> {
    let outcome: string;
    if (!this.store.delete) {
      outcome = 'this store cannot delete it: clear this sharing from the store so that the next session fetches the part again';
    } else {
      try {
        await this.store.delete(key);
        outcome = 'it was deleted from the store, so the next session fetches it again from the model owner';
      } catch (e) {
        outcome = `deleting it from the store failed (${(e as Error).message}): clear this sharing from the store so that the next session fetches the part again`;
      }
    }
    const error = new Error(`${problem}; ${outcome}`);
    this.refused.set(info, error);
    return error;
  }
}
