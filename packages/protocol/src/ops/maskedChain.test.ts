import { describe, expect, it } from 'vitest';
import type { Party } from '../party.ts';
import type { AShare, BShare } from '../share.ts';
import { ROTATE_FROM } from '../dealers.ts';
import { expectCost, measureOp, randomFloats, runWithInputs, termOf } from '../test-support.ts';
import { bitWords, maskedChain, maskedChainCost, maskedChainFinish, maskedChainLevels, type ChainProgram } from './maskedChain.ts';
import { msb } from './msb.ts';
import { revealRaw } from './reveal.ts';

const u = (v: bigint) => BigInt.asUintN(64, v);
const s = (v: bigint) => BigInt.asIntN(64, v);
const ints = (n: number, lo: number, hi: number, seed: number) => BigUint64Array.from(randomFloats(n, lo, hi, seed), (v) => u(BigInt(Math.round(v))));


/**
 * Exact gates only (bits 0), so every output is an exact ring value: level 0 multiplies input forms with
 * constants and per-element coefficients and adds a term; level 1 squares an atom plus a constant, multiplies two
 * atoms and adds an input; outputs mix atoms, inputs and constants.
 */
function exactProgram(n: number): { program: ChainProgram; expect: (x: bigint, y: bigint, i: number) => bigint[]; coef: BigUint64Array } {
  const coef = BigUint64Array.from({ length: n }, (_, i) => u(BigInt(i % 7) - 3n));
  const program: ChainProgram = {
    levels: [
      [
        { products: [[{ inputs: [[0, 1n]] }, { inputs: [[1, coef]], constant: 5n }]], addend: { inputs: [[0, 3n]], constant: -2n }, bits: 0 },
        { addend: { inputs: [[1, 1n]] }, terms: [0], bits: 0 },
      ],
      [
        { products: [[{ atoms: [[0, 1n]], constant: 4n }, { atoms: [[0, 1n]] }], [{ atoms: [[0, 2n]] }, { atoms: [[1, coef]] }]], addend: { inputs: [[1, -1n]], atoms: [[1, 7n]] }, bits: 0 },
      ],
    ],
    outputs: [{ atoms: [[2, 1n]] }, { atoms: [[0, 1n], [1, -1n]], inputs: [[0, 2n]], constant: 9n }],
  };
  const expectFor = (x: bigint, y: bigint, i: number): bigint[] => {
    const k = s(coef[i]);
    const a0 = x * (k * y + 5n) + 3n * x - 2n;
    const a1 = y + x; // term 0 is x's
    const a2 = (a0 + 4n) * a0 + 2n * a0 * (k * a1) - y + 7n * a1;
    return [u(a2), u(a0 - a1 + 2n * x + 9n)];
  };
  return { program, expect: expectFor, coef };
}

async function runExact(n: number) {
  const { program, expect: want } = exactProgram(n);
  const xs = ints(n, -3000, 3000, 3);
  const ys = ints(n, -3000, 3000, 4);
  const run = await runWithInputs({ x: { values: xs, shape: [n] }, y: { values: ys, shape: [n] } }, async (p, v) => {
    const outs = await maskedChain(p, program, [v.x, v.y], [termOf(p, v.x)]);
    return Promise.all(outs.map((o) => revealRaw(p, o)));
  });
  const [o0, o1] = run.results[0];
  for (let i = 0; i < n; i++) {
    const [w0, w1] = want(s(xs[i]), s(ys[i]), i);
    expect(o0[i], `output 0 at ${i}`).toBe(w0);
    expect(o1[i], `output 1 at ${i}`).toBe(w1);
  }
}

