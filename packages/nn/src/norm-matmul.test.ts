import { describe, expect, it } from 'vitest';
import { decodeFixed } from '@puma/ring';
import {
  concatFlat, matmul, matmulCost, matmulTerm, receiveTermFromParties, revealRaw, revealTermToClient, revealTermToClientCost, seq, truncateProductCost, type AShare, type OutputTerm, type Party,
} from '@puma/protocol';
import { expectCost, fixedInput, measureOp, randomFloats, runWithInputs } from '@puma/protocol/test-support';
import { layerNorm, layerNormCost, layerNormMatmul, layerNormMatmulCost, layerNormMatmulTerm, layerNormMatmulTermCost } from './layernorm.ts';
import { layerNormOfResidualMatmul, layerNormOfResidualMatmulCost, layerNormOfResidualMatmulTerm, layerNormOfResidualMatmulTermCost, layerNormOfResidualCost } from './layernorm-residual.ts';
import { normMatmulPlan, normMatmulTerm, normMatmulTermCost, normTermPlan, type BetaProductStore } from './norm-matmul.ts';
import { matmulFloat, matmulTruncBy, sumOf } from './norm-matmul-test-support.ts';
import { normPlan } from './norm.ts';
import {
  rmsNorm, rmsNormCost, rmsNormMatmul, rmsNormMatmulCost, rmsNormMatmulTerm, rmsNormMatmulTermAt, rmsNormMatmulTermAtCost, rmsNormMatmulTermCost,
} from './rmsnorm.ts';
import { layerNormRow, rmsNormRow } from './reference.ts';
import { maxAbsError, perRow, quantize, rowsWithStd } from './test-support.ts';

/** Row stds (RMS for RMSNorm) of the accuracy tests; gamma in [-2, 2], beta in [-1, 1], W in [-0.25, 0.25]. */
const STDS = [0.05, 0.1, 0.5, 1, 3, 10, 25, 50];
/** Asserted max abs error of y W against float64 on those inputs (|y W| up to about 10 at n = 64). */
const YW_BOUND = 5e-3;
const OUT = 40;

function params(n: number, seed: number) {
  return {
    gamma: quantize(randomFloats(n, -2, 2, seed + 1)),
    beta: quantize(randomFloats(n, -1, 1, seed + 2)),
    w: quantize(randomFloats(n * OUT, -0.25, 0.25, seed + 3)),
  };
}

const mmOf = (w: AShare, keepY = false) => ({ matmul: (q: Party, m: AShare, bits: number) => matmulTruncBy(q, m, w, bits), out: OUT, keepY });

const mmTermOf = (w: AShare) => ({ ...mmOf(w), matmulTerm: async (q: Party, y: AShare) => matmulTerm(q, y, w) });

/** The client's value of each party's term (protocol revealTermToClient). */
async function revealTerm(inputs: Record<string, ReturnType<typeof fixedInput>>, f: (p: Party, s: Record<string, AShare>) => Promise<OutputTerm>): Promise<Float64Array> {
  const run = await runWithInputs(inputs, async (p, s) => revealTermToClient(p, await f(p, s), 't'), { client: (c) => receiveTermFromParties(c, 't') });
  return run.client as Float64Array;
}

async function reveal(inputs: Record<string, ReturnType<typeof fixedInput>>, f: (p: Party, s: Record<string, AShare>) => Promise<AShare>): Promise<Float64Array> {
  return (await runWithInputs(inputs, async (p, s) => decodeFixed(await revealRaw(p, await f(p, s)), 18))).results[0];
}

