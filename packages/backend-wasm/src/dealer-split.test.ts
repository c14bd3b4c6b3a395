import { describe, expect, it } from 'vitest';
import { chachaWords, encodeFixed } from '@puma/ring';
import { createDealerSplitter } from './index.ts';

const key = (b: number) => Uint32Array.from({ length: 8 }, (_, i) => (b * 0x9e3779b1 + i * 0x85ebca6b) >>> 0);
const nonce = Uint32Array.of(7, 0, 0x01020304);

/** x - sum of the streams from the JavaScript ChaCha20 (the reference path), on 32-bit halves with borrow. */
function reference(x: BigUint64Array, seeds: Uint32Array[]): BigUint64Array {
  const out = x.slice();
  const o = new Uint32Array(out.buffer);
  for (const s of seeds) {
    const st = new Uint32Array(chachaWords(s, nonce, x.length).buffer, 0, 2 * x.length);
    for (let i = 0; i < o.length; i += 2) {
      const lo = o[i] - st[i];
      o[i] = lo >>> 0;
      o[i + 1] = (o[i + 1] - st[i + 1] - (lo < 0 ? 1 : 0)) >>> 0;
    }
  }
  return out;
}

function randomWords(n: number, salt: number): BigUint64Array {
  const out = new BigUint64Array(n);
  const w = new Uint32Array(out.buffer);
  for (let i = 0; i < w.length; i++) w[i] = Math.imul(i + 1, 0x27d4eb2d) ^ salt;
  return out;
}

const same = (a: BigUint64Array, b: BigUint64Array) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('dealer split: subtractStreams', () => {
  // Sizes around the SIMD group (32 words), a block (8), and the 1 Mi-word window boundary.
  for (const n of [0, 1, 7, 8, 31, 32, 33, 100, (1 << 20) - 3, (1 << 20) + 45]) {
    it(`x - PRG(a) - PRG(b) matches the JavaScript ChaCha20 at ${n} words`, async () => {
      const split = await createDealerSplitter();
      const x = randomWords(n, n);
      const expected = reference(x, [key(1), key(2)]);
      split.subtractStreams(x, [key(1), key(2)], nonce);
      expect(same(x, expected)).toBe(0);
    });
  }

  it('works on a subarray view without touching the words around it', async () => {
    const split = await createDealerSplitter();
    const all = randomWords(300, 5);
    const before = all.slice();
    const view = all.subarray(10, 290);
    const expected = reference(view.slice(), [key(3)]);
    split.subtractStreams(view, [key(3)], nonce);
    expect(Array.from(view)).toEqual(Array.from(expected));
    expect(Array.from(all.subarray(0, 10))).toEqual(Array.from(before.subarray(0, 10)));
    expect(Array.from(all.subarray(290))).toEqual(Array.from(before.subarray(290)));
  });

  it('names a bad seed or nonce', async () => {
    const split = await createDealerSplitter();
    expect(() => split.subtractStreams(new BigUint64Array(4), [new Uint32Array(7)], nonce)).toThrow(/each seed must be a Uint32Array of 8 words/);
    expect(() => split.subtractStreams(new BigUint64Array(4), [key(1)], new Uint32Array(2))).toThrow(/nonce must be a Uint32Array of 3 words/);
    expect(() => split.subtractStreams(new Float64Array(4) as never, [key(1)], nonce)).toThrow(/x must be a BigUint64Array/);
  });
});

