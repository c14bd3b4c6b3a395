import { describe, expect, it } from 'vitest';
import { decodeFixed } from '@puma/ring';
import { matmul, matmulCost, matmulRaw, matmulRawCost, revealRaw, seq, truncateProduct, type AShare, type Party } from '@puma/protocol';
import { expectCost, fixedInput, measureOp, randomFloats, runWithInputs } from '@puma/protocol/test-support';
import { attendInto, attendIntoBits, attendIntoCost, attendOfProduct, attendOfProductCost, attentionOutputBound, attentionValueBound, LANE_EXP_ELEMENTS, softmaxCost, softmaxLast } from './softmax.ts';
import { softmaxRow } from './reference.ts';
import { maxAbsError, quantize, runNn } from './test-support.ts';

/** rows x cols logits whose rows span `spread` (row r: an offset, then values in [offset - spread, offset]). */
function logits(rows: number, cols: number, spread: number, seed: number): Float64Array {
  const v = randomFloats(rows * cols, 0, 1, seed);
  for (let r = 0; r < rows; r++) {
    const off = (r % 7) * 9 - 30;
    for (let j = 0; j < cols; j++) v[r * cols + j] = off - spread * v[r * cols + j];
    v[r * cols + (r % cols)] = off;
    v[r * cols + ((r * 5 + 3) % cols)] = off - spread;
  }
  return quantize(v);
}

function reference(x: Float64Array, rows: number, cols: number, visible?: (i: number, j: number) => boolean): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    out.push(...softmaxRow(row, visible ? Array.from({ length: cols }, (_, j) => visible(r, j)) : undefined));
  }
  return out;
}

