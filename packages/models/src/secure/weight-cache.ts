/**
 * A party's resident cache of weight blocks, kept in this party's memory up to a byte budget so a later pass
 * (the next token, the next job of the session) takes the block from memory instead of reading, hashing and
 * expanding it again. A block's entry holds both components as the secure pass used them (dense words read
 * from the store, PRG words already expanded), or, in dense-first mode, only the dense component of a block
 * that has one: its PRG component is regenerated each pass. Dense-first is what a party whose share does not
 * fit should keep: a store read with its sha256 costs several times the ChaCha20 expansion of the same words
 * (in a browser tab, IndexedDB reads measured 10-20x; the browsers bench prints the split per step), so the
 * same bytes of budget spare about twice the reading when they hold dense words only. Blocks are admitted in the order the first pass uses them until the
 * budget is full and never evicted: every pass walks the blocks in the same order, and under a cyclic scan
 * evicting (LRU) would drop each block just before it is needed again. A model whose share fits the budget is
 * thus read once; a larger one keeps its first blocks and streams the rest each pass.
 *
 * Which blocks, when not all fit (cacheReservations): every block is read once per pass, but not every read
 * costs the pass the same. The stream reads a tensor's first block ahead, during the work before it (norms,
 * softmax, GeLU rounds); the tensor's other blocks follow one another with only a local product between them,
 * which for one generated token is tiny, so the pass waits for those reads in full. The vocabulary tables
 * (token embedding, an untied head: 37-39 blocks each in GPT-2-base) are thus nearly all waiting, a layer's
 * tensors (1-3 blocks) much less. So the budget is first reserved for the tensors of the most blocks, each whole,
 * and the rest is filled in pass order: with GPT-2-base's 896 MiB page default, parties 1 and 2 keep the token
 * embedding (which the tied head reads again, linear-weight.ts) and the first layers, and stream the others
 * (63 MB a token in `bench browsers --model gpt2-base`, 2026-12-05; 365 MB when the head was a second table).
 *
 * Tamper detection (what the store's sha256 protects, and why a cache keeps it honest): the threat the hashes
 * answer is the store changing under the party (another process or tab, a disk error, a user editing the
 * cache folder). A block enters the cache only from the read that checked its part's sha256 (dense words) or
 * from the seeds part checked the same way (PRG words), so a cached block holds exactly verified words; a
 * part changed in the store afterwards is not read again and cannot alter a result, and parts outside the
 * cache are checked on every read as before. The cache lives in the party's own memory, beside its keys and
 * its activations: whoever can change that controls the party anyway, which the semi-honest model assumes
 * it does not.
 */
import { sizeOf } from '@puma/ring';
import type { WeightManifest } from './share-weights.ts';

/** Default cap of a party's weight cache: room for small models whole, and under 1 GiB per party with GPT-2-base. */
export const DEFAULT_WEIGHT_CACHE_BYTES = 384 * 2 ** 20;

export interface WeightCacheStats {
  /** Blocks and bytes held (never more than the budget). */
  blocks: number;
  bytes: number;
  /** Opens served from memory, and opens that had to read the store or expand a seed. */
  hits: number;
  misses: number;
}

/** A block's cached components; an absent one (dense-first mode: the PRG component) is regenerated from its seed. */
export interface CachedBlock {
  s0?: BigUint64Array;
  s1?: BigUint64Array;
}

export interface WeightCacheOptions {
  /** Keep only the dense component of blocks that have one (see the file header); default false (both). */
  denseFirst?: boolean;
  /**
   * Bytes of the budget held for tensors (name -> bytes their blocks take here) until their blocks are offered,
   * so they enter even when the pass reaches them last (cacheReservations says which); default none.
   */
  reserved?: ReadonlyMap<string, number>;
}

/** The tensor of a block key (`${tensor}@${start}:${end}`, weight-stream.ts); a key without "@" is its own. */
function tensorOf(key: string): string {
  const at = key.lastIndexOf('@');
  return at < 0 ? key : key.slice(0, at);
}

export class WeightBlockCache {
  readonly stats: WeightCacheStats = { blocks: 0, bytes: 0, hits: 0, misses: 0 };
  readonly denseFirst: boolean;
  private readonly blocks = new Map<string, CachedBlock>();
  /** Reserved bytes not yet taken by their tensor's blocks, per tensor and in all. */
  private readonly reservedLeft: Map<string, number>;
  private reservedTotal = 0;

