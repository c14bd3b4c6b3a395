import { describe, expect, it } from 'vitest';
import { geluErf, geluTanh, silu } from './activations.ts';
import { attention } from './attention.ts';
import { erf, erfc } from './erf.ts';
import { linear, matmul } from './matmul.ts';
import { layerNorm, rmsNorm } from './norms.ts';
import { applyRope } from './rope.ts';
import { argmax, logSoftmaxAt, softmaxInPlace } from './softmax.ts';
import { seededRandom } from './test-fixtures.ts';
import type { Norm } from './types.ts';

const rand = seededRandom(7);
const randomArray = (n: number, scale = 1) => Float64Array.from({ length: n }, () => rand(scale));

describe('erf and activations against 40-digit references (mpmath)', () => {
  // [x, erf(x), erfc(x)]
  const table: Array<[number, number, number]> = [
    [-6, -0.99999999999999997848, 1.9999999999999999785],
    [-4, -0.99999998458274209972, 1.9999999845827420997],
    [-2.6, -0.99976396558347065091, 1.9997639655834706509],
    [-2.5, -0.99959304798255504106, 1.9995930479825550411],
    [-1, -0.84270079294971486934, 1.8427007929497148693],
    [-0.3, -0.32862675945912741619, 1.3286267594591274162],
    [0, 0, 1],
    [1e-8, 1.1283791670955125599e-8, 0.99999998871620832904],
    [0.5, 0.52049987781304653768, 0.47950012218695346232],
    [1.5, 0.96610514647531072707, 0.033894853524689272933],
    [2.4, 0.99931148610335492111, 0.00068851389664507888555],
    [2.5, 0.99959304798255504106, 0.00040695201744495893956],
    [3, 0.99997790950300141456, 0.000022090496998585441373],
    [4.5, 0.99999999980338395585, 1.9661604415428874763e-10],
    [5.9, 0.9999999999999999281, 7.1904097835504777249e-17],
  ];
  it('erf to 1e-14 absolute, erfc to 1e-10 relative', () => {
    for (const [x, e, ec] of table) {
      expect(Math.abs(erf(x) - e)).toBeLessThan(1e-14);
      expect(Math.abs(erfc(x) - ec) / ec).toBeLessThan(1e-10);
    }
    expect(erf(40)).toBe(1);
    expect(erf(-40)).toBe(-1);
  });
  it('GeLU (erf and tanh forms) and SiLU', () => {
    const xs = [-5, -3, -1, 0.5, 1, 3];
    const exact = [-1.4332578593959695584e-6, -0.00404969409489028358, -0.15865525393145705141, 0.34573123063700655182, 0.84134474606854294859, 2.9959503059051097164];
    const tanhForm = [-2.2917961966295044864e-7, -0.0036373920817730197045, -0.15880800939172328237, 0.34571400982514392332, 0.84119199060827671763, 2.9963626079182269803];
    const swish = [-0.033464254621424277797, -0.14227761953270034264, -0.26894142136999512075, 0.31122966560092728232, 0.73105857863000487925, 2.8577223804672996574];
    const check = (got: Float64Array, want: number[]) => want.forEach((w, i) => expect(Math.abs(got[i] - w)).toBeLessThan(1e-14 * Math.max(1, Math.abs(w)) + 1e-20));
    check(geluErf(Float64Array.from(xs)), exact);
    check(geluTanh(Float64Array.from(xs)), tanhForm);
    check(silu(Float64Array.from(xs)), swish);
    // relative precision survives in the far negative tail, where 1 + erf(x) would cancel
    expect(geluErf(Float64Array.from([-10]))[0] / -7.6198530241605260659e-23).toBeCloseTo(1, 12);
  });
});

describe('matmul and linear', () => {
  function naive(a: Float64Array, b: Float64Array | Float32Array, m: number, k: number, n: number): Float64Array {
    const c = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) c[i * n + j] += a[i * k + p] * b[p * n + j];
    return c;
  }
  it('matches the naive triple loop for every row-group remainder and across column blocks', () => {
    for (const [m, k, n] of [[1, 3, 5], [3, 7, 2], [8, 4, 513], [13, 16, 1100], [17, 5, 9], [4, 1, 1]]) {
      const a = randomArray(m * k);
      const b = Float32Array.from(randomArray(k * n));
      const c = matmul(a, b, m, k, n);
      const ref = naive(a, b, m, k, n);
      for (let i = 0; i < c.length; i++) expect(Math.abs(c[i] - ref[i])).toBeLessThan(1e-12);
    }
    expect(() => matmul(new Float64Array(5), new Float64Array(6), 2, 3, 2)).toThrow(/A has 5 elements, expected 2x3/);
  });
  it('linear adds the bias to every row', () => {
    const y = linear(Float64Array.from([1, 2, 3, 4]), 2, { weight: { data: Float32Array.from([1, 0, 0, 1, 1, 1]), shape: [2, 3] }, bias: { data: Float32Array.from([10, 20, 30]), shape: [3] } });
    expect(Array.from(y)).toEqual([13, 22, 32, 17, 24, 34]); // W rows [1, 0, 0] and [1, 1, 1];
  });
});

