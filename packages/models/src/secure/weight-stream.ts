/**
 * The secure pass's view of its weights: row blocks of a tensor as replicated shares, materialized only while
 * they are used. A block's PRG-derived components are regenerated from the seed (ChaCha20 from the block's word
 * offset: counter = offset / 8, the stream being 8 words per 64-byte block; by the source's host kernel when it
 * has one, else the backend's prg), its dense component is read from
 * the source; `close` hands both buffers back to the backend at once (WebAssembly memory is reused, not grown).
 * One block can be fetched ahead (`prefetch`: the source's read only, not the expansion), so reading the next
 * block overlaps computing with this one; a block closed with nothing else live has the block expected next read
 * ahead, in another tensor too (from the second pass on the one that followed it in the first pass, in the first
 * pass the next one in the manifest's order: readAhead).
 *
 * Residency (what the memory bound rests on): open blocks plus fetched-ahead ones, counted in words per
 * component; `stats` keeps the high-water marks for tests and benches. When the source has a block cache
 * (weight-cache.ts), a block it holds is uploaded from memory (no read, no hash, no expansion, nothing fetched
 * ahead), and a block it does not hold is offered to it after its first use; the cache's bytes are its own,
 * bounded by its budget, and not counted here.
 */
import { sizeOf } from '@puma/ring';
import type { Buf } from '@puma/backend';
import { aShare, SEED_NONCE, type AShare, type Party } from '@puma/protocol';
import type { WeightManifest } from './share-weights.ts';
import type { WeightBlockCache } from './weight-cache.ts';
import type { TensorSeeds, WeightSource, WeightTimes } from './weight-source.ts';

/** Rows per block are chosen so a block holds at most this many words per component (8 MiB, one dense part). */
export const DEFAULT_BLOCK_WORDS = 1 << 20;
const WORDS_PER_CHACHA_BLOCK = 8;

export interface ResidencyStats {
  /** Blocks opened or fetched ahead and not yet closed, now and at most. */
  liveBlocks: number;
  peakLiveBlocks: number;
  /** Their words (per component), now and at most. */
  liveWords: number;
  peakLiveWords: number;
  /** Words (per component) opened so far: the model's size times the passes, when every block is used once per pass. */
  openedWords: number;
}

interface Fetched {
  seeds: TensorSeeds;
  dense?: BigUint64Array;
}

export class WeightStream {
  readonly manifest: WeightManifest;
  readonly blockWords: number;
  /** The source's timing record (weight-source.ts WeightTimes), when it keeps one. */
  readonly times?: WeightTimes;
  readonly stats: ResidencyStats = { liveBlocks: 0, peakLiveBlocks: 0, liveWords: 0, peakLiveWords: 0, openedWords: 0 };
  private readonly shapes = new Map<string, readonly number[]>();
  private readonly seedCache = new Map<string, Promise<TensorSeeds>>();
  private readonly ahead = new Map<string, { words: number; fetched: Promise<Fetched> }>();
  private readonly open = new WeakMap<AShare, { words: number; key: string }>();
  /** Blocks in the order this stream's first pass opened them, and each key's place in it (read-ahead). */
  private readonly order: Array<readonly [string, number, number]> = [];
  private readonly orderAt = new Map<string, number>();
  private readonly ambiguous = new Set<string>();
  private recording = true;
  private passes = 0;
  /** The block readAhead fetched and the pass has not opened yet. */
  private guessed: string | null = null;

  constructor(
    private readonly p: Party,
    private readonly source: WeightSource,
    blockWords = DEFAULT_BLOCK_WORDS,
  ) {
    if (!Number.isInteger(blockWords) || blockWords < 1) throw new Error(`block size must be a positive number of words, got ${blockWords}`);
    this.manifest = source.manifest;
    this.blockWords = blockWords;
    this.times = source.times;
    for (const t of source.manifest.tensors) this.shapes.set(t.name, t.shape);
  }

  /** The secure pass calls this as it starts: the second call ends the first pass's recording of its order. */
  beginPass(): void {
    if (this.passes++ > 0) this.recording = false;
  }

  has(name: string): boolean {
    return this.shapes.has(name);
  }

  shape(name: string): readonly number[] {
    const s = this.shapes.get(name);
    if (!s) throw new Error(`model has no tensor ${name}`);
    return s;
  }

  /** Row ranges [start, end) covering `name`'s first axis, each at most blockWords words (at least one row). */
  blocks(name: string): Array<[number, number]> {
    const [rows, ...rest] = this.shape(name);
    const rowWords = sizeOf(rest);
    const step = Math.max(1, Math.floor(this.blockWords / rowWords));
    const out: Array<[number, number]> = [];
    for (let r = 0; r < rows; r += step) out.push([r, Math.min(rows, r + step)]);
    return out;
  }

