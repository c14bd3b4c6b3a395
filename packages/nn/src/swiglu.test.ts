import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp } from '@puma/protocol/test-support';
import { swiglu, swigluCost } from './swiglu.ts';
import { silu as siluRef } from './reference.ts';
import { linspace, quantize, runNn } from './test-support.ts';
import { gatedByTables, SELECT_BAND } from './piecewise.ts';
import { SILU } from './coefficients.ts';
import { evenPiecesCost } from './even.ts';

/** The declared cost of SiLU's pieces (its two bands' polynomials) on n elements. */
const SILU_PIECES = (n: number) => evenPiecesCost(n, SILU);
/** A size at which the gated selection compares by the circuit. */
const CIRCUIT_SIZE = 2048;

describe('swiglu', () => {
  it('silu(gate) * up within 2e-4 |up| + 2e-5 for gate in [-16, 16] and +-1000', async () => {
    const band = [-12, -5, 5, 12].flatMap((t) => Array.from(linspace(t, t + SELECT_BAND, 9)));
    const g = new Float64Array([...linspace(-16, 16, 3201), 8, -8, ...band, 1000, -1000]);
    const u = Float64Array.from(g, (_, i) => ((i * 7919) % 201) / 25 - 4);
    const got = await runNn({ g: { values: g }, u: { values: u } }, (p, s) => swiglu(p, s.g, s.u));
    const gq = quantize(g);
    const uq = quantize(u);
    let worst = 0;
    for (let i = 0; i < g.length; i++) {
      const err = Math.abs(got[i] - siluRef(gq[i]) * uq[i]);
      worst = Math.max(worst, (err - 2e-5) / Math.max(Math.abs(uq[i]), 1e-9));
      expect(err).toBeLessThanOrEqual(2e-4 * Math.abs(uq[i]) + 2e-5);
    }
    console.log(`swiglu: error within ${worst.toExponential(2)} |up| + 2e-5`);
  });

  it('declared cost equals measured cost; 7 rounds with the comparisons by tables (800: 3200 bit-times-value products, rotating dealers), 10 by the circuit', async () => {
    for (const n of [1, 70, 800]) {
      const inputs = { x: fixedInput(linspace(-9, 9, n)), u: fixedInput(linspace(-2, 2, n)) };
      expectCost(await measureOp(inputs, (p, s) => swiglu(p, s.x, s.u)), swigluCost(n));
    }
    // stories260K's decoding step (172 gates): the tables' extra bytes and CPU cost less than three LAN rounds;
    // not from about 1,600 gates on (its 16-token prompt, LLaMA-7B's 11,008 a step).
    for (const n of [1, 172, 512, 1024]) {
      expect(gatedByTables(n, 4, SILU_PIECES(n))).toBe(true);
      expect(swigluCost(n).rounds).toBe(7);
    }
    // Bytes per gate at 172 (party 0 deals every chunk of a call this small).
    expect(swigluCost(172).bytes.map((b) => Math.round((10 * b) / 172) / 10)).toEqual([714.5, 182.1, 182.1]);
    for (const n of [CIRCUIT_SIZE, 2752, 11_008, 88_064]) {
      expect(gatedByTables(n, 4, SILU_PIECES(n))).toBe(false);
      expect(swigluCost(n).rounds).toBe(10);
    }
  });

  it('by the circuit at a size that takes it: declared equals measured, and the result within the same bound', async () => {
    const n = CIRCUIT_SIZE;
    const g = linspace(-13, 13, n);
    const u = Float64Array.from(g, (_, i) => ((i * 7919) % 201) / 25 - 4);
    const inputs = { x: fixedInput(g), u: fixedInput(u) };
    expectCost(await measureOp(inputs, (p, s) => swiglu(p, s.x, s.u)), swigluCost(n));
    const got = await runNn({ g: { values: g }, u: { values: u } }, (p, s) => swiglu(p, s.g, s.u));
    const gq = quantize(g);
    const uq = quantize(u);
    for (let i = 0; i < n; i += 97) expect(Math.abs(got[i] - siluRef(gq[i]) * uq[i])).toBeLessThanOrEqual(2e-4 * Math.abs(uq[i]) + 2e-5);
  }, 60_000);

  it('rejects mismatched shapes', async () => {
    await expect(runNn({ g: { values: [1, 2] }, u: { values: [1, 2, 3] } }, (p, s) => swiglu(p, s.g, s.u))).rejects.toThrow(/differ/);
  });
});
