/**
 * Where a party's weight shares come from during the secure pass. Per tensor a party holds one or two PRG
 * seeds (its PRG-derived components, regenerated whenever a block is needed and never kept expanded) and, for
 * parties 1 and 2, the dense component, read by word range. The in-memory bundle is one source; a party's
 * share store (disk, IndexedDB) is another (packages/worker/src/session/stored-weights.ts), so the forward pass
 * can stream a model that does not fit in memory.
 */
import type { PartyWeightBundle, WeightManifest } from './share-weights.ts';
import type { WeightBlockCache } from './weight-cache.ts';

/** The seeds of one tensor's PRG-derived components: seed0 for this party's s0, seed1 for its s1. */
export interface TensorSeeds {
  seed0?: Uint32Array;
  seed1?: Uint32Array;
}

export interface WeightSource {
  readonly manifest: WeightManifest;
  /** The seeds of `tensor` (none when both components are dense, which no sharing produces today). */
  seeds(tensor: string): Promise<TensorSeeds>;
  /**
   * Words [start, start + count) of `tensor`'s dense component, row-major. Called only for a component
   * without a seed. Throws naming the tensor and part when it is missing or damaged.
   */
  dense(tensor: string, start: number, count: number): Promise<BigUint64Array>;
  /**
   * Where the pass keeps blocks it has used, for the next pass (weight-cache.ts); it lives as long as the
   * source (a party's session), so later jobs find it filled. None: every pass reads and expands every block.
   */
  readonly cache?: WeightBlockCache;
  /** Expands PRG-derived components instead of the backend's prg (none: the backend's). */
  readonly expand?: SeedExpander;
  /** Where the passes' weight handling spent its time (added to by the source, the stream and the matmul). */
  readonly times?: WeightTimes;
}

/**
 * Milliseconds and volumes of weight handling, summed over the source's passes (a caller takes differences per
 * step). Reads and their hashing may run ahead of the pass (prefetch), so storeMs and hashMs overlap compute;
 * waitMs is what the pass itself waited for them. expandMs, uploadMs, offerMs and matmulMs run on the pass's
 * thread and add up with waitMs to the pass's weight work on its critical path.
 */
export interface WeightTimes {
  /** Store reads: ms from asking to having the bytes, parts and bytes read. */
  storeMs: number;
  partsRead: number;
  bytesRead: number;
  /**
   * Parts the source had from the session's download (already checked against their sha256, so neither read nor
   * hashed again), and their bytes; a cached part is read and checked by the pass itself.
   */
  partsReused: number;
  bytesReused: number;
  /** Copying a part out of the store's hands and checking its sha256. */
  copyMs: number;
  hashMs: number;
  /** The pass waiting for a block's read (not overlapped by a prefetch). */
  waitMs: number;
  /** Regenerating PRG components (words per component). */
  expandMs: number;
  wordsExpanded: number;
  /** Moving blocks to the backend (dense words, cached blocks) and copying new blocks into the weight cache. */
  uploadMs: number;
  offerMs: number;
  /** The local products of streamed matmuls (block by block, before their round). */
  matmulMs: number;
}

export function newWeightTimes(): WeightTimes {
  return { storeMs: 0, partsRead: 0, bytesRead: 0, partsReused: 0, bytesReused: 0, copyMs: 0, hashMs: 0, waitMs: 0, expandMs: 0, wordsExpanded: 0, uploadMs: 0, offerMs: 0, matmulMs: 0 };
}

/**
 * Writes words [offset, offset + n) of a seed's PRG stream on the host into `into` (n words): exactly the
 * backend's prg(seed, SEED_NONCE, ...) from ChaCha20 block offset / 8, by a faster kernel than the backend's
 * where the platform has one (a Node party: OpenSSL). The stream hands it the backend's own words where the
 * backend lends them (Backend.uploadWith), so the keystream is copied once, into place.
 */
export type SeedExpander = (seed: Uint32Array, offset: number, n: number, into: BigUint64Array) => void;

/** What the secure programs take: a whole bundle in memory (tests, small models) or a streaming source. */
export type SecureWeights = PartyWeightBundle | WeightSource;

/** The bundle as a source: dense ranges are views of the bundle's arrays (no copies). */
export function bundleWeightSource(bundle: PartyWeightBundle): WeightSource {
  for (const t of bundle.manifest.tensors) if (!bundle.bundles[t.name]) throw new Error(`weight bundle lacks tensor ${t.name}`);
  const get = (tensor: string) => {
    const b = bundle.bundles[tensor];
    if (!b) throw new Error(`weight bundle lacks tensor ${tensor}`);
    return b;
  };
  return {
    manifest: bundle.manifest,
    seeds: async (tensor) => {
      const b = get(tensor);
      return { seed0: b.seed0, seed1: b.seed1 };
    },
    dense: async (tensor, start, count) => {
      const d = get(tensor).dense;
      if (!d) throw new Error(`weight bundle for tensor ${tensor} lacks its dense component`);
      if (start < 0 || start + count > d.length) throw new Error(`tensor ${tensor}: words [${start}, ${start + count}) outside its ${d.length}`);
      return d.subarray(start, start + count);
    },
  };
}

export function asWeightSource(w: SecureWeights): WeightSource {
  return 'bundles' in w ? bundleWeightSource(w) : w;
}
