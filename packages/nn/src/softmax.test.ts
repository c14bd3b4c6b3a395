import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp, randomFloats } from '@puma/protocol/test-support';
import { softmaxCost, softmaxLast } from './softmax.ts';
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
