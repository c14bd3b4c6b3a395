import { describe, expect, it } from 'vitest';
import { decodeFixed } from '@puma/ring';
import { matmul, matmulCost, matmulRaw, matmulRawCost, revealRaw, seq, type AShare, type Party } from '@puma/protocol';
import { expectCost, fixedInput, measureOp, randomFloats, runWithInputs } from '@puma/protocol/test-support';
import { softmaxCost, softmaxLast, softmaxLastOfProduct, softmaxOfProductCost } from './softmax.ts';
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
    expectCost(await measureOp(inputs, (p, s) => softmaxLast(p, s.x, { causal: { queryOffset: 2 } })), softmaxCost(3, 10));
    expectCost(await measureOp(inputs, (p, s) => softmaxLast(p, s.x)), softmaxCost(3, 10));
    expect(softmaxCost(32, 32).rounds).toBeLessThanOrEqual(130);
    expect(softmaxCost(32, 32).rounds - softmaxCost(32, 32, { maxArity: 8 }).rounds).toBe(13 - 21);
    expect(softmaxCost(32, 32, { maxArity: 2 }).rounds).toBeLessThanOrEqual(130);
    console.log(`softmax rounds: 32 cols ${softmaxCost(1, 32).rounds} (binary ${softmaxCost(1, 32, { maxArity: 2 }).rounds}), 128 cols ${softmaxCost(1, 128).rounds} (binary ${softmaxCost(1, 128, { maxArity: 2 }).rounds})`);
  });

  it('few rows (a decoding step) take every row as one group: 2 rows of 81 within 2e-3, 15 rounds of max instead of 22', async () => {
    const x = logits(2, 81, 30, 9);
    const got = await runNn({ x: { values: x, shape: [2, 81] } }, (p, s) => softmaxLast(p, s.x));
    expect(maxAbsError(got, reference(x, 2, 81)).err).toBeLessThanOrEqual(2e-3);
    expectCost(await measureOp({ x: fixedInput(x, [2, 81]) }, (p, s) => softmaxLast(p, s.x)), softmaxCost(2, 81));
    expect(softmaxCost(2, 81).rounds - softmaxCost(2, 81, { maxArity: 32 }).rounds).toBe(15 - 22);
    // Many rows keep groups of 32: 12 heads x 128 rows of 128 would need 12.5 million comparisons in one group.
    expect(softmaxCost(12 * 128, 128)).toEqual(softmaxCost(12 * 128, 128, { maxArity: 32 }));
  });

  it('rejects bad causal offsets and shapes', async () => {
    await expect(runNn({ x: { values: [1, 2, 3] } }, (p, s) => softmaxLast(p, s.x, { causal: { queryOffset: 0 } }))).rejects.toThrow(/rows, cols/);
    await expect(runNn({ x: { values: [1, 2, 3, 4], shape: [2, 2] } }, (p, s) => softmaxLast(p, s.x, { causal: { queryOffset: -1 } }))).rejects.toThrow(/non-negative/);
  });
});

/** Runs f on x shared at 2 * 18 fraction bits (an untruncated product's scale) in an 18-bit session; the result decoded at 18. */
async function runOnProduct(x: Float64Array, shape: readonly number[], f: (p: Party, x: AShare) => Promise<AShare>): Promise<Float64Array> {
  const run = await runWithInputs({ x: fixedInput(x, shape, 36) }, async (p, xs) => decodeFixed(await revealRaw(p, await f(p, xs.x)), 18));
  return run.results[0];
}

/** logits() with sub-ulp detail, as a product at 36 fraction bits carries. */
function productLogits(rows: number, cols: number, spread: number, seed: number): Float64Array {
  const noise = randomFloats(rows * cols, 0, 2 ** -18, seed + 100);
  return logits(rows, cols, spread, seed).map((v, i) => v - noise[i]);
}