describe('dealer split: encodeAndSubtract', () => {
  const ulp = 2 ** -18;
  // Ties (round toward +infinity like Math.round), the largest double below 0.5, negative zero, values that
  // saturate at +-2^62 or overflow to infinity when scaled, and the last values that do not saturate.
  const edges = [
    0, -0, 0.5 * ulp, -0.5 * ulp, 1.5 * ulp, -1.5 * ulp, 2.5 * ulp, -2.5 * ulp, 0.49999999999999994 * ulp, -0.49999999999999994 * ulp,
    1, -1, 3.14159, -2.71828, 2 ** 44 - ulp, -(2 ** 44), -(2 ** 44) - 1, 2 ** 44, 2 ** 45, -(2 ** 50), 1e300, -1e300, 2 ** 33 + 0.5 * ulp, -(2 ** 33) - 0.5 * ulp,
  ];

  it('encodes edge values exactly as ring encodeFixed (f = 18, no streams)', async () => {
    const split = await createDealerSplitter();
    const xs = Float64Array.from(edges);
    expect(Array.from(split.encodeAndSubtract(xs, 18, [], nonce))).toEqual(Array.from(encodeFixed(xs, 18)));
  });

  for (const f of [0, 12, 18, 40]) {
    it(`encode minus two streams equals encodeFixed - PRG - PRG over 1.1 M random values at f = ${f}`, async () => {
      const split = await createDealerSplitter();
      const n = (1 << 20) + 4097;
      const xs = new Float64Array(n);
      for (let i = 0; i < n; i++) xs[i] = Math.sin(i * 12.9898) * 10 ** ((i % 9) - 4) + (i % 7 === 0 ? 0.5 / 2 ** f : 0);
      xs.set(edges, 1000);
      const got = split.encodeAndSubtract(xs, f, [key(4), key(5)], nonce);
      expect(same(got, reference(encodeFixed(xs, f), [key(4), key(5)]))).toBe(0);
    });
  }

  it('reads float32 values as the float64 they are: equal to encodeFixed of the same Float32Array, past a window', async () => {
    const split = await createDealerSplitter();
    const n = (1 << 20) + 333;
    const xs = new Float32Array(n);
    for (let i = 0; i < n; i++) xs[i] = Math.cos(i * 0.37) * 10 ** ((i % 7) - 3);
    xs.set([0.5 * ulp, -0.5 * ulp, 3e38, -3e38, 2 ** 44, -(2 ** 44)], 17);
    const got = split.encodeAndSubtract(xs, 18, [key(6), key(7)], nonce);
    expect(same(got, reference(encodeFixed(xs, 18), [key(6), key(7)]))).toBe(0);
    expect(() => split.encodeAndSubtract(new Int32Array(3) as never, 18, [], nonce)).toThrow(/values must be a Float64Array or Float32Array/);
  });

  it('fused two-seed pass: edge values at every position of a SIMD pair, a 32-word group and the partial tail', async () => {
    const split = await createDealerSplitter();
    // Lengths with no tail, with a tail, and a single partial group; the edges shifted through every offset
    // so each lands in lane 0 and lane 1 of a pair and in the scalar tail.
    for (const n of [64, 64 + 27, 29]) {
      for (let shift = 0; shift < 32; shift++) {
        const xs = new Float64Array(n);
        for (let i = 0; i < n; i++) xs[i] = edges[(i + shift) % edges.length] * (i % 2 === 0 ? 1 : -1);
        const got = split.encodeAndSubtract(xs, 18, [key(8), key(9)], nonce);
        expect(same(got, reference(encodeFixed(xs, 18), [key(8), key(9)])), `n = ${n}, shift ${shift}`).toBe(0);
        // 1e300 would become infinity in float32; the largest float32 saturates as well.
        const narrow = Float32Array.from(xs, (v) => (Math.abs(v) > 3e38 ? Math.sign(v) * 3e38 : v));
        expect(same(split.encodeAndSubtract(narrow, 18, [key(8), key(9)], nonce), reference(encodeFixed(narrow, 18), [key(8), key(9)])), `float32, n = ${n}, shift ${shift}`).toBe(0);
      }
    }
  });

  it('general path (one seed) reads float32 values as the float64 they are', async () => {
    const split = await createDealerSplitter();
    const xs = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3 + (i % 5 === 0 ? 0.5 * ulp : 0));
    expect(same(split.encodeAndSubtract(xs, 18, [key(2)], nonce), reference(encodeFixed(xs, 18), [key(2)]))).toBe(0);
  });

  it('fused pass names the first NaN or infinity in lane 0, lane 1 or the tail, float64 and float32', async () => {
    const split = await createDealerSplitter();
    for (const at of [0, 1, 6, 7, 31, 32, (1 << 20) + 2, (1 << 20) + 35]) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const xs = new Float64Array((1 << 20) + 40).fill(0.25);
        xs[at] = bad;
        xs[at + 3] = NaN;
        expect(() => split.encodeAndSubtract(xs, 18, [key(1), key(2)], nonce, 'w')).toThrow(`cannot encode w[${at}] = ${bad} as fixed point`);
        expect(() => split.encodeAndSubtract(Float32Array.from(xs), 18, [key(1), key(2)], nonce, 'w')).toThrow(`cannot encode w[${at}] = ${bad} as fixed point`);
      }
    }
  });

  it('writes into a caller\'s array when given one, leaving the words around that view alone', async () => {
    const split = await createDealerSplitter();
    const xs = Float64Array.from({ length: 100 }, (_, i) => i / 7);
    const buffer = new BigUint64Array(120).fill(0xdeadn);
    const view = buffer.subarray(10, 110);
    expect(split.encodeAndSubtract(xs, 18, [key(3), key(4)], nonce, 'w', view)).toBe(view);
    expect(same(view, reference(encodeFixed(xs, 18), [key(3), key(4)]))).toBe(0);
    expect([...buffer.subarray(0, 10), ...buffer.subarray(110)].every((w) => w === 0xdeadn)).toBe(true);
    expect(() => split.encodeAndSubtract(xs, 18, [key(3), key(4)], nonce, 'w', new BigUint64Array(99))).toThrow('dealer split: out must be a BigUint64Array of 100 words, got 99 words');
    expect(() => split.encodeAndSubtract(xs, 18, [key(3), key(4)], nonce, 'w', new Float64Array(100) as never)).toThrow('dealer split: out must be a BigUint64Array of 100 words, got another type');
  });

  it('splits a tensor in pieces from firstWord on exactly as in one call, and names bad values by their index in the tensor', async () => {
    const split = await createDealerSplitter();
    const n = (1 << 20) + 1000;
    const xs = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.01));
    const whole = split.encodeAndSubtract(xs, 18, [key(5), key(6)], nonce);
    for (const seeds of [[key(5), key(6)], [key(5)]]) {
      const expected = seeds.length === 2 ? whole : split.encodeAndSubtract(xs, 18, seeds, nonce);
      const pieces = new BigUint64Array(n);
      for (const [a, b] of [[0, 8], [8, 600_008], [600_008, n]]) split.encodeAndSubtract(xs.subarray(a, b), 18, seeds, nonce, 'w', pieces.subarray(a, b), a);
      expect(same(pieces, expected), `${seeds.length} seeds`).toBe(0);
    }
    const bad = xs.slice(600_008);
    bad[5] = NaN;
    expect(() => split.encodeAndSubtract(bad, 18, [key(5), key(6)], nonce, 'w', undefined, 600_008)).toThrow('cannot encode w[600013] = NaN as fixed point');
    expect(() => split.encodeAndSubtract(bad, 18, [key(5)], nonce, 'w', undefined, 600_008)).toThrow('cannot encode w[600013] = NaN as fixed point');
    expect(() => split.encodeAndSubtract(xs, 18, [key(5), key(6)], nonce, 'w', undefined, 4)).toThrow('dealer split: firstWord must be a multiple of 8, got 4');
  });

  it('names a NaN or infinity by position, as encodeFixed does', async () => {
    const split = await createDealerSplitter();
    const xs = new Float64Array((1 << 20) + 10);
    xs[(1 << 20) + 3] = NaN;
    expect(() => split.encodeAndSubtract(xs, 18, [key(1)], nonce, 'l0.up.w')).toThrow('cannot encode l0.up.w[1048579] = NaN as fixed point');
    expect(() => split.encodeAndSubtract(Float64Array.of(1, -Infinity), 18, [], nonce, 'emb')).toThrow('cannot encode emb[1] = -Infinity as fixed point');
    expect(() => split.encodeAndSubtract(Float64Array.of(1), 41, [], nonce)).toThrow(/fraction bits must be an integer in \[0, 40\], got 41/);
  });
});