  /** Starts reading rows [start, end) of `name` from the source; the next open of that range takes it. */
  prefetch(name: string, start: number, end: number): void {
    const key = `${name}@${start}:${end}`;
    if (this.ahead.has(key) || this.source.cache?.has(key)) return;
    const words = this.rangeWords(name, start, end);
    const fetched = this.fetch(name, start, end);
    // A prefetch nobody opens (a failed pass) must not surface as an unhandled rejection; open reports it.
    fetched.catch(() => {});
    this.ahead.set(key, { words, fetched });
    this.count(1, words);
  }

  /** Rows [start, end) of `name` (default: all) as this party's share, shape [end - start, ...rest]. */
  async rows(name: string, start = 0, end = this.shape(name)[0]): Promise<AShare> {
    const [rows, ...rest] = this.shape(name);
    if (start < 0 || end > rows || start >= end) throw new Error(`tensor ${name}: rows [${start}, ${end}) outside its ${rows}`);
    const words = this.rangeWords(name, start, end);
    const key = `${name}@${start}:${end}`;
    const shape = [end - start, ...rest];
    this.record(key, name, start, end);
    this.dropMisread(key);
    const cache = this.source.cache;
    const held = cache?.get(key);
    const times = this.times;
    const offset = start * sizeOf(rest);
    const hostExpand = this.source.expand;
    // One component on the backend: the words given (dense, or cached), else regenerated from the seed.
    const comp = (given: BigUint64Array | undefined, seed: Uint32Array | undefined): Buf => {
      const t0 = performance.now();
      if (given) {
        const b = this.p.backend.upload(given);
        if (times) times.uploadMs += performance.now() - t0;
        return b;
      }
      if (!seed) throw new Error(`tensor ${name}: rows [${start}, ${end}) have a component with neither words nor a seed`);
      const b = hostExpand ? this.p.backend.uploadWith(words, (into) => hostExpand(seed, offset, words, into)) : this.expand(seed, offset, words);
      if (times) {
        times.expandMs += performance.now() - t0;
        times.wordsExpanded += words;
      }
      return b;
    };
    if (held) {
      this.count(1, words);
      const seeds = held.s0 && held.s1 ? {} : await this.seeds(name).catch((e: unknown) => {
        this.count(-1, -words);
        throw e;
      });
      return this.opened(aShare(shape, comp(held.s0, seeds.seed0), comp(held.s1, seeds.seed1)), words, key);
    }
    const pending = this.ahead.get(key);
    let fetched: Fetched;
    const waited = performance.now();
    if (pending) {
      this.ahead.delete(key);
      fetched = await pending.fetched.catch((e: unknown) => {
        this.count(-1, -words);
        throw e;
      });
    } else {
      this.count(1, words);
      fetched = await this.fetch(name, start, end).catch((e: unknown) => {
        this.count(-1, -words);
        throw e;
      });
    }
    if (times) times.waitMs += performance.now() - waited;
    const { seed0, seed1 } = fetched.seeds;
    const share = aShare(shape, comp(seed0 ? undefined : fetched.dense, seed0), comp(seed1 ? undefined : fetched.dense, seed1));
    if (cache) await this.offer(cache, key, share, fetched);
    return this.opened(share, words, key);
  }

  /**
   * Offers a block just opened to the cache: in dense-first mode a block with a dense component keeps only
   * those words (its own copy unless the read's buffer is exactly them), else both components read back from
   * the backend (a copy each: the cache owns its words).
   */
  private async offer(cache: WeightBlockCache, key: string, share: AShare, fetched: Fetched): Promise<void> {
    const words = share.s0.length;
    const dense = fetched.dense;
    const denseOnly = cache.denseFirst && dense !== undefined;
    if (!cache.fits(key, words, denseOnly ? 1 : 2)) return;
    const t0 = performance.now();
    if (denseOnly) {
      const own = dense.byteOffset === 0 && dense.byteLength === dense.buffer.byteLength ? dense : dense.slice();
      cache.offer(key, fetched.seeds.seed0 ? { s1: own } : { s0: own });
    } else {
      cache.offer(key, { s0: await this.p.backend.read(share.s0), s1: await this.p.backend.read(share.s1) });
    }
    if (this.times) this.times.offerMs += performance.now() - t0;
  }

  /**
   * The first pass records the order it opens blocks in (every pass opens the same blocks in the same order),
   * up to the second pass's beginPass. A block opened twice in a pass (the token embedding when the head is tied
   * to it) has no one next block.
   */
  private record(key: string, name: string, start: number, end: number): void {
    if (!this.recording) return;
    if (this.orderAt.has(key)) {
      this.ambiguous.add(key);
      return;
    }
    this.orderAt.set(key, this.order.length);
    this.order.push([name, start, end]);
  }

