/**
 * The dealer's split in WebAssembly (protocol/ops/input.ts): x2 = encode(x) - PRG(seedA) - PRG(seedB) mod 2^64,
 * for the model owner's weights. The stream is the one every backend's prg() produces (RFC 8439 keystream as
 * little-endian u64 words, DESIGN.md), from the same SIMD block function as the backend's prg kernel
 * (../assembly/chacha.ts chachaSubFrom), so a party's regeneration of a seed component matches the owner's bit
 * for bit; the encoding is ring's encodeFixed bit for bit (../assembly/fixed.ts).
 *
 * Data goes through two fixed windows of linear memory, WINDOW_WORDS at a time, so the module's memory stays
 * at about 16 MiB whatever the tensor size. Windows start on block boundaries (a multiple of 8 words), and the
 * block counter advances by window / 8 per window. Cost per word: one encoding and one ChaCha20 word per seed
 * (SIMD, four blocks at a time), plus the copies into and out of the windows; `npm run bench -- sharing` gives
 * the measured times (the JavaScript path it replaces: ChaCha20 at about 73 ns per word per stream).
 */
import { kernelsModule } from './index.ts';

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
   * throws naming `what` and its index, as encodeFixed does.
   */
  encodeAndSubtract(xs: Float64Array | Float32Array, fracBits: number, seeds: readonly Uint32Array[], nonce: Uint32Array, what?: string): BigUint64Array;
}

function checkSeeds(seeds: readonly Uint32Array[], nonce: Uint32Array, words: number): void {
  for (const s of seeds) if (!(s instanceof Uint32Array) || s.length !== 8) throw new Error('dealer split: each seed must be a Uint32Array of 8 words');
  if (!(nonce instanceof Uint32Array) || nonce.length !== 3) throw new Error('dealer split: nonce must be a Uint32Array of 3 words');
  if (Math.ceil(words / WORDS_PER_BLOCK) > 2 ** 32) throw new Error(`dealer split: ${words} words exceed the ChaCha20 block counter`);
}

/** A splitter with its own module instance (two windows of linear memory, about 16 MiB). */
export async function createDealerSplitter(): Promise<DealerSplitter> {
  const instance = await WebAssembly.instantiate(await kernelsModule(), {});
  const k = instance.exports as unknown as SplitKernels;
  const ring = Math.ceil(k.heapBase() / 64) * 64;
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
    encodeAndSubtract(xs, fracBits, seeds, nonce, what = 'value') {
      if (!(xs instanceof Float64Array) && !(xs instanceof Float32Array)) throw new Error('dealer split: values must be a Float64Array or Float32Array');
      if (!Number.isInteger(fracBits) || fracBits < 0 || fracBits > 40) throw new Error(`fraction bits must be an integer in [0, 40], got ${fracBits}`);
      checkSeeds(seeds, nonce, xs.length);
      const out = new BigUint64Array(xs.length);
      const window = new BigUint64Array(k.memory.buffer, ring, WINDOW_WORDS);
      const input = new Float64Array(k.memory.buffer, floats, WINDOW_WORDS);
      for (let start = 0; start < xs.length; start += WINDOW_WORDS) {
        const n = Math.min(WINDOW_WORDS, xs.length - start);
        input.set(xs.subarray(start, start + n));
        const bad = k.encodeFixed(floats, n, 2 ** fracBits, ring);
        if (bad >= 0) throw new Error(`cannot encode ${what}[${start + bad}] = ${xs[start + bad]} as fixed point`);
        subtract(seeds, nonce, start, n);
        out.set(window.subarray(0, n), start);
      }
      return out;
    },
  };
}
