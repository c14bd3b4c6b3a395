/**
 * Norms without their affine part (NormOptions.noScale, gamma and beta null): the model owner folds gamma and
 * beta into the matmul the norm feeds, W' = diag(gamma) W and b' = beta W, so the parties compute
 * (d R) W' + b', which equals LayerNorm(x; gamma, beta) W exactly in real arithmetic. Asserted against float64
 * of the unfolded model: the same bound as norm-matmul.test.ts (5e-3 on y W, row std 0.05 to 50, |gamma| <= 2,
 * |beta| <= 1, |W| <= 0.25), and the same rounds as with gamma for fewer bytes (no d gamma product).
 */
import { describe, expect, it } from 'vitest';
import { decodeFixed } from '@puma/ring';
import { add, concatFlat, matmul, revealRaw, tileLeading, reshape, type AShare, type Party } from '@puma/protocol';
import { expectCost, fixedInput, measureOp, randomFloats, runWithInputs } from '@puma/protocol/test-support';
import { layerNorm, layerNormCost, layerNormMatmul, layerNormMatmulCost } from './layernorm.ts';
import { layerNormOfResidual, layerNormOfResidualCost, layerNormOfResidualMatmul, layerNormOfResidualMatmulCost } from './layernorm-residual.ts';
import { matmulFloat, matmulTruncBy, sumOf } from './norm-matmul-test-support.ts';
import { rmsNorm, rmsNormCost, rmsNormMatmul, rmsNormMatmulCost } from './rmsnorm.ts';
import { layerNormRow, rmsNormRow } from './reference.ts';
import { maxAbsError, perRow, quantize, rowsWithStd } from './test-support.ts';

const STDS = [0.05, 0.1, 0.5, 1, 3, 10, 25, 50];
const YW_BOUND = 5e-3;
const OUT = 40;
const NO_SCALE = { noScale: true } as const;

/** gamma, beta, W of the model and the folded W' = diag(gamma) W, b' = beta W, quantized as the owner shares them. */
function folded(n: number, seed: number) {
  const gamma = quantize(randomFloats(n, -2, 2, seed + 1));
  const beta = quantize(randomFloats(n, -1, 1, seed + 2));
  const w = quantize(randomFloats(n * OUT, -0.25, 0.25, seed + 3));
  const wFolded = quantize(Float64Array.from(w, (v, i) => v * gamma[Math.floor(i / OUT)]));
  const bFolded = quantize(matmulFloat(beta, w, 1, n, OUT));
  return { gamma, beta, w, wFolded, bFolded };
}

const mmOf = (w: AShare, keepY = false) => ({ matmul: (q: Party, m: AShare, bits: number) => matmulTruncBy(q, m, w, bits), out: OUT, keepY });

/** y W' + b' for every row. */
const plusBias = (p: Party, yw: AShare, b: AShare): AShare => add(p, yw, reshape(tileLeading(p, b, yw.shape[0]), yw.shape));

async function reveal(inputs: Record<string, ReturnType<typeof fixedInput>>, f: (p: Party, s: Record<string, AShare>) => Promise<AShare>): Promise<Float64Array> {
  return (await runWithInputs(inputs, async (p, s) => decodeFixed(await revealRaw(p, await f(p, s)), 18))).results[0];
}