  constructor(readonly budgetBytes: number, o: WeightCacheOptions = {}) {
    if (!Number.isInteger(budgetBytes) || budgetBytes < 0) throw new Error(`weight cache budget must be a whole number of bytes >= 0, got ${budgetBytes}`);
    this.denseFirst = o.denseFirst ?? false;
    this.reservedLeft = new Map(o.reserved);
    for (const [name, bytes] of this.reservedLeft) {
      if (!Number.isInteger(bytes) || bytes < 0) throw new Error(`weight cache: reservation for ${name} must be a whole number of bytes >= 0, got ${bytes}`);
      this.reservedTotal += bytes;
    }
    if (this.reservedTotal > budgetBytes) throw new Error(`weight cache: reservations of ${this.reservedTotal} bytes exceed the budget of ${budgetBytes}`);
  }

  /** The cached components of block `key`, or undefined (counted as a miss). */
  get(key: string): CachedBlock | undefined {
    const b = this.blocks.get(key);
    if (b) this.stats.hits += 1;
    else this.stats.misses += 1;
    return b;
  }

  /** Whether block `key` is held (not counted). */
  has(key: string): boolean {
    return this.blocks.has(key);
  }

  /**
   * Whether block `key`'s `components` components of `words` words each would still fit, leaving room for the
   * reservations of other tensors (a block of a reserved tensor takes its own tensor's room first).
   */
  fits(key: string, words: number, components = 2): boolean {
    const bytes = 8 * components * words;
    const own = Math.min(bytes, this.reservedLeft.get(tensorOf(key)) ?? 0);
    return this.stats.bytes + bytes + this.reservedTotal - own <= this.budgetBytes;
  }

  /**
   * Keeps the block's given components when they fit (the caller hands the arrays over: they must not be
   * written afterwards).
   */
  offer(key: string, block: CachedBlock): boolean {
    const held = [block.s0, block.s1].filter((c): c is BigUint64Array => c !== undefined);
    if (held.length === 0) throw new Error(`weight cache: block ${key} offered without a component`);
    if (held.some((c) => c.length !== held[0].length)) throw new Error(`weight cache: block ${key} has components of ${held.map((c) => c.length).join(' and ')} words`);
    if (this.blocks.has(key) || !this.fits(key, held[0].length, held.length)) return false;
    const bytes = 8 * held.length * held[0].length;
    this.blocks.set(key, block);
    this.stats.blocks += 1;
    this.stats.bytes += bytes;
    const tensor = tensorOf(key);
    const left = this.reservedLeft.get(tensor);
    if (left !== undefined) {
      const taken = Math.min(bytes, left);
      this.reservedLeft.set(tensor, left - taken);
      this.reservedTotal -= taken;
    }
    return true;
  }
}

/** Bytes of a whole party share held expanded (two components of 8 bytes per weight). */
export function expandedShareBytes(manifest: WeightManifest): number {
  return manifest.tensors.reduce((s, t) => s + 16 * sizeOf(t.shape), 0);
}

/**
 * The budget a party uses: the whole share when it fits under the cap (default DEFAULT_WEIGHT_CACHE_BYTES),
 * else the cap. `capBytes` 0 turns the cache off (every pass streams from the store).
 */
export function weightCacheBudget(manifest: WeightManifest, capBytes = DEFAULT_WEIGHT_CACHE_BYTES): number {
  if (!Number.isInteger(capBytes) || capBytes < 0) throw new Error(`weight cache cap must be a whole number of bytes >= 0, got ${capBytes}`);
  return Math.min(expandedShareBytes(manifest), capBytes);
}

/** Blocks in a row below which a tensor is left to pass order: its first block is read ahead during earlier work. */
export const RESERVED_MIN_BLOCKS = 4;

/**
 * The budget's reservations (WeightCacheOptions.reserved; the file header says why): tensors of at least
 * RESERVED_MIN_BLOCKS blocks of `blockWords` words, most blocks first (manifest order among equals), each whole
 * (`bytesPerWord` in the cache: 8 dense-first with a dense component, else 16) when it still fits the budget.
 */
export function cacheReservations(
  tensors: ReadonlyArray<{ name: string; words: number; bytesPerWord: number }>,
  budgetBytes: number,
  blockWords: number,
): Map<string, number> {
  const blocks = (words: number) => Math.ceil(words / blockWords);
  const ranked = tensors.filter((t) => blocks(t.words) >= RESERVED_MIN_BLOCKS).sort((a, b) => blocks(b.words) - blocks(a.words));
  const reserved = new Map<string, number>();
  let left = budgetBytes;
  for (const t of ranked) {
    const bytes = t.words * t.bytesPerWord;
    if (bytes > left) continue;
    reserved.set(t.name, bytes);
    left -= bytes;
  }
  return reserved;
}