describe('norms and softmax', () => {
  const norm = (kind: Norm['kind'], scale: number[], bias?: number[]): Norm => ({
    kind, eps: 1e-5, scale: { data: Float64Array.from(scale), shape: [scale.length] }, bias: bias && { data: Float64Array.from(bias), shape: [bias.length] },
  });
  it('layerNorm uses the biased variance per row', () => {
    const y = layerNorm(Float64Array.from([1, 2, 3, 4, -1, -1, -1, 5]), 2, norm('layernorm', [1, 1, 2, 1], [0, 0, 0, 1]));
    const inv = 1 / Math.sqrt(1.25 + 1e-5);
    expect(y[0]).toBeCloseTo(-1.5 * inv, 12);
    expect(y[2]).toBeCloseTo(2 * 0.5 * inv, 12);
    expect(y[3]).toBeCloseTo(1.5 * inv + 1, 12);
    const inv2 = 1 / Math.sqrt(6.75 + 1e-5);
    expect(y[7]).toBeCloseTo(4.5 * inv2 + 1, 12);
  });
  it('rmsNorm divides by the root mean square', () => {
    const y = rmsNorm(Float64Array.from([3, 4]), 1, norm('rmsnorm', [1, 2]));
    const inv = 1 / Math.sqrt(12.5 + 1e-5);
    expect(y[0]).toBeCloseTo(3 * inv, 14);
    expect(y[1]).toBeCloseTo(8 * inv, 14);
  });
  it('softmax is shift-invariant and stable for large inputs; logSoftmaxAt and argmax agree', () => {
    const x = Float64Array.from([1000, 1001, 999]);
    softmaxInPlace(x);
    const e = [Math.exp(-1), 1, Math.exp(-2)];
    const z = e[0] + e[1] + e[2];
    e.forEach((v, i) => expect(x[i]).toBeCloseTo(v / z, 15));
    expect(logSoftmaxAt(Float64Array.from([1000, 1001, 999]), 1)).toBeCloseTo(-Math.log(z), 14);
    expect(argmax(Float64Array.from([1, 3, 3, 2]))).toBe(1);
  });
});

describe('RoPE (llama2.c pairing)', () => {
  it('rotates adjacent pairs by pos * theta^(-i/headDim), per head', () => {
    const heads = 2, hd = 4, pos = 3;
    const x = randomArray(heads * hd);
    const y = x.slice();
    applyRope(y, 1, heads, hd, pos, 10000);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < hd; i += 2) {
        const angle = pos / 10000 ** (i / hd);
        const [a, b] = [x[h * hd + i], x[h * hd + i + 1]];
        expect(y[h * hd + i]).toBeCloseTo(a * Math.cos(angle) - b * Math.sin(angle), 14);
        expect(y[h * hd + i + 1]).toBeCloseTo(a * Math.sin(angle) + b * Math.cos(angle), 14);
      }
    }
  });
  it('rows are consecutive positions, and position 0 is the identity', () => {
    const x = randomArray(2 * 8);
    const y = x.slice();
    applyRope(y, 2, 1, 8, 0, 10000);
    expect(Array.from(y.subarray(0, 8))).toEqual(Array.from(x.subarray(0, 8)));
    const second = x.slice(8);
    applyRope(second, 1, 1, 8, 1, 10000);
    expect(Array.from(y.subarray(8))).toEqual(Array.from(second));
  });
});

describe('attention', () => {
  it('grouped-query attention equals multi-head attention with each kv head repeated', () => {
    const T = 5, H = 4, KV = 2, D = 3;
    const q = randomArray(T * H * D), k = randomArray(T * KV * D), v = randomArray(T * KV * D);
    const expand = (src: Float64Array) => {
      const out = new Float64Array(T * H * D);
      for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) for (let e = 0; e < D; e++) out[t * H * D + h * D + e] = src[t * KV * D + Math.floor(h / (H / KV)) * D + e];
      return out;
    };
    for (const causal of [true, false]) {
      const gqa = attention(q, k, v, T, T, 0, { numHeads: H, numKvHeads: KV, headDim: D, causal });
      const mha = attention(q, expand(k), expand(v), T, T, 0, { numHeads: H, numKvHeads: H, headDim: D, causal });
      gqa.forEach((x, i) => expect(x).toBeCloseTo(mha[i], 14));
    }
  });
  it('a causal query at position p attends exactly to keys 0..p (cached queries included)', () => {
    const T = 6, D = 4;
    const q = randomArray(T * D), k = randomArray(T * D), v = randomArray(T * D);
    const dims = { numHeads: 1, numKvHeads: 1, headDim: D, causal: true };
    const full = attention(q, k, v, T, T, 0, dims);
    const p = 3;
    const prefix = attention(q.slice(p * D, (p + 1) * D), k, v, 1, p + 1, p, dims);
    const visible = attention(q.slice(p * D, (p + 1) * D), k.slice(0, (p + 1) * D), v.slice(0, (p + 1) * D), 1, p + 1, 0, { ...dims, causal: false });
    for (let e = 0; e < D; e++) {
      expect(prefix[e]).toBeCloseTo(full[p * D + e], 14);
      expect(visible[e]).toBeCloseTo(full[p * D + e], 14);
    }
    // the first query sees only itself
    for (let e = 0; e < D; e++) expect(full[e]).toBeCloseTo(v[e], 14);
    expect(() => attention(q, k, v, T, T - 1, 0, dims)).toThrow(/need 6 keys, got 5/);
  });
});