describe('norms with gamma and beta folded into the next matmul (noScale)', () => {
  it(`LayerNorm then W, fused and unfused, and RMSNorm then W: within ${YW_BOUND} of the unfolded model in float64 (n = 64, 48)`, async () => {
    for (const n of [64, 48]) {
      const rows = STDS.length;
      const x = rowsWithStd(STDS, n, n + 60);
      const { gamma, beta, w, wFolded, bFolded } = folded(n, n + 60);
      const inputs = { x: fixedInput(x, [rows, n]), w: fixedInput(wFolded, [n, OUT]), b: fixedInput(bFolded) };
      const wantLayer = matmulFloat(perRow(x, n, (row) => layerNormRow(row, gamma, beta, 1e-5)), w, rows, n, OUT);
      const fused = maxAbsError(await reveal(inputs, async (p, s) => plusBias(p, (await layerNormMatmul(p, s.x, null, null, 1e-5, mmOf(s.w))).yw, s.b)), wantLayer).err;
      const unfused = maxAbsError(await reveal(inputs, async (p, s) => plusBias(p, await matmul(p, await layerNorm(p, s.x, null, null, 1e-5), s.w), s.b)), wantLayer).err;
      const ones = new Array<number>(n).fill(1);
      const y = maxAbsError(await reveal(inputs, (p, s) => layerNorm(p, s.x, null, null, 1e-5)), perRow(x, n, (row) => layerNormRow(row, ones, new Array<number>(n).fill(0), 1e-5))).err;
      const wantRms = matmulFloat(perRow(x, n, (row) => rmsNormRow(row, gamma, 1e-6)), w, rows, n, OUT);
      const rms = maxAbsError(await reveal(inputs, async (p, s) => (await rmsNormMatmul(p, s.x, null, 1e-6, mmOf(s.w))).yw), wantRms).err;
      const rmsUnfused = maxAbsError(await reveal(inputs, async (p, s) => matmul(p, await rmsNorm(p, s.x, null, 1e-6), s.w)), wantRms).err;
      console.log(`folded norms n = ${n}: LayerNorm W fused ${fused.toExponential(3)}, unfused ${unfused.toExponential(3)}, y ${y.toExponential(3)}; RMSNorm W ${rms.toExponential(3)}, unfused ${rmsUnfused.toExponential(3)}`);
      for (const err of [fused, unfused, rms, rmsUnfused]) expect(err).toBeLessThanOrEqual(YW_BOUND);
      expect(y).toBeLessThanOrEqual(5e-3);
    }
  });

  it(`LayerNorm of a residual sum, then W' + b': within ${YW_BOUND} at odd factors 1 and 3; x kept within 1 ulp`, async () => {
    for (const n of [64, 48]) {
      const rows = STDS.length;
      const total = rowsWithStd(STDS, n, n + 70);
      const base = quantize(randomFloats(rows * n, -2, 2, n + 71));
      const product = total.map((v, i) => v - base[i]);
      const { gamma, beta, w, wFolded, bFolded } = folded(n, n + 72);
      const sum = Float64Array.from(base, (v, i) => v + Math.round(product[i] * 2 ** 36) / 2 ** 36);
      const want = matmulFloat(perRow(sum, n, (row) => layerNormRow(row, gamma, beta, 1e-5)), w, rows, n, OUT);
      const inputs = { b: fixedInput(base, [rows, n]), p: fixedInput(product, [rows, n], 36), w: fixedInput(wFolded, [n, OUT]), bias: fixedInput(bFolded) };
      const out = await reveal(inputs, async (p, s) => {
        const r = await layerNormOfResidualMatmul(p, sumOf(p, s.b, s.p), null, null, 1e-5, mmOf(s.w));
        const u = await layerNormOfResidual(p, sumOf(p, s.b, s.p), null, null, 1e-5);
        return concatFlat(p, [plusBias(p, r.yw, s.bias), plusBias(p, await matmul(p, u, s.w), s.bias)]);
      });
      const fused = maxAbsError(out.subarray(0, rows * OUT), want).err;
      const unfused = maxAbsError(out.subarray(rows * OUT, 2 * rows * OUT), want).err;
      console.log(`folded layerNormOfResidual n = ${n}: y W max abs error ${fused.toExponential(3)} fused, ${unfused.toExponential(3)} unfused`);
      expect(fused).toBeLessThanOrEqual(YW_BOUND);
      expect(unfused).toBeLessThanOrEqual(YW_BOUND);
    }
  });

  it('declared cost equals measured cost; same rounds as with gamma, one product of rows x n fewer in bytes', async () => {
    const [rows, n] = [3, 48];
    const x = fixedInput(rowsWithStd([1, 2, 3], n, 3), [rows, n]);
    const w = fixedInput(randomFloats(n * OUT, -0.25, 0.25, 9), [n, OUT]);
    const residual = fixedInput(rowsWithStd([1, 2, 3], n, 4), [rows, n], 36);
    const pairs: Array<[string, (p: Party, s: Record<string, AShare>) => Promise<unknown>, ReturnType<typeof layerNormCost>, ReturnType<typeof layerNormCost>]> = [
      ['layerNorm', (p, s) => layerNorm(p, s.x, null, null, 1e-5), layerNormCost(rows, n, 1e-5, NO_SCALE), layerNormCost(rows, n, 1e-5)],
      ['layerNorm, gamma into the lanes', (p, s) => layerNorm(p, s.x, null, null, 1e-5, { laneProducts: Infinity }), layerNormCost(rows, n, 1e-5, { laneProducts: Infinity, noScale: true }), layerNormCost(rows, n, 1e-5, { laneProducts: Infinity })],
      ['rmsNorm', (p, s) => rmsNorm(p, s.x, null, 1e-6), rmsNormCost(rows, n, 1e-6, NO_SCALE), rmsNormCost(rows, n, 1e-6)],
      ['layerNormMatmul', (p, s) => layerNormMatmul(p, s.x, null, null, 1e-5, mmOf(s.w)), layerNormMatmulCost(rows, n, 1e-5, OUT, false, NO_SCALE, 18, false), layerNormMatmulCost(rows, n, 1e-5, OUT, false, {}, 18, false)],
      ['layerNormMatmul keeping y', (p, s) => layerNormMatmul(p, s.x, null, null, 1e-5, mmOf(s.w, true)), layerNormMatmulCost(rows, n, 1e-5, OUT, true, NO_SCALE, 18, false), layerNormMatmulCost(rows, n, 1e-5, OUT, true, {}, 18, false)],
      ['rmsNormMatmul', (p, s) => rmsNormMatmul(p, s.x, null, 1e-6, mmOf(s.w)), rmsNormMatmulCost(rows, n, 1e-6, OUT, false, NO_SCALE), rmsNormMatmulCost(rows, n, 1e-6, OUT)],
      ['layerNormOfResidual', (p, s) => layerNormOfResidual(p, sumOf(p, s.x, s.r), null, null, 1e-5), layerNormOfResidualCost(rows, n, 1e-5, NO_SCALE), layerNormOfResidualCost(rows, n, 1e-5)],
      ['layerNormOfResidualMatmul', (p, s) => layerNormOfResidualMatmul(p, sumOf(p, s.x, s.r), null, null, 1e-5, mmOf(s.w)), layerNormOfResidualMatmulCost(rows, n, 1e-5, OUT, false, NO_SCALE, 18, false), layerNormOfResidualMatmulCost(rows, n, 1e-5, OUT, false, {}, 18, false)],
    ];
    for (const [name, op, cost, withGamma] of pairs) {
      expectCost(await measureOp({ x, w, r: residual }, op), cost);
      expect(cost.rounds, name).toBe(withGamma.rounds);
      expect(cost.bytes[0], name).toBeLessThan(withGamma.bytes[0]);
    }
  });

  it('a norm planned without gamma refuses one, and the fused path refuses a beta without gamma', async () => {
    const n = 8;
    const inputs = { x: fixedInput(rowsWithStd([1, 2], n, 5), [2, n]), g: fixedInput(new Array(n).fill(1)), be: fixedInput(new Array(n).fill(0.5)), w: fixedInput(randomFloats(n * OUT, -0.25, 0.25, 6), [n, OUT]) };
    await expect(runWithInputs(inputs, (p, s) => rmsNorm(p, s.x, s.g, 1e-6, NO_SCALE))).rejects.toThrow('norm: a norm planned without gamma (noScale) was given one');
    await expect(runWithInputs(inputs, (p, s) => layerNormMatmul(p, s.x, null, s.be, 1e-5, mmOf(s.w)))).rejects.toThrow('norm matmul: a norm without gamma has its beta folded into the product too');
  });
});