describe('softmax', () => {
  it('rows with spread up to 30 and at 990 (the domain ends at 1000): every entry within 2e-3, for group sizes 2 to 32', async () => {
    for (const [rows, cols, spread, arity] of [[6, 37, 30, 4], [4, 32, 10, 2], [3, 20, 30, 8], [5, 1, 0, 4], [8, 32, 30, 32], [3, 128, 20, 32], [4, 16, 990, 32]] as const) {
      const x = logits(rows, cols, spread, rows + cols);
      const got = await runNn({ x: { values: x, shape: [rows, cols] } }, (p, s) => softmaxLast(p, s.x, { maxArity: arity }));
      const { err } = maxAbsError(got, reference(x, rows, cols));
      console.log(`softmax ${rows}x${cols} spread ${spread} arity ${arity}: max abs error ${err.toExponential(3)}`);
      expect(err).toBeLessThanOrEqual(2e-3);
    }
  });

  it('causal mask: masked entries are exactly 0 and excluded from max and sum, batched over heads', async () => {
    const heads = 2;
    const rows = 5;
    const cols = 9;
    const offset = 3;
    const x = logits(heads * rows, cols, 20, 5);
    // A huge masked logit must not leak into the visible entries.
    x[cols - 1] = 1000;
    const got = await runNn({ x: { values: x, shape: [heads, rows, cols] } }, (p, s) => softmaxLast(p, s.x, { causal: { queryOffset: offset } }));
    const visible = (r: number, j: number) => j <= (r % rows) + offset;
    const want = reference(x, heads * rows, cols, visible);
    expect(maxAbsError(got, want).err).toBeLessThanOrEqual(2e-3);
    for (let e = 0; e < got.length; e++) if (!visible(Math.floor(e / cols), e % cols)) expect(got[e]).toBe(0);
  });

  it('a 1-D vector is one row', async () => {
    const x = logits(1, 10, 12, 3);
    const got = await runNn({ x: { values: x } }, (p, s) => softmaxLast(p, s.x));
    expect(maxAbsError(got, softmaxRow(x)).err).toBeLessThanOrEqual(2e-3);
  });

  it('declared cost equals measured cost; rounds within the targets', async () => {
    const inputs = { x: fixedInput(logits(3, 10, 8, 1), [3, 10]) };
    for (const arity of [2, 4]) {
      expectCost(await measureOp(inputs, (p, s) => softmaxLast(p, s.x, { maxArity: arity })), softmaxCost(3, 10, { maxArity: arity }));
    }
    expectCost(await measureOp(inputs, (p, s) => softmaxLast(p, s.x, { causal: { queryOffset: 2 } })), softmaxCost(3, 10, { causal: { queryOffset: 2, queries: 3 } }));
    expectCost(await measureOp(inputs, (p, s) => softmaxLast(p, s.x)), softmaxCost(3, 10));
    expect(softmaxCost(32, 32).rounds).toBeLessThanOrEqual(130);
    expect(softmaxCost(32, 32).rounds - softmaxCost(32, 32, { maxArity: 8 }).rounds).toBe(3 - 6);
    expect(softmaxCost(32, 32, { maxArity: 2 }).rounds).toBeLessThanOrEqual(130);
    console.log(`softmax rounds: 32 cols ${softmaxCost(1, 32).rounds} (binary ${softmaxCost(1, 32, { maxArity: 2 }).rounds}), 128 cols ${softmaxCost(1, 128).rounds} (binary ${softmaxCost(1, 128, { maxArity: 2 }).rounds})`);
  });

  it('few rows (a decoding step) take every row as one group: 2 rows of 81 within 2e-3, 3 rounds of max (tableMax) instead of 6', async () => {
    const x = logits(2, 81, 30, 9);
    const got = await runNn({ x: { values: x, shape: [2, 81] } }, (p, s) => softmaxLast(p, s.x));
    expect(maxAbsError(got, reference(x, 2, 81)).err).toBeLessThanOrEqual(2e-3);
    expectCost(await measureOp({ x: fixedInput(x, [2, 81]) }, (p, s) => softmaxLast(p, s.x)), softmaxCost(2, 81));
    expect(softmaxCost(2, 81).rounds - softmaxCost(2, 81, { maxArity: 32 }).rounds).toBe(3 - 6);
    // Many rows keep groups of 32: 12 heads x 128 rows of 128 would need 12.5 million comparisons in one group.
    expect(softmaxCost(12 * 128, 128)).toEqual(softmaxCost(12 * 128, 128, { maxArity: 32 }));
  });

  it('exp by lanes (small calls, the default) and by squarings (large calls) give the same answer within 2e-3; declared = measured for both, 6 rounds apart', async () => {
    const x = logits(6, 24, 30, 11);
    for (const kind of ['lanes', 'squarings'] as const) {
      const got = await runNn({ x: { values: x, shape: [6, 24] } }, (p, s) => softmaxLast(p, s.x, { exp: kind, causal: { queryOffset: 18 } }));
      const { err } = maxAbsError(got, reference(x, 6, 24, (r, j) => j <= r + 18));
      console.log(`softmax 6x24 causal, exp by ${kind}: max abs error ${err.toExponential(3)}`);
      expect(err).toBeLessThanOrEqual(2e-3);
      expectCost(await measureOp({ x: fixedInput(x, [6, 24]) }, (p, s) => softmaxLast(p, s.x, { exp: kind })), softmaxCost(6, 24, { exp: kind }));
    }
    expect(softmaxCost(6, 24, { exp: 'squarings' }).rounds - softmaxCost(6, 24).rounds).toBe(6);
    // The default switches on the call's element count (public): lanes up to LANE_EXP_ELEMENTS, squarings above.
    expect(softmaxCost(LANE_EXP_ELEMENTS / 32, 32)).toEqual(softmaxCost(LANE_EXP_ELEMENTS / 32, 32, { exp: 'lanes' }));
    expect(softmaxCost(LANE_EXP_ELEMENTS / 32 + 1, 32)).toEqual(softmaxCost(LANE_EXP_ELEMENTS / 32 + 1, 32, { exp: 'squarings' }));
    // A decoding step (GPT-2-base: 12 heads, 1 query, 33 keys) takes the lanes; its 32-token prompt (12,288 scores) the squarings.
    expect(attendOfProductCost(12, 33, 64).rounds).toBe(attendOfProductCost(12, 33, 64, { exp: 'squarings' }).rounds - 6);
    expect(attendOfProductCost(12 * 32, 32, 64)).toEqual(attendOfProductCost(12 * 32, 32, 64, { exp: 'squarings' }));
    // Its causal prompt has 12 x 528 = 6,336 visible scores: exp by lanes on those, 6 rounds fewer than the squarings.
    const prompt = { causal: { queryOffset: 0, queries: 32 } };
    expect(attendOfProductCost(12 * 32, 32, 64, prompt)).toEqual(attendOfProductCost(12 * 32, 32, 64, { ...prompt, exp: 'lanes' }));
    expect(attendOfProductCost(12 * 32, 32, 64, prompt).rounds).toBe(attendOfProductCost(12 * 32, 32, 64).rounds - 6);
    await expect(runNn({ x: { values: [1, 2] } }, (p, s) => softmaxLast(p, s.x, { exp: 'taylor' as 'lanes' }))).rejects.toThrow(/exp must be/);
  });

  it('rows of near-ties at 124 columns (the sum near its bound 1.03 cols < 2^7): within 2e-3, declared = measured, a reciprocal whose rounds its lanes set, at 124 columns as at 125', async () => {
    // Every entry within 3 * 2^-7 of the row max, where the narrow max may pick an entry below the true max.
    const x = quantize(randomFloats(2 * 124, 5 - 3 * 2 ** -7, 5, 17));
    const got = await runNn({ x: { values: x, shape: [2, 124] } }, (p, s) => softmaxLast(p, s.x));
    expect(maxAbsError(got, reference(x, 2, 124)).err).toBeLessThanOrEqual(2e-3);
    expectCost(await measureOp({ x: fixedInput(x, [2, 124]) }, (p, s) => softmaxLast(p, s.x)), softmaxCost(2, 124));
    expect(softmaxCost(2, 125).rounds - softmaxCost(2, 124).rounds).toBe(0);
  });

  it('rejects bad causal offsets and shapes', async () => {
    await expect(runNn({ x: { values: [1, 2, 3] } }, (p, s) => softmaxLast(p, s.x, { causal: { queryOffset: 0 } }))).rejects.toThrow(/rows, cols/);
    await expect(runNn({ x: { values: [1, 2, 3, 4], shape: [2, 2] } }, (p, s) => softmaxLast(p, s.x, { causal: { queryOffset: -1 } }))).rejects.toThrow(/non-negative/);
  });
});