describe('norm then matmul with the row scale after the product (norm-matmul.ts)', () => {
  it(`LayerNorm(x) W within ${YW_BOUND} of float64 for row std 0.05 to 50 (n = 64, 48), as close as layerNorm then matmul; y kept within 5e-3`, async () => {
    for (const n of [64, 48]) {
      const rows = STDS.length;
      const x = rowsWithStd(STDS, n, n);
      const { gamma, beta, w } = params(n, n);
      const want = matmulFloat(perRow(x, n, (row) => layerNormRow(row, gamma, beta, 1e-5)), w, rows, n, OUT);
      const wantY = perRow(x, n, (row) => layerNormRow(row, gamma, beta, 1e-5));
      const inputs = { x: fixedInput(x, [rows, n]), g: fixedInput(gamma), b: fixedInput(beta), w: fixedInput(w, [n, OUT]) };
      const both = await reveal(inputs, async (p, s) => {
        const r = await layerNormMatmul(p, s.x, s.g, s.b, 1e-5, mmOf(s.w, true));
        return concatFlat(p, [r.yw, r.y as AShare]);
      });
      const fused = maxAbsError(both.subarray(0, rows * OUT), want).err;
      const unfused = maxAbsError(await reveal(inputs, async (p, s) => matmul(p, await layerNorm(p, s.x, s.g, s.b, 1e-5), s.w)), want).err;
      const y = maxAbsError(both.subarray(rows * OUT), wantY).err;
      console.log(`layerNormMatmul n = ${n}: y W max abs error ${fused.toExponential(3)} (layerNorm then matmul ${unfused.toExponential(3)}), y ${y.toExponential(3)}`);
      expect(fused).toBeLessThanOrEqual(YW_BOUND);
      expect(y).toBeLessThanOrEqual(5e-3);
    }
  });

  it(`RMSNorm(x) W within ${YW_BOUND} of float64 for row RMS 0.05 to 50 (n = 64)`, async () => {
    const n = 64;
    const rows = STDS.length;
    const x = rowsWithStd(STDS, n, 7, true);
    const { gamma, w } = params(n, 7);
    const want = matmulFloat(perRow(x, n, (row) => rmsNormRow(row, gamma, 1e-6)), w, rows, n, OUT);
    const inputs = { x: fixedInput(x, [rows, n]), g: fixedInput(gamma), w: fixedInput(w, [n, OUT]) };
    const fused = maxAbsError(await reveal(inputs, async (p, s) => (await rmsNormMatmul(p, s.x, s.g, 1e-6, mmOf(s.w))).yw), want).err;
    const unfused = maxAbsError(await reveal(inputs, async (p, s) => matmul(p, await rmsNorm(p, s.x, s.g, 1e-6), s.w)), want).err;
    console.log(`rmsNormMatmul n = ${n}: y W max abs error ${fused.toExponential(3)} (rmsNorm then matmul ${unfused.toExponential(3)})`);
    expect(fused).toBeLessThanOrEqual(YW_BOUND);
  });

  it(`LayerNorm of a residual sum's term, then W, and W as a term for the client: within ${YW_BOUND} at odd factors 1 and 3; the term's declared = measured, 2 rounds fewer than truncated`, async () => {
    for (const n of [64, 48]) {
      const rows = STDS.length;
      const total = rowsWithStd(STDS, n, n + 20);
      const base = quantize(randomFloats(rows * n, -2, 2, n + 21));
      const product = total.map((v, i) => v - base[i]);
      const { gamma, beta, w } = params(n, n + 22);
      const sum = Float64Array.from(base, (v, i) => v + Math.round(product[i] * 2 ** 36) / 2 ** 36);
      const want = matmulFloat(perRow(sum, n, (row) => layerNormRow(row, gamma, beta, 1e-5)), w, rows, n, OUT);
      const inputs = { b: fixedInput(base, [rows, n]), p: fixedInput(product, [rows, n], 36), g: fixedInput(gamma), be: fixedInput(beta), w: fixedInput(w, [n, OUT]) };
      const out = await reveal(inputs, async (p, s) => (await layerNormOfResidualMatmul(p, sumOf(p, s.b, s.p), s.g, s.be, 1e-5, mmOf(s.w))).yw);
      const err = maxAbsError(out, want).err;
      console.log(`layerNormOfResidualMatmul n = ${n}: y W max abs error ${err.toExponential(3)}`);
      expect(err).toBeLessThanOrEqual(YW_BOUND);
      const asTerm = (p: Party, s: Record<string, AShare>) => layerNormOfResidualMatmulTerm(p, sumOf(p, s.b, s.p), s.g, s.be, 1e-5, mmTermOf(s.w));
      const termErr = maxAbsError(await revealTerm(inputs, asTerm), want).err;
      console.log(`layerNormOfResidualMatmulTerm n = ${n}: y W max abs error ${termErr.toExponential(3)}`);
      expect(termErr).toBeLessThanOrEqual(YW_BOUND);
      expectCost(await measureOp(inputs, asTerm), layerNormOfResidualMatmulTermCost(rows, n, 1e-5, OUT));
      expect(layerNormOfResidualMatmulTermCost(rows, n, 1e-5, OUT).rounds).toBe(layerNormOfResidualMatmulCost(rows, n, 1e-5, OUT, false).rounds - 2);
    }
  });

  it('declared cost equals measured cost; 2 rounds fewer than the norm then the matmul at 32 x 768 -> 2304', async () => {
    const [rows, n] = [3, 48];
    const w = fixedInput(randomFloats(n * OUT, -0.25, 0.25, 9), [n, OUT]);
    const x = fixedInput(rowsWithStd([1, 2, 3], n, 3), [rows, n]);
    const g = fixedInput(new Array(n).fill(1));
    const be = fixedInput(new Array(n).fill(0.5));
    for (const keepY of [false, true]) {
      expectCost(await measureOp({ x, g, be, w }, (p, s) => layerNormMatmul(p, s.x, s.g, s.be, 1e-5, mmOf(s.w, keepY))), layerNormMatmulCost(rows, n, 1e-5, OUT, keepY));
      const inputs = { b: x, p: fixedInput(rowsWithStd([1, 2, 3], n, 4), [rows, n], 36), g, be, w };
      expectCost(await measureOp(inputs, (p, s) => layerNormOfResidualMatmul(p, sumOf(p, s.b, s.p), s.g, s.be, 1e-5, mmOf(s.w, keepY))), layerNormOfResidualMatmulCost(rows, n, 1e-5, OUT, keepY));
    }
    for (const keepY of [false, true]) expectCost(await measureOp({ x, g, w }, (p, s) => rmsNormMatmul(p, s.x, s.g, 1e-6, mmOf(s.w, keepY))), rmsNormMatmulCost(rows, n, 1e-6, OUT, keepY));
    expect(layerNormMatmulCost(32, 768, 1e-5, 2304).rounds).toBe(seq(layerNormCost(32, 768, 1e-5), matmulCost(32 * 2304)).rounds - 2);
    expect(layerNormOfResidualMatmulCost(32, 768, 1e-5, 2304, false).rounds).toBe(seq(layerNormOfResidualCost(32, 768, 1e-5), matmulCost(32 * 2304)).rounds - 2);
    expect(rmsNormMatmulCost(16, 4096, 1e-6, 11008).rounds).toBe(seq(rmsNormCost(16, 4096, 1e-6), matmulCost(16 * 11008)).rounds - 2);
  });

  it(`on a published window (variance 0.5 to 40, odd factor 3: S in [2^6, 2^16)): within ${YW_BOUND}, 7 rounds after d, declared = measured`, async () => {
    const [n, rows] = [48, 5];
    const win = { minVar: 0.5, maxVar: 40 };
    const stds = [0.75, 1, 2, 4, 6];
    const total = rowsWithStd(stds, n, 31);
    const base = quantize(randomFloats(rows * n, -2, 2, 32));
    const product = total.map((v, i) => v - base[i]);
    const { gamma, beta, w } = params(n, 33);
    const sum = Float64Array.from(base, (v, i) => v + Math.round(product[i] * 2 ** 36) / 2 ** 36);
    const want = matmulFloat(perRow(sum, n, (row) => layerNormRow(row, gamma, beta, 1e-5)), w, rows, n, OUT);
    const inputs = { b: fixedInput(base, [rows, n]), p: fixedInput(product, [rows, n], 36), g: fixedInput(gamma), be: fixedInput(beta), w: fixedInput(w, [n, OUT]) };
    const run = (p: Party, s: Record<string, AShare>) => layerNormOfResidualMatmul(p, sumOf(p, s.b, s.p), s.g, s.be, 1e-5, mmOf(s.w, true), win);
    const cost = layerNormOfResidualMatmulCost(rows, n, 1e-5, OUT, true, win);
    expectCost(await measureOp(inputs, async (p, s) => (await run(p, s)).yw), cost);
    // The window's tables (2 rounds after S's resharing) hide beside the lanes' 3 levels (from d), the selection
    // follows; the whole ring's msb takes 8 after the resharing, then the selection (b2a-free: 2).
    expect(cost.rounds).toBe(layerNormOfResidualMatmulCost(rows, n, 1e-5, OUT, true).rounds - 6);
    const err = maxAbsError(await reveal(inputs, async (p, s) => (await run(p, s)).yw), want).err;
    console.log(`layerNormOfResidualMatmul on a window: y W max abs error ${err.toExponential(3)}`);
    expect(err).toBeLessThanOrEqual(YW_BOUND);
  });

  it('scales: m and m W keep at least f fraction bits on the models\' widths; narrower residual rows run unfused, at the unfused cost', async () => {
    for (const n of [64, 128, 288, 768, 4096]) {
      const fused = normMatmulPlan(normPlan(n, 1e-5, 18, {}));
      expect(fused?.mBits).toBeGreaterThanOrEqual(18);
      expect(fused?.zBits).toBeGreaterThanOrEqual(18);
    }
    expect(normMatmulPlan(normPlan(12, 9e-5, 18, {}, 16))).toBeNull();
    // A published window of small variance (gpt2-shakespeare's layer 0: 2^-12.75 to 2^-3.75) still fuses.
    expect(normMatmulPlan(normPlan(128, 1e-5, 18, { minVar: 1.35e-4, maxVar: 0.0743 }))?.mBits).toBeGreaterThanOrEqual(18);
    const [rows, n] = [2, 12];
    const inputs = { b: fixedInput(rowsWithStd([1, 2], n, 5), [rows, n]), p: fixedInput(rowsWithStd([1, 3], n, 6), [rows, n], 36), g: fixedInput(new Array(n).fill(1)), be: fixedInput(new Array(n).fill(0.5)), w: fixedInput(randomFloats(n * OUT, -0.25, 0.25, 8), [n, OUT]) };
    const cost = layerNormOfResidualMatmulCost(rows, n, 1e-5, OUT, true);
    expectCost(await measureOp(inputs, (p, s) => layerNormOfResidualMatmul(p, sumOf(p, s.b, s.p), s.g, s.be, 1e-5, mmOf(s.w, true))), cost);
    expect(cost).toEqual(seq(layerNormOfResidualCost(rows, n, 1e-5), matmulCost(rows * OUT)));
    expect(() => normMatmulPlan(normPlan(768, 1e-5, 18, {}), 0)).toThrow(/norm matmul: the product's bound must be a positive finite number/);
  });

  it(`the last product as a term for the client (no truncation): within ${YW_BOUND} of float64 for std 0.05 to 50, 2 rounds fewer, declared = measured; narrow rows too`, async () => {
    const n = 64;
    const rows = STDS.length;
    const x = rowsWithStd(STDS, n, 41);
    const { gamma, beta, w } = params(n, 41);
    const inputs = { x: fixedInput(x, [rows, n]), g: fixedInput(gamma), b: fixedInput(beta), w: fixedInput(w, [n, OUT]) };
    const wantLayer = matmulFloat(perRow(x, n, (row) => layerNormRow(row, gamma, beta, 1e-5)), w, rows, n, OUT);
    const wantRms = matmulFloat(perRow(x, n, (row) => rmsNormRow(row, gamma, 1e-5)), w, rows, n, OUT);
    const layer = maxAbsError(await revealTerm(inputs, (p, s) => layerNormMatmulTerm(p, s.x, s.g, s.b, 1e-5, mmTermOf(s.w))), wantLayer).err;
    const rms = maxAbsError(await revealTerm(inputs, (p, s) => rmsNormMatmulTerm(p, s.x, s.g, 1e-5, mmTermOf(s.w))), wantRms).err;
    console.log(`norm matmul term n = ${n}: y W max abs error ${layer.toExponential(3)} (LayerNorm), ${rms.toExponential(3)} (RMSNorm)`);
    expect(layer).toBeLessThanOrEqual(YW_BOUND);
    expect(rms).toBeLessThanOrEqual(YW_BOUND);
    const reveal = revealTermToClientCost(rows * OUT);
    expectCost(await measureOp(inputs, async (p, s) => revealTermToClient(p, await layerNormMatmulTerm(p, s.x, s.g, s.b, 1e-5, mmTermOf(s.w)), 't')), seq(layerNormMatmulTermCost(rows, n, 1e-5, OUT), reveal));
    expectCost(await measureOp(inputs, async (p, s) => revealTermToClient(p, await rmsNormMatmulTerm(p, s.x, s.g, 1e-5, mmTermOf(s.w)), 't')), seq(rmsNormMatmulTermCost(rows, n, 1e-5, OUT), reveal));
    expect(layerNormMatmulTermCost(rows, n, 1e-5, OUT).rounds).toBe(layerNormMatmulCost(rows, n, 1e-5, OUT).rounds - 2);
    expect(rmsNormMatmulTermCost(1, 4096, 1e-5, 32000).rounds).toBe(rmsNormMatmulCost(1, 4096, 1e-5, 32000).rounds - 2);
    // Rows too narrow to fuse (normMatmulPlan null: d at 16 bits, n = 12) take the norm, then the product's term.
    const [r2, n2] = [2, 12];
    const x2 = rowsWithStd([1, 2], n2, 42);
    const p2 = params(n2, 42);
    const plan = normPlan(n2, 9e-5, 18, {}, 16);
    expect(normMatmulPlan(plan)).toBeNull();
    const narrow = { x: fixedInput(x2, [r2, n2], 16), g: fixedInput(p2.gamma), w: fixedInput(p2.w, [n2, OUT]) };
    const want2 = matmulFloat(perRow(x2, n2, (row) => rmsNormRow(row, p2.gamma, 9e-5)), p2.w, r2, n2, OUT);
    const err2 = maxAbsError(await revealTerm(narrow, (p, s) => normMatmulTerm(p, s.x, s.g, null, plan, mmTermOf(s.w))), want2).err;
    expect(err2).toBeLessThanOrEqual(YW_BOUND);
    expectCost(await measureOp(narrow, (p, s) => normMatmulTerm(p, s.x, s.g, null, plan, mmTermOf(s.w))), normMatmulTermCost(r2, n2, plan, OUT, false));
    await expect(runWithInputs(inputs, (p, s) => layerNormMatmulTerm(p, s.x, s.g, s.b, 1e-5, { ...mmTermOf(s.w), keepY: true }))).rejects.toThrow('norm matmul term: y cannot be kept beside a term for the client');
  });

  it(`the term at fixed fraction bits (normTermPlan, RoPE's 2f): RMS 0.05 to 6 on a 19-octave window within ${YW_BOUND} of float64, with and without gamma, 2 rounds fewer than the norm then the term; a wide window unfused`, async () => {
    const [n, f] = [64, 18];
    // stories260K's first attention norm: mean square published on [2^-13, 2^5.25] (19 octaves of S at n = 64).
    const window = { minVar: 2 ** -13, maxVar: 2 ** 5.25 };
    const t = normTermPlan(n, 1e-5, f, window, 2 * f);
    expect(t.fused).not.toBeNull();
    expect(t.plan.scale.rScale + (t.fused?.zBits ?? 0)).toBe(2 * f);
    expect(t.fused?.mBits).toBeGreaterThanOrEqual(f);
    // The header's balance on this window: R keeps 13 bits relative at its smallest, z 13.5 over the largest R.
    const { lo, hi, constant } = t.plan.scale.o;
    expect(t.plan.scale.rScale + Math.log2(constant) - hi / 2).toBe(13);
    expect((t.fused?.zBits ?? 0) - (Math.log2(constant) - lo / 2)).toBe(13.5);
    const stds = [0.05, 0.1, 0.5, 1, 3, 6];
    const rows = stds.length;
    const x = rowsWithStd(stds, n, 61);
    const { gamma, w } = params(n, 61);
    const ones = new Array(n).fill(1);
    for (const g of [gamma, null]) {
      const want = matmulFloat(perRow(x, n, (row) => rmsNormRow(row, g ?? ones, 1e-5)), w, rows, n, OUT);
      const inputs = { x: fixedInput(x, [rows, n]), w: fixedInput(w, [n, OUT]), ...(g ? { g: fixedInput(g) } : {}) };
      const termOf = (p: Party, s: Record<string, AShare>) => rmsNormMatmulTermAt(p, s.x, s.g ?? null, 1e-5, mmTermOf(s.w), 2 * f, window);
      const err = maxAbsError(await revealTerm(inputs, termOf), want).err;
      console.log(`rms norm term at 2f (${g ? 'gamma' : 'no gamma'}): y W max abs error ${err.toExponential(3)}`);
      expect(err).toBeLessThanOrEqual(YW_BOUND);
      const o = { ...window, noScale: g === null };
      const cost = rmsNormMatmulTermAtCost(rows, n, 1e-5, OUT, 2 * f, o);
      expectCost(await measureOp(inputs, termOf), cost);
      expect(cost.rounds).toBe(rmsNormCost(rows, n, 1e-5, o).rounds - 2);
    }
    // The whole ring's range (no window): R and z cannot both keep TERM_PRECISION_BITS at 36 bits; the norm, then the term.
    expect(normTermPlan(n, 1e-5, f, {}, 2 * f).fused).toBeNull();
    const inputs = { x: fixedInput(x, [rows, n]), g: fixedInput(gamma), w: fixedInput(w, [n, OUT]) };
    const wide = (p: Party, s: Record<string, AShare>) => rmsNormMatmulTermAt(p, s.x, s.g, 1e-5, mmTermOf(s.w), 2 * f);
    expectCost(await measureOp(inputs, wide), rmsNormMatmulTermAtCost(rows, n, 1e-5, OUT, 2 * f));
    expect(rmsNormMatmulTermAtCost(rows, n, 1e-5, OUT, 2 * f).rounds).toBe(rmsNormCost(rows, n, 1e-5).rounds);
    const want = matmulFloat(perRow(x, n, (row) => rmsNormRow(row, gamma, 1e-5)), w, rows, n, OUT);
    expect(maxAbsError(await revealTerm(inputs, wide), want).err).toBeLessThanOrEqual(YW_BOUND);
    // A term whose product lands elsewhere than asked is refused by name.
    await expect(runWithInputs(inputs, (p, s) => rmsNormMatmulTermAt(p, s.x, s.g, 1e-5, mmTermOf(s.w), 2 * f + 1))).rejects.toThrow(/rms norm term: the product's term is at 36 fraction bits, expected 37/);
    expect(() => normTermPlan(n, 1e-5, f, window, 50)).toThrow(/norm term: 50 fraction bits/);
  });

  it(`a residual sum given as its term (NormInput): RMSNorm(base + product) W fed, and as a term at 2f, within ${YW_BOUND} of float64, d within 2^-17, 1 round sooner than truncating first, fused or not; declared = measured`, async () => {
    const [n, f] = [64, 18];
    const window = { minVar: 2 ** -13, maxVar: 2 ** 5.25 };
    const stds = [0.05, 0.5, 1, 2, 4];
    const rows = stds.length;
    // Centred rows (RMS = std): the sums' mean squares 2^-9 to about 20 lie inside the window.
    const base = rowsWithStd(stds, n, 71, true);
    const prod = rowsWithStd(stds.map((v) => v / 2), n, 72, true);
    const sum = base.map((v, i) => quantize([v])[0] + quantize([prod[i]])[0]);
    const { gamma, w } = params(n, 71);
    const inputs = { b: fixedInput(base, [rows, n]), p: fixedInput(prod, [rows, n], 2 * f), g: fixedInput(gamma), w: fixedInput(w, [n, OUT]) };
    const want = matmulFloat(perRow(sum, n, (row) => rmsNormRow(row, gamma, 1e-5)), w, rows, n, OUT);
    for (const o of [window, {}]) {
      const fed = await reveal(inputs, async (p, s) => {
        const r = await rmsNormMatmul(p, sumOf(p, s.b, s.p), s.g, 1e-5, mmOf(s.w), o);
        return concatFlat(p, [r.yw, r.d]);
      });
      expect(maxAbsError(fed.subarray(0, rows * OUT), want).err).toBeLessThanOrEqual(YW_BOUND);
      expect(maxAbsError(fed.subarray(rows * OUT), sum).err).toBeLessThanOrEqual(2 ** -17);
      const cost = rmsNormMatmulCost(rows, n, 1e-5, OUT, false, o, f, true);
      expectCost(await measureOp(inputs, (p, s) => rmsNormMatmul(p, sumOf(p, s.b, s.p), s.g, 1e-5, mmOf(s.w), o)), cost);
      expect(cost.rounds).toBe(seq(truncateProductCost(rows * n), rmsNormMatmulCost(rows, n, 1e-5, OUT, false, o)).rounds - 1);
      const term = await revealTerm(inputs, (p, s) => rmsNormMatmulTermAt(p, sumOf(p, s.b, s.p), s.g, 1e-5, mmTermOf(s.w), 2 * f, o));
      expect(maxAbsError(term, want).err).toBeLessThanOrEqual(YW_BOUND);
      const termCost = rmsNormMatmulTermAtCost(rows, n, 1e-5, OUT, 2 * f, o, f, true);
      expectCost(await measureOp(inputs, (p, s) => rmsNormMatmulTermAt(p, sumOf(p, s.b, s.p), s.g, 1e-5, mmTermOf(s.w), 2 * f, o)), termCost);
      // 1 round sooner than truncating first, fused (the window) or not (no window: the norm from the squares,
      // norm.ts normTailOfSum, then the term).
      const first = seq(truncateProductCost(rows * n), rmsNormMatmulTermAtCost(rows, n, 1e-5, OUT, 2 * f, o)).rounds;
      expect(termCost.rounds).toBe(first - 1);
    }
  });

  it(`beta W kept by the first pass (BetaProductStore): a second pass multiplies no beta row, within ${YW_BOUND}, at the declared cost with betaRow false`, async () => {
    const [rows, n] = [3, 48];
    const x = rowsWithStd([0.5, 2, 10], n, 51);
    const { gamma, beta, w } = params(n, 51);
    const want = matmulFloat(perRow(x, n, (row) => layerNormRow(row, gamma, beta, 1e-5)), w, rows, n, OUT);
    const inputs = { x: fixedInput(x, [rows, n]), g: fixedInput(gamma), b: fixedInput(beta), w: fixedInput(w, [n, OUT]) };
    const storeOf = () => {
      const kept = new Map<number, AShare>();
      const store: BetaProductStore = { get: (zBits) => kept.get(zBits), keep: (zBits, bw) => void kept.set(zBits, bw) };
      return { kept, store };
    };
    const twoPasses = async (p: Party, s: Record<string, AShare>) => {
      const { kept, store } = storeOf();
      const mm = { ...mmOf(s.w), betaProduct: store };
      const first = await layerNormMatmul(p, s.x, s.g, s.b, 1e-5, mm);
      expect([...kept.values()].map((bw) => bw.shape)).toEqual([[OUT]]);
      const second = await layerNormMatmul(p, s.x, s.g, s.b, 1e-5, mm);
      return concatFlat(p, [first.yw, second.yw]);
    };
    const both = await reveal(inputs, twoPasses);
    expect(maxAbsError(both.subarray(0, rows * OUT), want).err).toBeLessThanOrEqual(YW_BOUND);
    expect(maxAbsError(both.subarray(rows * OUT), want).err).toBeLessThanOrEqual(YW_BOUND);
    const withRow = layerNormMatmulCost(rows, n, 1e-5, OUT);
    const withoutRow = layerNormMatmulCost(rows, n, 1e-5, OUT, false, {}, 18, false);
    expectCost(await measureOp<BetaProductStore>(inputs, async (p, s, kept) => layerNormMatmul(p, s.x, s.g, s.b, 1e-5, { ...mmOf(s.w), betaProduct: kept }), async (p, s) => {
      const { store } = storeOf();
      await layerNormMatmul(p, s.x, s.g, s.b, 1e-5, { ...mmOf(s.w), betaProduct: store });
      return store;
    }), withoutRow);
    expect(withoutRow.rounds).toBe(withRow.rounds);
    expect(withoutRow.bytes[0]).toBeLessThan(withRow.bytes[0]);
  });
});
