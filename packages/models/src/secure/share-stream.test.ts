/**
 * The streamed WebAssembly sharing against the JavaScript path (shareWeights: ring encodeFixed, chachaWords and
 * protocol splitInput's subtraction): for the same seeds every tensor's bundles are bit for bit equal, in the
 * same order and layout, and the three components add up to the encoded weights.
 */
import { describe, expect, it } from 'vitest';
import { createDealerSplitter } from '@puma/backend-wasm';
import { SEED_NONCE, splitInputWithSeeds } from '@puma/protocol';
import { DEFAULT_FRAC_BITS, chachaWords, encodeFixed } from '@puma/ring';
import { loadModel } from '../node.ts';
import { secureTensors, shareWeights } from './share-weights.ts';
import { streamWeightShares } from './share-stream.ts';

/** Seeds 1, 2, 3, ... as keys, so both paths can be given the same ones. */
function seedCounter(): () => Uint32Array {
  let n = 0;
  return () => {
    n += 1;
    return Uint32Array.from({ length: 8 }, (_, i) => Math.imul(n, 0x9e3779b1) ^ (i * 0x01000193));
  };
}


/** a + b mod 2^64 on 32-bit halves. */
function addWords(a: BigUint64Array, b: BigUint64Array): BigUint64Array {
  const out = new BigUint64Array(a.length);
  const [x, y, o] = [a, b, out].map((w) => new Uint32Array(w.buffer, w.byteOffset, 2 * w.length));
  for (let i = 0; i < x.length; i += 2) {
    const lo = x[i] + y[i];
    o[i] = lo >>> 0;
    o[i + 1] = (x[i + 1] + y[i + 1] + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  }
  return out;
}

const view = (v: Uint32Array | BigUint64Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
/** Both absent, or both present with equal bytes. */
const sameBytes = (a: Uint32Array | BigUint64Array | undefined, b: Uint32Array | BigUint64Array | undefined) => (a && b ? view(a).equals(view(b)) : a === b);

// gpt2-shakespeare adds biases, the fused qkv bias and a position table; its large tensors (the embedding, the
// head, the other layers) are checked by name and shape only, to keep the JavaScript reference's ChaCha20 short.
describe.each([
  { name: 'stories260K', compared: () => true },
  { name: 'gpt2-shakespeare', compared: (t: string) => t !== 'emb.token' && t !== 'head.w' && !/^l[1-9]/.test(t) },
])('streamed wasm sharing of $name', ({ name, compared }) => {
  it('gives, for the same seeds, the JavaScript path\'s bundles bit for bit, tensor by tensor in manifest order', async () => {
    const { model } = await loadModel(name);
    const reference = secureTensors(model);
    const jsSeeds = seedCounter();
    const stream = streamWeightShares(model, name, DEFAULT_FRAC_BITS, { drawSeed: seedCounter() });
    expect(stream.manifest).toEqual({ modelId: name, config: model.config, fracBits: DEFAULT_FRAC_BITS, tensors: reference.map((t) => ({ name: t.name, shape: t.shape })) });
    let k = 0;
    let checked = 0;
    for await (const t of stream.tensors()) {
      const ref = reference[k++];
      expect(t.name).toBe(ref.name);
      expect(t.shape).toEqual(ref.shape);
      const [seedA, seedB] = [jsSeeds(), jsSeeds()];
      if (!compared(t.name)) continue;
      checked += 1;
      const expected = splitInputWithSeeds(encodeFixed(ref.data, DEFAULT_FRAC_BITS, ref.name), seedA, seedB);
      t.bundles.forEach((b, p) => {
        expect(Object.keys(b).sort(), `${t.name} party ${p}`).toEqual(Object.keys(expected[p]).sort());
        for (const field of ['seed0', 'seed1', 'dense'] as const) expect(sameBytes(b[field], expected[p][field]), `${t.name} party ${p} ${field}`).toBe(true);
      });
    }
    expect(k).toBe(reference.length);
    expect(checked).toBeGreaterThanOrEqual(8);
  });
});

describe('streamed wasm sharing layout', () => {
  const name = 'stories260K';
  it('the reference split above is shareWeights\' own: with its seeds it rebuilds its bundles exactly', async () => {
    const { model } = await loadModel(name);
    const reference = secureTensors(model);
    const [b0, b1, b2] = shareWeights(model, name, DEFAULT_FRAC_BITS);
    for (const t of reference) {
      const expected = splitInputWithSeeds(encodeFixed(t.data, DEFAULT_FRAC_BITS), b0.bundles[t.name].seed0!, b0.bundles[t.name].seed1!);
      [b0, b1, b2].forEach((b, p) => {
        expect(Object.keys(b.bundles[t.name]).sort(), `${t.name} party ${p}`).toEqual(Object.keys(expected[p]).sort());
        for (const field of ['seed0', 'seed1', 'dense'] as const) expect(sameBytes(b.bundles[t.name][field], expected[p][field]), `${t.name} party ${p} ${field}`).toBe(true);
      });
    }
  });

  it('components add up to the encoded weights (x0 + x1 + x2 = encode(x) mod 2^64)', async () => {
    const { model } = await loadModel(name);
    const reference = secureTensors(model);
    let k = 0;
    for await (const t of streamWeightShares(model, name, DEFAULT_FRAC_BITS).tensors()) {
      const x = encodeFixed(reference[k++].data, DEFAULT_FRAC_BITS);
      const [p0, p1, p2] = t.bundles;
      expect(p1.dense).toBe(p2.dense);
      expect(sameBytes(p0.seed1, p1.seed0)).toBe(true);
      expect(sameBytes(p0.seed0, p2.seed1)).toBe(true);
      const x0 = chachaWords(p0.seed0!, SEED_NONCE, x.length);
      const x1 = chachaWords(p0.seed1!, SEED_NONCE, x.length);
      const sum = addWords(addWords(x0, x1), p1.dense!);
      expect(sameBytes(sum, x), t.name).toBe(true);
    }
  });
});

describe('streamed wasm sharing into given arrays', () => {
  it('writes each dense component into the array denseArray gives, equal to a fresh split with the same seeds', async () => {
    const { model } = await loadModel('stories260K');
    const buffer = new BigUint64Array(1 << 20);
    const given: BigUint64Array[] = [];
    const denseArray = (words: number) => {
      const view = buffer.subarray(0, words);
      given.push(view);
      return view;
    };
    const fresh = streamWeightShares(model, 'stories260K', DEFAULT_FRAC_BITS, { drawSeed: seedCounter() }).tensors();
    let k = 0;
    for await (const t of streamWeightShares(model, 'stories260K', DEFAULT_FRAC_BITS, { drawSeed: seedCounter(), denseArray }).tensors()) {
      const expected = (await fresh.next()).value!;
      expect(t.bundles[1].dense).toBe(given[k++]);
      expect(sameBytes(t.bundles[1].dense, expected.bundles[1].dense), t.name).toBe(true);
    }
    expect(k).toBe(secureTensors(model).length);
  });
});

describe('streamed wasm sharing with a given split function', () => {
  it('uses split for every tensor (here: two pieces from firstWord on) and gives the default path\'s bundles', async () => {
    const { model } = await loadModel('stories260K');
    const splitter = await createDealerSplitter();
    let calls = 0;
    const split = async (values: Float32Array | Float64Array, fracBits: number, seedA: Uint32Array, seedB: Uint32Array, what: string, out: BigUint64Array) => {
      calls += 1;
      const h = Math.floor(values.length / 16) * 8;
      splitter.encodeAndSubtract(values.subarray(0, h), fracBits, [seedA, seedB], SEED_NONCE, what, out.subarray(0, h));
      splitter.encodeAndSubtract(values.subarray(h), fracBits, [seedA, seedB], SEED_NONCE, what, out.subarray(h), h);
      return out;
    };
    const fresh = streamWeightShares(model, 'stories260K', DEFAULT_FRAC_BITS, { drawSeed: seedCounter() }).tensors();
    for await (const t of streamWeightShares(model, 'stories260K', DEFAULT_FRAC_BITS, { drawSeed: seedCounter(), split }).tensors()) {
      const expected = (await fresh.next()).value!;
      t.bundles.forEach((b, p) => {
        for (const field of ['seed0', 'seed1', 'dense'] as const) expect(sameBytes(b[field], expected.bundles[p][field]), `${t.name} party ${p} ${field}`).toBe(true);
      });
    }
    expect(calls).toBe(secureTensors(model).length);
  });
});

describe('streamWeightShares errors', () => {
  it('refuses a second iteration and bad fraction bits', async () => {
    const { model } = await loadModel('stories260K');
    const stream = streamWeightShares(model, 'stories260K', DEFAULT_FRAC_BITS);
    for await (const t of stream.tensors()) {
      expect(t.name).toBe('emb.token');
      break;
    }
    await expect(stream.tensors().next()).rejects.toThrow(/already iterated; start a new one/);
    expect(() => streamWeightShares(model, 'x', 41)).toThrow(/fraction bits must be an integer in \[0, 40\], got 41/);
  });

  it('names the tensor and position of a NaN weight', async () => {
    const { model } = await loadModel('stories260K');
    (model.weights.layers[0].attn.o.weight.data as Float32Array)[3] = NaN;
    const names: string[] = [];
    await expect((async () => {
      for await (const t of streamWeightShares(model, 'stories260K', DEFAULT_FRAC_BITS).tensors()) names.push(t.name);
    })()).rejects.toThrow('cannot encode l0.o.w[3] = NaN as fixed point');
    // The attention norm's gamma is folded into qkv (norm-folding.ts), so it is not a tensor of its own.
    expect(names).toEqual(['emb.token', 'l0.qkv.w']);
  });
});