/** logits() with sub-ulp detail, as a product at 36 fraction bits carries. */
function productLogits(rows: number, cols: number, spread: number, seed: number): Float64Array {
  const noise = randomFloats(rows * cols, 0, 2 ** -18, seed + 100);
  return logits(rows, cols, spread, seed).map((v, i) => v - noise[i]);
}

/** softmax rows (float64, visible entries only) times V [heads, cols, D] (or [cols, D] shared): [heads * rows, D]. */
function attentionReference(x: Float64Array, heads: number, rows: number, cols: number, v: Float64Array, D: number, shared: boolean, visible?: (i: number, j: number) => boolean): number[] {
  const probs = reference(x, heads * rows, cols, visible);
  const out: number[] = [];
  for (let r = 0; r < heads * rows; r++) {
    const h = Math.floor(r / rows);
    for (let d = 0; d < D; d++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += probs[r * cols + j] * v[(shared ? 0 : h * cols * D) + j * D + d];
      out.push(s);
    }
  }
  return out;
}

describe('attention of an untruncated product: softmax(S) V with e V beside the reciprocal', () => {
  it('within 2e-3 (1 + max |V|) of float64: causal heads, 2 max levels, arity 4, one column, shared V, spread 990, |V| at the bound for 32 keys', async () => {
    // heads, rows, keys, D, max |V|, causal, V shared by the heads, max arity
    const cases = [[2, 8, 8, 16, 4, true, false, 32], [3, 4, 40, 8, 50, false, false, 32], [1, 6, 37, 5, 10, false, true, 4], [2, 3, 16, 4, 3, false, false, 32], [1, 5, 1, 3, 2, false, false, 32], [1, 8, 32, 4, 1, false, false, 32]] as const;
    for (const [H, T, cols, D, vMax, causal, shared, arity] of cases) {
      const x = productLogits(H * T, cols, cols === 16 ? 990 : 20, H + T + cols);
      const v = quantize(randomFloats((shared ? 1 : H) * cols * D, -vMax, vMax, D));
      const visible = causal ? (r: number, j: number) => j <= r % T : undefined;
      const o = { maxArity: arity, ...(causal ? { causal: { queryOffset: 0 } } : {}) };
      const run = await runWithInputs({ x: fixedInput(x, [H, T, cols], 36), v: fixedInput(v, shared ? [cols, D] : [H, cols, D]) }, async (p, s) =>
        decodeFixed(await revealRaw(p, await attendOfProduct(p, s.x, s.v, o)), 18));
      const { err } = maxAbsError(run.results[0], attentionReference(x, H, T, cols, v, D, shared, visible));
      console.log(`attention ${H}x${T}x${cols} @ D ${D}, |V| <= ${vMax}, arity ${arity}: max abs error ${err.toExponential(3)}`);
      expect(err).toBeLessThanOrEqual(2e-3 * (1 + vMax));
    }
    const bound = attentionValueBound(32);
    expect(bound).toBe(32768);
    const x = productLogits(4, 32, 20, 3);
    const v = quantize(Float64Array.from({ length: 32 * 2 }, (_, i) => (i % 3 === 0 ? -1 : 1) * (bound - 1) * ((i % 5) + 1) / 5));
    const run = await runWithInputs({ x: fixedInput(x, [1, 4, 32], 36), v: fixedInput(v, [1, 32, 2]) }, async (p, s) => decodeFixed(await revealRaw(p, await attendOfProduct(p, s.x, s.v)), 18));
    expect(maxAbsError(run.results[0], attentionReference(x, 1, 4, 32, v, 2, false)).err).toBeLessThanOrEqual(2e-3 * bound);
  });

  it('after matmulRaw: the same answer as matmul, softmax and matmul with 2 rounds fewer; declared = measured, a decoding step and 2 levels', async () => {
    const [h, t, d] = [2, 8, 16];
    const q = randomFloats(h * t * d, -1.5, 1.5, 3);
    const k = randomFloats(h * t * d, -1.5, 1.5, 4);
    const val = randomFloats(h * t * d, -2, 2, 5);
    const qkv = { q: fixedInput(q, [h, t, d]), k: fixedInput(k, [h, t, d]), v: fixedInput(val, [h, t, d]) };
    const causal = { causal: { queryOffset: 0 } };
    const split = (p: Party, s: Record<string, AShare>) => matmulRaw(p, s.q, s.k, { transB: true }).then((raw) => attendOfProduct(p, raw, s.v, causal));
    const fused = async (p: Party, s: Record<string, AShare>) => matmul(p, await softmaxLast(p, await matmul(p, s.q, s.k, { transB: true }), causal), s.v);
    const scores = Float64Array.from({ length: h * t * t }, (_, e) => {
      const [hh, i, j] = [Math.floor(e / (t * t)), Math.floor(e / t) % t, e % t];
      let acc = 0;
      for (let c = 0; c < d; c++) acc += quantize([q[(hh * t + i) * d + c]])[0] * quantize([k[(hh * t + j) * d + c]])[0];
      return acc;
    });
    const want = attentionReference(scores, h, t, t, quantize(val), d, false, (r, j) => j <= r % t);
    for (const f of [split, fused]) {
      const run = await runWithInputs(qkv, async (p, s) => decodeFixed(await revealRaw(p, await f(p, s)), 18));
      expect(maxAbsError(run.results[0], want).err).toBeLessThanOrEqual(2e-3 * 3);
    }
    const measured = await measureOp(qkv, split);
    expectCost(measured, seq(matmulRawCost(h * t * t), attendOfProductCost(h * t, t, d, { causal: { queryOffset: 0, queries: t } })));
    expect(measured.rounds).toBe((await measureOp(qkv, fused)).rounds - 2);
    for (const [H, T, cols, D, causal] of [[2, 8, 8, 16, true], [2, 1, 81, 4, false], [1, 4, 40, 3, false]] as const) {
      const inputs = { x: fixedInput(productLogits(H * T, cols, 8, 1), [H, T, cols], 36), v: fixedInput(randomFloats(H * cols * D, -2, 2, 2), [H, cols, D]) };
      const o = causal ? { causal: { queryOffset: 0, queries: T } } : {};
      expectCost(await measureOp(inputs, (p, s) => attendOfProduct(p, s.x, s.v, o)), attendOfProductCost(H * T, cols, D, o));
    }
    const [H, T, D] = [12, 32, 64];
    const now = seq(matmulRawCost(H * T * T), attendOfProductCost(H * T, T, D)).rounds;
    expect(now).toBe(seq(matmulCost(H * T * T), softmaxCost(H * T, T), matmulCost(H * T * D)).rounds - 2);
  });

  it('with the output projection per head (attendInto): o + base within 2e-3 (1 + max |V|) sum |W| of float64, declared = measured, 4 rounds fewer than attendOfProduct then the projection (2 fewer than then its term)', async () => {
    // heads, rows, keys, D, out, causal
    for (const [H, T, cols, D, out, causal] of [[2, 4, 4, 3, 5, true], [8, 1, 17, 8, 64, false], [3, 2, 40, 4, 6, false]] as const) {
      const x = productLogits(H * T, cols, 20, H + cols);
      const v = quantize(randomFloats(H * cols * D, -2, 2, D));
      const w = quantize(randomFloats(H * D * out, -0.5, 0.5, out));
      const base = quantize(randomFloats(T * out, -3, 3, T));
      const o = causal ? { causal: { queryOffset: 0 } } : {};
      const inputs = { x: fixedInput(x, [H, T, cols], 36), v: fixedInput(v, [H, cols, D]), w: fixedInput(w, [H * D, out]), b: fixedInput(base, [T, out]) };
      const into = (p: Party, s: Record<string, AShare>) => attendInto(p, s.x, s.v, { matmul: (q, blocks) => matmul(q, blocks, s.w), out }, s.b, o);
      const run = await runWithInputs(inputs, async (p, s) => {
        const t = await into(p, s);
        expect(t.fracBits).toBe(18 + attendIntoBits(cols));
        return decodeFixed(await revealRaw(p, await truncateProduct(p, t.term, t.shape, attendIntoBits(cols))), 18);
      });
      // Reference: the heads' contexts [H * T, D] (head-major) times W's rows of each head, plus base.
      const ctx = attentionReference(x, H, T, cols, v, D, false, causal ? (r, j) => j <= r % T : undefined);
      const want = Array.from({ length: T * out }, (_, e) => {
        const [t, c] = [Math.floor(e / out), e % out];
        let acc = base[e];
        for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) acc += ctx[(h * T + t) * D + d] * w[(h * D + d) * out + c];
        return acc;
      });
      const { err } = maxAbsError(run.results[0], want);
      console.log(`attendInto ${H}x${T}x${cols} @ D ${D} -> ${out}: max abs error ${err.toExponential(3)}`);
      expect(err).toBeLessThanOrEqual(2e-3 * 3 * 0.5 * H * D);
      const costOpts = causal ? { causal: { queryOffset: 0, queries: T } } : {};
      const cost = attendIntoCost(H, T, cols, D, out, costOpts);
      expectCost(await measureOp(inputs, into), cost);
      expect(cost.rounds).toBe(seq(attendOfProductCost(H * T, cols, D, costOpts), matmulCost(T * out)).rounds - 4);
    }
    expect(attentionOutputBound(32)).toBe(2 ** 15);
    await expect(runWithInputs({ x: fixedInput(new Array(8).fill(0), [2, 4], 36), v: fixedInput(new Array(8).fill(0), [4, 2]), b: fixedInput([0, 0], [1, 2]) }, (p, s) => attendInto(p, s.x, s.v, { matmul: async (_q, m) => m, out: 2 }, s.b)))
      .rejects.toThrow(/attendInto takes scores \[heads, rows, cols\]/);
  });

  it('rejects a vector of scores and V of the wrong length', async () => {
    const inputs = { x: fixedInput([1, 2, 3, 4], [2, 2], 36), xv: fixedInput([1, 2, 3], [3], 36), v: fixedInput([1, 2, 3], [3, 1]) };
    await expect(runWithInputs(inputs, (p, s) => attendOfProduct(p, s.xv, s.v))).rejects.toThrow(/rows, cols/);
    await expect(runWithInputs(inputs, (p, s) => attendOfProduct(p, s.x, s.v))).rejects.toThrow(/inner dimensions/);
  });
});