  /**
   * After block `key` closed with nothing else live, reads ahead the block expected next, in another tensor
   * too: its read then overlaps the rounds until the pass needs it (a tensor's first read otherwise waits in
   * full: a dense tab's cached GPT-2-base prompt pass waited 5.1 s for IndexedDB reads without the first pass's
   * guess below, 1.4-1.6 s with it), and the two-block bound holds. From the second pass on
   * the expected block is the one that followed `key` in the first pass; in the first pass, before any order is
   * recorded, the next row block of the same tensor, else the first block of the manifest's next tensor (the
   * owner lists the tensors in the order the pass uses them, share-weights.ts). A block opened twice in a pass
   * (the tied head's) has no one next block. A wrong guess is dropped when the pass opens another block.
   */
  private readAhead(key: string): void {
    if (this.stats.liveBlocks !== 0 || this.ambiguous.has(key)) return;
    const at = this.orderAt.get(key);
    if (at === undefined) return;
    const [name, , end] = this.order[at];
    const next = this.recording ? this.manifestNext(name, end) : this.order[at + 1];
    if (!next) return;
    const nextKey = `${next[0]}@${next[1]}:${next[2]}`;
    if (this.ahead.has(nextKey) || this.source.cache?.has(nextKey)) return;
    this.prefetch(...next);
    this.guessed = nextKey;
  }

  /** The block after rows [.., end) of `name` in the manifest's order: the tensor's next row block, else the next tensor's first. */
  private manifestNext(name: string, end: number): readonly [string, number, number] | undefined {
    const later = this.blocks(name).find(([s]) => s >= end);
    if (later) return [name, later[0], later[1]];
    const tensors = this.manifest.tensors;
    const at = tensors.findIndex((t) => t.name === name);
    const following = at < 0 ? undefined : tensors[at + 1];
    if (!following) return undefined;
    const [first] = this.blocks(following.name);
    return [following.name, first[0], first[1]];
  }

  /**
   * A read-ahead block the pass does not open next (a slice it takes anew each pass: the position rows) is
   * dropped before `key` opens, so it neither stays live nor breaks the two-block bound.
   */
  private dropMisread(key: string): void {
    const guessed = this.guessed;
    this.guessed = null;
    if (guessed === null || guessed === key) return;
    const e = this.ahead.get(guessed);
    if (!e) return;
    this.ahead.delete(guessed);
    this.count(-1, -e.words);
  }

  private opened(share: AShare, words: number, key: string): AShare {
    this.open.set(share, { words, key });
    this.stats.openedWords += words;
    return share;
  }

  /** The whole tensor (small ones: norms, biases). */
  whole(name: string): Promise<AShare> {
    return this.rows(name);
  }

  /** Releases a share from rows/whole; it must not be used afterwards. */
  close(x: AShare): void {
    const opened = this.open.get(x);
    if (opened === undefined) throw new Error('weight stream: closing a share it did not open (or closing it twice)');
    this.open.delete(x);
    this.count(-1, -opened.words);
    this.p.backend.release(x.s0);
    this.p.backend.release(x.s1);
    this.readAhead(opened.key);
  }

  private rangeWords(name: string, start: number, end: number): number {
    return (end - start) * sizeOf(this.shape(name).slice(1));
  }

  private seeds(name: string): Promise<TensorSeeds> {
    let s = this.seedCache.get(name);
    if (!s) {
      s = this.source.seeds(name);
      this.seedCache.set(name, s);
      // A failed read is not cached: the next pass asks the source again (and reports the same failure).
      s.catch(() => this.seedCache.delete(name));
    }
    return s;
  }

  private async fetch(name: string, start: number, end: number): Promise<Fetched> {
    const seeds = await this.seeds(name);
    if (seeds.seed0 && seeds.seed1) return { seeds };
    const rowWords = sizeOf(this.shape(name).slice(1));
    const dense = await this.source.dense(name, start * rowWords, (end - start) * rowWords);
    if (dense.length !== (end - start) * rowWords) throw new Error(`tensor ${name}: the weight source gave ${dense.length} words for rows [${start}, ${end}), expected ${(end - start) * rowWords}`);
    return { seeds, dense };
  }

  /** Words [offset, offset + n) of the seed's stream, generated from the ChaCha20 block that holds word `offset`. */
  private expand(seed: Uint32Array, offset: number, n: number): Buf {
    const be = this.p.backend;
    const skip = offset % WORDS_PER_CHACHA_BLOCK;
    const counter = (offset - skip) / WORDS_PER_CHACHA_BLOCK;
    const stream = be.prg(seed, SEED_NONCE, skip + n, counter);
    if (skip === 0) return stream;
    const out = be.slice(stream, skip, n);
    be.release(stream);
    return out;
  }

  private count(blocks: number, words: number): void {
    const s = this.stats;
    s.liveBlocks += blocks;
    s.liveWords += words;
    s.peakLiveBlocks = Math.max(s.peakLiveBlocks, s.liveBlocks);
    s.peakLiveWords = Math.max(s.peakLiveWords, s.liveWords);
  }
}
