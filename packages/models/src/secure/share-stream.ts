/**
 * The model owner's sharing, tensor by tensor, with the encoding and splitting in WebAssembly. Per tensor it
 * does what shareWeights (share-weights.ts) does with protocol's splitInput: two fresh seeds A, B, and
 * x2 = encode(x) - PRG(A) - PRG(B) mod 2^64; party 0 gets (A, B), party 1 (B, x2), party 2 (x2, A). The dealer
 * splitter (backend-wasm dealer-split.ts) encodes exactly as ring's encodeFixed and streams exactly as the
 * backends' prg, so the parties' loading is unchanged and a tensor's bundles are bit for bit those of the
 * JavaScript path for the same seeds (share-stream.test.ts).
 *
 * Memory: one tensor's x2 (and, for fused or scaled tensors, their float64 values) at a time (the caller drops
 * each yielded tensor), not the model's, or the caller's reused buffers (denseArray); float32 weights go to the
 * splitter as they are. Cost per element: the encoding and two ChaCha20 words in one wasm pass, plus copies
 * through its windows (bench sharing).
 */
import { createDealerSplitter, type DealerSplitter } from '@puma/backend-wasm';
import { SEED_NONCE, type ShareBundle } from '@puma/protocol';
import { checkFracBits, randomKey } from '@puma/ring';
import type { FloatArray, Model } from '../types.ts';
import { secureTensorSources, type WeightManifest } from './share-weights.ts';

/** One tensor's three bundles; parties 1 and 2 share one dense array (the same component). */
export interface TensorShare {
  name: string;
  shape: number[];
  bundles: [ShareBundle, ShareBundle, ShareBundle];
}

export interface WeightShareStream {
  /** Known before any tensor is split: names and shapes in the order tensors() yields them. */
  manifest: WeightManifest;
  /** Splits the tensors one at a time, in manifest order; iterate once. */
  tensors(): AsyncGenerator<TensorShare>;
}

export interface ShareStreamOptions {
  /** Draws each fresh seed; default crypto.getRandomValues (ring randomKey). Tests pass fixed seeds. */
  drawSeed?: () => Uint32Array;
  /** A splitter to reuse (one wasm instance, about 16 MiB); by default one is created per stream. */
  splitter?: DealerSplitter;
  /**
   * The array a tensor's dense component is written into, exactly `words` long; by default a new one per
   * tensor. A caller that hands out views of buffers it reuses (streamOwnerShares) must not give one that a
   * yielded tensor still uses: fresh memory costs page faults on every tensor, reused memory does not.
   */
  denseArray?: (words: number) => BigUint64Array;
  /**
   * Computes x2 = encode(values) - PRG(seedA) - PRG(seedB) into `out` (exactly values.length words) and returns
   * it, e.g. on several threads; by default the splitter's encodeAndSubtract in the calling thread. It must give
   * the splitter's words bit for bit (the parties regenerate seedA's and seedB's streams).
   */
  split?: (values: FloatArray, fracBits: number, seedA: Uint32Array, seedB: Uint32Array, what: string, out: BigUint64Array) => Promise<BigUint64Array>;
}

/** Splits one tensor's values into the three parties' bundles with the given seeds (x2 written to `out` if given). */
export function splitTensor(
  splitter: DealerSplitter, values: FloatArray, fracBits: number, seedA: Uint32Array, seedB: Uint32Array, what: string, out?: BigUint64Array,
): [ShareBundle, ShareBundle, ShareBundle] {
  return bundlesOf(seedA, seedB, splitter.encodeAndSubtract(values, fracBits, [seedA, seedB], SEED_NONCE, what, out));
}

/** Party 0 gets (A, B), party 1 (B, x2), party 2 (x2, A). */
function bundlesOf(seedA: Uint32Array, seedB: Uint32Array, dense: BigUint64Array): [ShareBundle, ShareBundle, ShareBundle] {
  return [{ seed0: seedA, seed1: seedB }, { seed0: seedB, dense }, { dense, seed1: seedA }];
}

/** The owner's sharing of `model` as a stream of tensors (fresh seeds per tensor). */
export function streamWeightShares(model: Model, modelId: string, fracBits: number, o: ShareStreamOptions = {}): WeightShareStream {
  checkFracBits(fracBits);
  const sources = secureTensorSources(model);
  const manifest: WeightManifest = { modelId, config: model.config, fracBits, tensors: sources.map((t) => ({ name: t.name, shape: t.shape })) };
  const drawSeed = o.drawSeed ?? randomKey;
  let started = false;
  return {
    manifest,
    async *tensors() {
      if (started) throw new Error(`the sharing stream of ${modelId} was already iterated; start a new one`);
      started = true;
      const splitter = o.split ? undefined : (o.splitter ?? (await createDealerSplitter()));
      for (const t of sources) {
        const seedA = drawSeed();
        const seedB = drawSeed();
        const values = t.values();
        const out = o.denseArray?.(values.length);
        if (splitter) {
          yield { name: t.name, shape: t.shape, bundles: splitTensor(splitter, values, fracBits, seedA, seedB, t.name, out) };
        } else {
          const dense = await o.split!(values, fracBits, seedA, seedB, t.name, out ?? new BigUint64Array(values.length));
          yield { name: t.name, shape: t.shape, bundles: bundlesOf(seedA, seedB, dense) };
        }
      }
    },
  };
}