describe('causal softmax: the max and exp over the visible entries only (query row i sees keys j <= i + offset)', () => {
  // heads, query rows, keys, offset, max arity: rows > keys, offset > 0, width-1 rows, two max levels
  // (4 x 40 rows of 40 exceed the one-group budget), arity 4 (three levels), a decoding step (nothing masked).
  const cases = [[2, 5, 9, 3, undefined], [3, 12, 8, 0, undefined], [2, 6, 20, 14, undefined], [1, 7, 7, 0, 4], [4, 40, 40, 0, undefined], [4, 1, 33, 32, undefined]] as const;

  it('softmaxLast: within 2e-3 of float64 (spread 30), masked entries exactly 0 even under a huge masked logit; declared = measured', async () => {
    for (const [H, T, cols, offset, arity] of cases) {
      const x = logits(H * T, cols, 30, H + T + cols);
      if (offset + 1 < cols) x[cols - 1] = 900;
      const o = { causal: { queryOffset: offset }, ...(arity ? { maxArity: arity } : {}) };
      const visible = (r: number, j: number) => j <= (r % T) + offset;
      const got = await runNn({ x: { values: x, shape: [H, T, cols] } }, (p, s) => softmaxLast(p, s.x, o));
      const { err } = maxAbsError(got, reference(x, H * T, cols, visible));
      console.log(`causal softmax ${H}x${T}x${cols} offset ${offset}: max abs error ${err.toExponential(3)}`);
      expect(err).toBeLessThanOrEqual(2e-3);
      for (let e = 0; e < got.length; e++) if (!visible(Math.floor(e / cols), e % cols)) expect(got[e]).toBe(0);
      const declared = softmaxCost(H * T, cols, { ...o, causal: { queryOffset: offset, queries: T } });
      expectCost(await measureOp({ x: fixedInput(x, [H, T, cols]) }, (p, s) => softmaxLast(p, s.x, o)), declared);
      // Never more rounds or bytes than comparing and exponentiating every entry.
      const full = softmaxCost(H * T, cols, arity ? { maxArity: arity } : {});
      expect(declared.rounds).toBeLessThanOrEqual(full.rounds);
      expect(declared.bytes[0]).toBeLessThanOrEqual(full.bytes[0]);
    }
  });

  it('attendOfProduct: within 2e-3 (1 + max |V|) of float64, declared = measured, for the same shapes', async () => {
    for (const [H, T, cols, offset, arity] of cases) {
      const x = productLogits(H * T, cols, 20, H * T + cols);
      const v = quantize(randomFloats(H * cols * 4, -3, 3, cols));
      const o = { causal: { queryOffset: offset }, ...(arity ? { maxArity: arity } : {}) };
      const inputs = { x: fixedInput(x, [H, T, cols], 36), v: fixedInput(v, [H, cols, 4]) };
      const run = await runWithInputs(inputs, async (p, s) => decodeFixed(await revealRaw(p, await attendOfProduct(p, s.x, s.v, o)), 18));
      const { err } = maxAbsError(run.results[0], attentionReference(x, H, T, cols, v, 4, false, (r, j) => j <= (r % T) + offset));
      expect(err).toBeLessThanOrEqual(2e-3 * 4);
      expectCost(await measureOp(inputs, (p, s) => attendOfProduct(p, s.x, s.v, o)), attendOfProductCost(H * T, cols, 4, { ...o, causal: { queryOffset: offset, queries: T } }));
    }
  });

  it('GPT-2-base\'s 32-token prompt: the same rounds of max, a third of its comparisons, exp by lanes on 6,336 visible scores', () => {
    const prompt = { causal: { queryOffset: 0, queries: 32 } };
    const [causal, full] = [attendOfProductCost(12 * 32, 32, 64, prompt), attendOfProductCost(12 * 32, 32, 64)];
    // The header's figures: softmax 15 rounds at 32 columns, attention of a product 16 at 32 keys, and the lanes'
    // 1.20 MB more than the squarings on the prompt's 6,336 visible scores (party 0).
    expect(softmaxCost(12, 32).rounds).toBe(15);
    expect(attendOfProductCost(12, 32, 64).rounds).toBe(16);
    const squarings = attendOfProductCost(12 * 32, 32, 64, { ...prompt, exp: 'squarings' });
    expect((causal.bytes[0] - squarings.bytes[0]) / 1e6).toBeCloseTo(1.20, 2);
    console.log(`GPT-2-base prompt attention per layer: ${full.rounds} -> ${causal.rounds} rounds, ${full.bytes[0]} -> ${causal.bytes[0]} bytes (party 0)`);
    expect(causal.rounds).toBe(full.rounds - 6);
    expect(causal.bytes[0]).toBeLessThan(full.bytes[0]);
    // A decoding step (1 query, nothing masked) costs what the unmasked call does.
    expect(attendOfProductCost(12, 33, 64, { causal: { queryOffset: 32, queries: 1 } })).toEqual(attendOfProductCost(12, 33, 64));
    expect(() => softmaxCost(10, 8, { causal: { queryOffset: 0, queries: 3 } })).toThrow(/whole heads/);
  });
});
