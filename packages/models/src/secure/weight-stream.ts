/**
 * The secure pass's view of its weights: row blocks of a tensor as replicated shares, materialized only while
 * they are used. A block's PRG-derived components are regenerated from the seed (ChaCha20 from the block's word
 * offset: counter = offset / 8, the stream being 8 words per 64-byte block; by the source's host kernel when it
 * has one, else the backend's prg), its dense component is read from
 * the source; `close` hands both buffers back to the backend at once (WebAssembly memory is reused, not grown).
 * One block can be fetched ahead (`prefetch`: the source's read only, not the expansion), so reading the next
 * block overlaps computing with this one.
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
import type { TensorSeeds, WeightSource } from './weight-source.ts';

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
  readonly stats: ResidencyStats = { liveBlocks: 0, peakLiveBlocks: 0, liveWords: 0, peakLiveWords: 0, openedWords: 0 };
  private readonly shapes = new Map<string, readonly number[]>();
  private readonly seedCache = new Map<string, Promise<TensorSeeds>>();
  private readonly ahead = new Map<string, { words: number; fetched: Promise<Fetched> }>();
  private readonly open = new WeakMap<AShare, number>();

  constructor(
    private readonly p: Party,
    private readonly source: WeightSource,
    blockWords = DEFAULT_BLOCK_WORDS,
  ) {
    if (!Number.isInteger(blockWords) || blockWords < 1) throw new Error(`block size must be a positive number of words, got ${blockWords}`);
    this.manifest = source.manifest;
    this.blockWords = blockWords;
    for (const t of source.manifest.tensors) this.shapes.set(t.name, t.shape);
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
    const cache = this.source.cache;
    const held = cache?.get(key);
    if (held) {
      this.count(1, words);
      return this.opened(aShare(shape, this.p.backend.upload(held[0]), this.p.backend.upload(held[1])), words);
    }
    const pending = this.ahead.get(key);
    let fetched: Fetched;
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
    const offset = start * sizeOf(rest);
    const hostExpand = this.source.expand;
    const comp = (seed: Uint32Array | undefined): Buf => {
      if (!seed) return this.p.backend.upload(fetched.dense!);
      return hostExpand ? this.p.backend.upload(hostExpand(seed, offset, words)) : this.expand(seed, offset, words);
    };
    const share = aShare(shape, comp(fetched.seeds.seed0), comp(fetched.seeds.seed1));
    // Read back while this block is open (a copy each: the cache owns its words); one time per cached block.
    if (cache?.fits(words)) cache.offer(key, await this.p.backend.read(share.s0), await this.p.backend.read(share.s1));
    return this.opened(share, words);
  }

  private opened(share: AShare, words: number): AShare {
    this.open.set(share, words);
    this.stats.openedWords += words;
    return share;
  }

  /** The whole tensor (small ones: norms, biases). */
  whole(name: string): Promise<AShare> {
    return this.rows(name);
  }

  /** Releases a share from rows/whole; it must not be used afterwards. */
  close(x: AShare): void {
    const words = this.open.get(x);
    if (words === undefined) throw new Error('weight stream: closing a share it did not open (or closing it twice)');
    this.open.delete(x);
    this.count(-1, -words);
    this.p.backend.release(x.s0);
    this.p.backend.release(x.s1);
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
