import { describe, expect, it } from 'vitest';
import { encodeInts } from '@puma/ring';
import { expectCost, measureOp, randomFloats, runWithInputs, termOf } from '../test-support.ts';
import { ROTATE_FROM } from '../dealers.ts';
import { reshare } from './mul.ts';
import { revealRaw } from './reveal.ts';
import { truncateProductCost } from './truncate.ts';
import { truncateCloseSquares, truncateOpenSquares, truncateSquaresCloseCost, truncateSquaresCost, truncateSquaresOpenCost, type SquaresOpening } from './truncateSquares.ts';

/** Raw words of shape [rows, cols]: each row's values up to `mag` in magnitude (fixed point at 2f, say). */
function rawRows(rows: number, cols: number, mag: number, seed: number) {
  const xs = Array.from(randomFloats(rows * cols, -mag, mag, seed), Math.round);
  return { xs, input: { values: encodeInts(xs), shape: [rows, cols] } };
}

/** The result and the rows' sums of squares, both opened (the squares' term reshared first, as a norm does). */
async function openBoth(input: { values: BigUint64Array; shape: readonly number[] }, d: number) {
  const run = await runWithInputs({ x: input }, async (p, s) => {
    const o = await truncateOpenSquares(p, termOf(p, s.x), s.x.shape, d);
    const squares = await reshare(p, o.squares.z, o.squares.shape, o.squares.tag);
    const x = await truncateCloseSquares(p, o);
    return [await revealRaw(p, x), await revealRaw(p, squares)];
  });
  return { x: run.results[0][0], squares: run.results[0][1] };
}

describe('truncateSquares (a dealer truncation that also gives the rows\' sums of squares after its first round)', () => {
  it(`floor(z / 2^d) + {0, 1}, and each row's sum of the result's squares exactly (mod 2^64), below and above ROTATE_FROM = ${ROTATE_FROM} (rotated dealers)`, async () => {
    for (const [rows, cols, d] of [[3, 5, 18], [2, 7, 1], [64, 50, 18], [1, 4096, 30]] as const) {
      const { xs, input } = rawRows(rows, cols, 2 ** 45, rows + cols);
      // Two extremes: |z| up to 2^61 (|result| up to 2^43 at d = 18; squares wrap the ring, compared mod 2^64).
      const zs = xs.map(BigInt);
      zs[0] = (1n << 61n) - (1n << 20n);
      zs[1] = -(1n << 61n);
      const words = BigUint64Array.from(zs, (v) => BigInt.asUintN(64, v));
      const { x, squares } = await openBoth({ values: words, shape: input.shape }, d);
      for (let j = 0; j < rows * cols; j++) {
        const diff = BigInt.asIntN(64, x[j]) - (zs[j] >> BigInt(d));
        expect(diff === 0n || diff === 1n, `[${rows}, ${cols}] d = ${d}, element ${j}`).toBe(true);
      }
      for (let r = 0; r < rows; r++) {
        let want = 0n;
        for (let c = 0; c < cols; c++) want += BigInt.asIntN(64, x[r * cols + c]) ** 2n;
        expect(squares[r], `row ${r}`).toBe(BigInt.asUintN(64, want));
      }
    }
  });

  it('declared cost equals measured, each round on its own; D sends two words more per element than truncateProduct', async () => {
    for (const [rows, cols] of [[1, 6], [4, 16], [32, 100]] as const) {
      const n = rows * cols;
      const { input } = rawRows(rows, cols, 2 ** 40, n);
      expectCost(await measureOp({ x: input }, async (p, s) => truncateCloseSquares(p, await truncateOpenSquares(p, termOf(p, s.x), s.x.shape))), truncateSquaresCost(n));
      expectCost(await measureOp({ x: input }, (p, s) => truncateOpenSquares(p, termOf(p, s.x), s.x.shape)), truncateSquaresOpenCost(n));
      expectCost(await measureOp<SquaresOpening>({ x: input }, (p, _s, opened) => truncateCloseSquares(p, opened), (p, s) => truncateOpenSquares(p, termOf(p, s.x), s.x.shape)), truncateSquaresCloseCost(n));
      const plain = truncateProductCost(n);
      expect(truncateSquaresCost(n).rounds).toBe(plain.rounds);
      expect(truncateSquaresCost(n).bytes.reduce((a, b) => a + b, 0) - plain.bytes.reduce((a, b) => a + b, 0)).toBe(2 * n * 8);
    }
  });

  it('refuses a shape without a last axis and shifts out of range, by name', async () => {
    const { input } = rawRows(1, 4, 100, 1);
    await expect(runWithInputs({ x: input }, (p, s) => truncateOpenSquares(p, termOf(p, s.x), [], 18))).rejects.toThrow(/truncateSquares: needs a non-empty last axis/);
    await expect(runWithInputs({ x: input }, (p, s) => truncateOpenSquares(p, termOf(p, s.x), s.x.shape, 62))).rejects.toThrow(/out of range/);
  });
});