describe('softmax of an untruncated product (the truncation beside the max)', () => {
  it('rows with spread up to 30 and at 990, causal or not, one and two max levels: every entry within 2e-3 of float64', async () => {
    for (const [rows, cols, spread, arity] of [[8, 32, 30, 32], [6, 37, 30, 4], [3, 128, 20, 32], [4, 16, 990, 32], [5, 1, 0, 32]] as const) {
      const x = productLogits(rows, cols, spread, rows + cols);
      const got = await runOnProduct(x, [rows, cols], (p, s) => softmaxLastOfProduct(p, s, { maxArity: arity }));
      const { err } = maxAbsError(got, reference(x, rows, cols));
      console.log(`softmax of product ${rows}x${cols} spread ${spread} arity ${arity}: max abs error ${err.toExponential(3)}`);
      expect(err).toBeLessThanOrEqual(2e-3);
    }
    const heads = 2;
    const x = productLogits(heads * 5, 9, 20, 5);
    x[8] = 1000;
    const got = await runOnProduct(x, [heads, 5, 9], (p, s) => softmaxLastOfProduct(p, s, { causal: { queryOffset: 3 } }));
    const visible = (r: number, j: number) => j <= (r % 5) + 3;
    expect(maxAbsError(got, reference(x, heads * 5, 9, visible)).err).toBeLessThanOrEqual(2e-3);
    for (let e = 0; e < got.length; e++) if (!visible(Math.floor(e / 9), e % 9)) expect(got[e]).toBe(0);
  });

  it('after matmulRaw it equals matmul then softmax in result, one round less on the critical path', async () => {
    const [H, T, D] = [2, 8, 16];
    const q = randomFloats(H * T * D, -1.5, 1.5, 3);
    const k = randomFloats(H * T * D, -1.5, 1.5, 4);
    const inputs = { q: fixedInput(q, [H, T, D]), k: fixedInput(k, [H, T, D]) };
    const causal = { causal: { queryOffset: 0 } };
    const split = (p: Party, s: Record<string, AShare>) => matmulRaw(p, s.q, s.k, { transB: true }).then((raw) => softmaxLastOfProduct(p, raw, causal));
    const fused = (p: Party, s: Record<string, AShare>) => matmul(p, s.q, s.k, { transB: true }).then((sc) => softmaxLast(p, sc, causal));
    const run = async (f: typeof split) => (await runWithInputs(inputs, async (p, s) => decodeFixed(await revealRaw(p, await f(p, s)), 18))).results[0];
    const [a, b] = [await run(split), await run(fused)];
    const scores = Array.from({ length: H * T * T }, (_, e) => {
      const [h, i, j] = [Math.floor(e / (T * T)), Math.floor(e / T) % T, e % T];
      let v = 0;
      for (let d = 0; d < D; d++) v += quantize([q[(h * T + i) * D + d]])[0] * quantize([k[(h * T + j) * D + d]])[0];
      return v;
    });
    const want = reference(Float64Array.from(scores), H * T, T, (r, j) => j <= r % T);
    expect(maxAbsError(a, want).err).toBeLessThanOrEqual(2e-3);
    expect(maxAbsError(b, want).err).toBeLessThanOrEqual(2e-3);
    const measuredSplit = await measureOp(inputs, split);
    expectCost(measuredSplit, seq(matmulRawCost(H * T * T), softmaxOfProductCost(H * T, T)));
    expect(measuredSplit.rounds).toBe(seq(matmulCost(H * T * T), softmaxCost(H * T, T)).rounds - 1);
  });

  it('declared cost equals measured cost: one and two levels, a decoding step, causal; the same rounds as softmax after a 1-round reshare', async () => {
    for (const [rows, cols, arity] of [[3, 10, 4], [3, 10, 32], [2, 81, undefined], [4, 40, 32], [5, 1, 32]] as const) {
      const x = productLogits(rows, cols, 8, 1);
      const o = arity === undefined ? {} : { maxArity: arity };
      expectCost(await measureOp({ x: fixedInput(x, [rows, cols], 36) }, (p, s) => softmaxLastOfProduct(p, s.x, o)), softmaxOfProductCost(rows, cols, o));
    }
    expectCost(await measureOp({ x: fixedInput(productLogits(3, 10, 8, 2), [3, 10], 36) }, (p, s) => softmaxLastOfProduct(p, s.x, { causal: { queryOffset: 2 } })), softmaxOfProductCost(3, 10));
    expect(softmaxOfProductCost(12 * 32, 32).rounds).toBe(softmaxCost(12 * 32, 32).rounds);
    expect(seq(matmulRawCost(12 * 32 * 32), softmaxOfProductCost(12 * 32, 32)).rounds).toBe(seq(matmulCost(12 * 32 * 32), softmaxCost(12 * 32, 32)).rounds - 1);
  });

  it('rejects empty rows and a causal mask on a vector', async () => {
    await expect(runOnProduct(Float64Array.of(1, 2, 3), [3], (p, s) => softmaxLastOfProduct(p, s, { causal: { queryOffset: 0 } }))).rejects.toThrow(/rows, cols/);
    await expect(runOnProduct(new Float64Array(0), [2, 0], (p, s) => softmaxLastOfProduct(p, s))).rejects.toThrow(/non-empty/);
  });
});