describe('maskedChain (one round per multiply-and-truncate level)', () => {
  it('exact gates give exact ring values: products of input forms, terms, atom products, inputs in later addends, mixed outputs', async () => {
    await runExact(50);
  });

  it(`the same with dealers rotating (n = ${ROTATE_FROM + 5}: three chunks)`, async () => {
    await runExact(ROTATE_FROM + 5);
  });

  it('truncating gates: a degree-4 polynomial in fixed point matches float64 within 1e-5 (2.6 ulps of the 18-bit output) on [-1, 1], one level per product', async () => {
    // v at 21 bits; level 0: v (exact) and v^2 / 2^21; level 1: P(v) = [a0 + a1 v + a2 v^2] + v^2 [a3 v + a4 v^2] at 60 bits, to 18.
    const a = [0.7, -1.3, 0.45, 0.9, -0.35];
    const W = 21;
    const fx = (x: number, b: number) => u(BigInt(Math.round(x * 2 ** b)));
    const program: ChainProgram = {
      levels: [
        [{ addend: { inputs: [[0, 1n]] }, bits: 0 }, { products: [[{ inputs: [[0, 1n]] }, { inputs: [[0, 1n]] }]], bits: W }],
        [{
          products: [[{ atoms: [[1, 1n]] }, { atoms: [[0, fx(a[3], 60 - 2 * W)], [1, fx(a[4], 60 - 2 * W)]] }]],
          addend: { atoms: [[0, fx(a[1], 60 - W)], [1, fx(a[2], 60 - W)]], constant: fx(a[0], 60) },
          bits: 42,
        }],
      ],
      outputs: [{ atoms: [[2, 1n]] }],
    };
    const n = 400;
    const vs = randomFloats(n, -1, 1, 9);
    const run = await runWithInputs({ v: { values: BigUint64Array.from(vs, (v) => fx(v, W)), shape: [n] } }, async (p, x) => revealRaw(p, (await maskedChain(p, program, [x.v]))[0]));
    let worst = 0;
    run.results[0].forEach((raw, i) => {
      const v = Math.round(vs[i] * 2 ** W) / 2 ** W;
      const want = a.reduce((t, c, k) => t + c * v ** k, 0);
      worst = Math.max(worst, Math.abs(Number(s(raw)) / 2 ** 18 - want));
    });
    expect(worst).toBeLessThan(1e-5);
  });

  it('two atoms truncated by 40 bits each: their T components\' product (2^46 msb msb) is dealt and the exact product comes out right to the truncations\' ulps', async () => {
    const n = 300;
    const xs = ints(n, -(2 ** 52), 2 ** 52, 5);
    const ys = ints(n, -(2 ** 52), 2 ** 52, 6);
    const program: ChainProgram = {
      levels: [
        [{ addend: { inputs: [[0, 1n]] }, bits: 40 }, { addend: { inputs: [[1, 1n]] }, bits: 40 }],
        [{ products: [[{ atoms: [[0, 1n]] }, { atoms: [[1, 1n]] }]], bits: 0 }],
      ],
      outputs: [{ atoms: [[2, 1n]] }],
    };
    const run = await runWithInputs({ x: { values: xs, shape: [n] }, y: { values: ys, shape: [n] } }, async (p, v) => revealRaw(p, (await maskedChain(p, program, [v.x, v.y]))[0]));
    run.results[0].forEach((got, i) => {
      const [fx, fy] = [s(xs[i]) >> 40n, s(ys[i]) >> 40n];
      const ok = [0n, 1n].some((ex) => [0n, 1n].some((ey) => u((fx + ex) * (fy + ey)) === got));
      expect(ok, `element ${i}: ${s(got)} is not (${fx} + {0,1})(${fy} + {0,1})`).toBe(true);
    });
  });

  it('declared cost equals measured cost, one dealer and rotated', async () => {
    for (const n of [1, 64, ROTATE_FROM + 1]) {
      const { program } = exactProgram(n);
      const inputs = { x: { values: ints(n, -9, 9, 1), shape: [n] }, y: { values: ints(n, -9, 9, 2), shape: [n] } };
      const measured = await measureOp(inputs, (p, v) => maskedChain(p, program, [v.x, v.y], [termOf(p, v.x)]), async () => undefined);
      expectCost(measured, maskedChainCost(n, program));
      expect(measured.rounds).toBe(3);
    }
  });

  it('a selection by bits: each output times its element\'s bit (t from D, c from A and B), exact, one round more', async () => {
    // Outputs over atoms and constants: atom 2 of the exact program, and atom 0 - atom 1 + 9.
    for (const n of [40, ROTATE_FROM + 2]) {
      const { program: full, expect: want, coef } = exactProgram(n);
      const program: ChainProgram = { levels: full.levels, outputs: [{ atoms: [[2, 1n]] }, { atoms: [[0, 1n], [1, -1n]], constant: 9n }] };
      const xs = ints(n, -3000, 3000, 3);
      const ys = ints(n, -3000, 3000, 4);
      const zs = ints(n, -5, 5, 8);
      const inputs = { x: { values: xs, shape: [n] }, y: { values: ys, shape: [n] }, z: { values: zs, shape: [n] } };
      const op = async (p: Party, v: Record<string, AShare>) => maskedChainFinish(p, await maskedChainLevels(p, program, [v.x, v.y], [termOf(p, v.x)]), bitWords(p, await msb(p, v.z)));
      const run = await runWithInputs(inputs, async (p, v) => Promise.all((await op(p, v)).map((o) => revealRaw(p, o))));
      const [o0, o1] = run.results[0];
      for (let i = 0; i < n; i++) {
        const bit = s(zs[i]) < 0n ? 1n : 0n;
        const [w0] = want(s(xs[i]), s(ys[i]), i);
        const [x, y, k] = [s(xs[i]), s(ys[i]), s(coef[i])];
        const a0 = x * (k * y + 5n) + 3n * x - 2n;
        expect(o0[i], `output 0 at ${i}`).toBe(u(bit * s(w0)));
        expect(o1[i], `output 1 at ${i}`).toBe(u(bit * (a0 - (y + x) + 9n)));
      }
    }
    const { program } = exactProgram(64);
    expect(maskedChainCost(64, program, true).rounds).toBe(maskedChainCost(64, program).rounds + 1);
  });

  it('the selection\'s declared cost equals the measured (bits made before the measured span)', async () => {
    for (const n of [33, ROTATE_FROM + 1]) {
      const { program: full } = exactProgram(n);
      const program: ChainProgram = { levels: full.levels, outputs: [{ atoms: [[2, 1n]] }] };
      const inputs = { x: { values: ints(n, -9, 9, 1), shape: [n] }, y: { values: ints(n, -9, 9, 2), shape: [n] } };
      const measured = await measureOp(inputs, async (p, v, bits: BShare) => maskedChainFinish(p, await maskedChainLevels(p, program, [v.x, v.y], [termOf(p, v.x)]), bitWords(p, bits)), (p, v) => msb(p, v.y));
      expectCost(measured, maskedChainCost(n, program, true));
    }
  });

  it('refuses malformed programs with the problem named', async () => {
    const one = { x: { values: ints(4, -9, 9, 1), shape: [4] } };
    const tryProgram = (program: ChainProgram) => runWithInputs(one, (p, v) => maskedChain(p, program, [v.x]));
    const out = [{ atoms: [[0, 1n]] as [number, bigint][] }];
    await expect(tryProgram({ levels: [[{ products: [[{ atoms: [[0, 1n]] }, { inputs: [[0, 1n]] }]], bits: 0 }]], outputs: out })).rejects.toThrow(/level-0 products take replicated inputs only/);
    await expect(tryProgram({ levels: [[{ addend: { inputs: [[0, 1n]] }, bits: 0 }], [{ products: [[{ inputs: [[0, 1n]] }, { atoms: [[0, 1n]] }]], bits: 0 }]], outputs: out })).rejects.toThrow(/inputs enter products only at level 0/);
    await expect(tryProgram({ levels: [[{ addend: { inputs: [[0, 1n]] }, bits: 62 }]], outputs: out })).rejects.toThrow(/truncates by 62 bits/);
    await expect(tryProgram({ levels: [[{ addend: { inputs: [[0, new BigUint64Array(3)]] }, bits: 0 }]], outputs: out })).rejects.toThrow(/coefficient vector of 3 words for 4 elements/);
    await expect(tryProgram({ levels: [[{ addend: { inputs: [[0, 1n]] }, bits: 0 }], [{ addend: { atoms: [[1, 1n]] }, bits: 0 }]], outputs: out })).rejects.toThrow(/names atom 1, and only atoms 0..0 exist/);
    await expect(tryProgram({ levels: [[{ addend: { inputs: [[0, 1n]] }, bits: 0 }], [{ terms: [0], bits: 0 }]], outputs: out })).rejects.toThrow(/only level 0 takes/);
    await expect(tryProgram({ levels: [], outputs: out })).rejects.toThrow(/at least one level/);
    await expect(tryProgram({ levels: [[{ addend: { inputs: [[0, 1n]] }, bits: 0 }]], outputs: [] })).rejects.toThrow(/no outputs/);
    await expect(runWithInputs(one, (p, v) => maskedChain(p, { levels: [[{ bits: 0 }]], outputs: out }, [v.x], [p.backend.zeros(3)]))).rejects.toThrow(/every input and term must have 4 elements/);
    const withInput: ChainProgram = { levels: [[{ addend: { inputs: [[0, 1n]] }, bits: 0 }]], outputs: [{ atoms: [[0, 1n]], inputs: [[0, 1n]] }] };
    await expect(runWithInputs(one, async (p, v) => maskedChainFinish(p, await maskedChainLevels(p, withInput, [v.x]), bitWords(p, await msb(p, v.x))))).rejects.toThrow(/outputs times bits name atoms and constants only/);
  });
});
