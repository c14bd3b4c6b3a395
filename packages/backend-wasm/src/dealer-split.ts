/**
 * The dealer's split in WebAssembly (protocol/ops/input.ts): x2 = encode(x) - PRG(seedA) - PRG(seedB) mod 2^64,
 * for the model owner's weights. The stream is the one every backend's prg() produces (RFC 8439 keystream as
 * little-endian u64 words, DESIGN.md), from the same SIMD block function as the backend's prg kernel
 * (../assembly/chacha.ts), so a party's regeneration of a seed component matches the owner's bit for bit; the
 * encoding is ring's encodeFixed bit for bit (../assembly/fixed.ts).
 *
 * Data goes through two fixed windows of linear memory, WINDOW_WORDS at a time, so the module's memory stays
 * at about 16 MiB whatever the tensor size. Windows start on block boundaries (a multiple of 8 words), and the
 * block counter advances by window / 8 per window. With two seeds (the dealer's case) one kernel pass does the
 * encoding and both streams (../assembly/split.ts), reading float32 values as they are (promoted in wasm);
 * other seed counts encode, then subtract one stream per pass. Cost per word, CPU time on this project's
 * 2-core machine: about 17 ns for the fused pass (ChaCha20 about 7.5 ns per stream, the rest encoding), plus the
 * copies into and out of the windows; `npm run bench -- sharing` gives the measured times (the JavaScript path it
 * replaces: ChaCha20 at about 73 ns per word per stream).
 */
import { kernelsModule } from './kernels.ts';

/** 1 Mi words (8 MiB): large enough that the copies in and out are a small share of the keystream work. */
const WINDOW_WORDS = 1 << 20;
const WORDS_PER_BLOCK = 8;
const PAGE = 65536;

interface SplitKernels {
  memory: WebAssembly.Memory;
  heapBase(): number;
  chachaSubFrom(
    k0: number, k1: number, k2: number, k3: number, k4: number, k5: number, k6: number, k7: number,
    n0: number, n1: number, n2: number, counter: number, n: number, x: number,
  ): void;
  encodeFixed(a: number, n: number, scale: number, o: number): number;
  splitEncode(a: number, wide: number, n: number, scale: number, keys: number, counter: number, o: number): number;
}

export interface DealerSplitter {
  /**
   * x[i] -= sum over seeds of word i of ChaCha20(seed, nonce) from block 0, mod 2^64, in place. Keys are 8
   * words, the nonce 3.
   */
  subtractStreams(x: BigUint64Array, seeds: readonly Uint32Array[], nonce: Uint32Array): void;
  /**
   * encodeFixed(xs, fracBits) minus the seeds' streams, as a new array: the dense component of the split.
   * Float32 values are read as the float64 they exactly are (as encodeFixed reads them). A NaN or infinity
   * throws naming `what` and its index, as encodeFixed does. With `out` (exactly xs.length words, e.g. a view
   * of a buffer the caller reuses) the result is written there and returned instead of a new array. With
   * `firstWord` (a multiple of 8) xs are words firstWord.. of a longer tensor: the streams start at that word,
   * and an error names the index in the whole tensor, so two threads can split one tensor's halves.
   */
  encodeAndSubtract(
    xs: Float64Array | Float32Array, fracBits: number, seeds: readonly Uint32Array[], nonce: Uint32Array, what?: string, out?: BigUint64Array,
    firstWord?: number,
  ): BigUint64Array;
}

function checkSeeds(seeds: readonly Uint32Array[], nonce: Uint32Array, words: number): void {
  for (const s of seeds) if (!(s instanceof Uint32Array) || s.length !== 8) throw new Error('dealer split: each seed must be a Uint32Array of 8 words');
  if (!(nonce instanceof Uint32Array) || nonce.length !== 3) throw new Error('dealer split: nonce must be a Uint32Array of 3 words');
  if (Math.ceil(words / WORDS_PER_BLOCK) > 2 ** 32) throw new Error(`dealer split: ${words} words exceed the ChaCha20 block counter`);
}

/** The two seeds' keys, then the nonce, as splitEncode reads them (19 u32 words). */
const KEYS_BYTES = 128;

/** A splitter with its own module instance (two windows of linear memory, about 16 MiB). */
export async function createDealerSplitter(): Promise<DealerSplitter> {
  const instance = await WebAssembly.instantiate(await kernelsModule(), {});
  const k = instance.exports as unknown as SplitKernels;
  const keys = Math.ceil(k.heapBase() / 64) * 64;
  const ring = keys + KEYS_BYTES;
  const floats = ring + WINDOW_WORDS * 8;
  const needed = floats + WINDOW_WORDS * 8;
  if (k.memory.buffer.byteLength < needed) k.memory.grow(Math.ceil((needed - k.memory.buffer.byteLength) / PAGE));
  const subtract = (seeds: readonly Uint32Array[], nonce: Uint32Array, start: number, n: number) => {
    for (const s of seeds) k.chachaSubFrom(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], nonce[0], nonce[1], nonce[2], start / WORDS_PER_BLOCK, n, ring);
  };
  return {
    subtractStreams(x, seeds, nonce) {
      if (!(x instanceof BigUint64Array)) throw new Error('dealer split: x must be a BigUint64Array');
      checkSeeds(seeds, nonce, x.length);
      const window = new BigUint64Array(k.memory.buffer, ring, WINDOW_WORDS);
      for (let start = 0; start < x.length; start += WINDOW_WORDS) {
        const n = Math.min(WINDOW_WORDS, x.length - start);
        const chunk = x.subarray(start, start + n);
        window.set(chunk);
        subtract(seeds, nonce, start, n);
        chunk.set(window.subarray(0, n));
      }
    },
    encodeAndSubtract(xs, fracBits, seeds, nonce, what = 'value', out, firstWord = 0) {
      if (!(xs instanceof Float64Array) && !(xs instanceof Float32Array)) throw new Error('dealer split: values must be a Float64Array or Float32Array');
      if (!Number.isInteger(fracBits) || fracBits < 0 || fracBits > 40) throw new Error(`fraction bits must be an integer in [0, 40], got ${fracBits}`);
      if (!Number.isSafeInteger(firstWord) || firstWord < 0 || firstWord % WORDS_PER_BLOCK !== 0) throw new Error(`dealer split: firstWord must be a multiple of ${WORDS_PER_BLOCK}, got ${firstWord}`);
      checkSeeds(seeds, nonce, firstWord + xs.length);
      if (out !== undefined && (!(out instanceof BigUint64Array) || out.length !== xs.length)) {
        throw new Error(`dealer split: out must be a BigUint64Array of ${xs.length} words, got ${out instanceof BigUint64Array ? `${out.length} words` : 'another type'}`);
      }
      const result = out ?? new BigUint64Array(xs.length);
      const window = new BigUint64Array(k.memory.buffer, ring, WINDOW_WORDS);
      const fused = seeds.length === 2;
      // The fused kernel reads float32 values as they are; the general path's encodeFixed reads float64 only.
      const wide = xs instanceof Float64Array || !fused;
      const input = wide ? new Float64Array(k.memory.buffer, floats, WINDOW_WORDS) : new Float32Array(k.memory.buffer, floats, WINDOW_WORDS);
      if (fused) {
        const keyWords = new Uint32Array(k.memory.buffer, keys, 19);
        keyWords.set(seeds[0]);
        keyWords.set(seeds[1], 8);
        keyWords.set(nonce, 16);
      }
      for (let start = 0; start < xs.length; start += WINDOW_WORDS) {
        const n = Math.min(WINDOW_WORDS, xs.length - start);
        input.set(xs.subarray(start, start + n));
        const bad = fused
          ? k.splitEncode(floats, wide ? 1 : 0, n, 2 ** fracBits, keys, (firstWord + start) / WORDS_PER_BLOCK, ring)
          : encodeThenSubtract(n, fracBits, seeds, nonce, firstWord + start);
        if (bad >= 0) throw new Error(`cannot encode ${what}[${firstWord + start + bad}] = ${xs[start + bad]} as fixed point`);
        result.set(window.subarray(0, n), start);
      }
      return result;
    },
  };

  /** The general path (any number of seeds): encode the window, then subtract one stream per pass from `word`. */
  function encodeThenSubtract(n: number, fracBits: number, seeds: readonly Uint32Array[], nonce: Uint32Array, word: number): number {
    const bad = k.encodeFixed(floats, n, 2 ** fracBits, ring);
    if (bad < 0) subtract(seeds, nonce, word, n);
    return bad;
  }
}
