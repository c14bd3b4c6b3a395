import { describe, expect, it } from 'vitest';
import { decodeFixed, encodeFixed } from '@puma/ring';
import { revealRaw } from '@puma/protocol';
import { expectCost, measureOp, runWithInputs } from '@puma/protocol/test-support';
import { GELU_ERF_32, GELU_TANH_32 } from './gelu.ts';
import { composeSextic, sextic32Cost, sextic32Eval, sextic32Plan } from './poly32.ts';
import { linspace, quantize } from './test-support.ts';

const FITS = { erf: GELU_ERF_32.bands[0], tanh: GELU_TANH_32.bands[0] };
const E = FITS.erf.coeffs;
const FREE = FITS.erf.ring32!;
const evalMono = (a: readonly number[], v: number) => a.reduce((s, c, i) => s + c * v ** i, 0);

function composed(c: ReturnType<typeof composeSextic>, v: number): number {
  const w = c.lambda * v;
  const Y = w * w + c.sigma * w + c.tau;
  const Z = w * Y + c.mu * Y + c.nu * w + c.rho;
  return c.sign * 2 ** c.k * Z * Z + c.alpha * Z + c.beta * Y + c.gamma * w + c.delta;
}

describe('degree-6 polynomial in Z_2^32 (poly32)', () => {
  it('the composition is the polynomial: within 1e-12 on [-1, 1] (float64), exact and rounded forms', () => {
    const c = composeSextic(E, FREE);
    const plan = sextic32Plan(E, FREE, 2);
    let exact = 0;
    let rounded = 0;
    for (const v of linspace(-1, 1, 2001)) {
      exact = Math.max(exact, Math.abs(composed(c, v) - evalMono(E, v)));
      rounded = Math.max(rounded, Math.abs(composed(plan.c, v) - evalMono(E, v)));
    }
    expect(exact).toBeLessThan(1e-12);
    // Rounding Y's and Z's coefficients moves only degrees 4 and 5, by about 2^-5 * 2^-13.
    expect(rounded).toBeLessThan(2e-5);
    expect([plan.wBits, plan.yBits, plan.zBits, plan.pi]).toEqual([14, 14, 11, 27]);
  });

  it.each(Object.entries(FITS))('GeLU\'s E (%s fit) plus 0.5 x on v in [-1, 1] (x = 4 sqrt((v + 1) / 2)): within 4e-4 of float64', async (name, fit) => {
    const n = 4001;
    const v = linspace(-1, 1, n);
    const x = quantize(Array.from(v, (t) => 4 * Math.sqrt((t + 1) / 2)));
    const plan = sextic32Plan(fit.coeffs, fit.ring32!, 2);
    const w = Array.from(v, (t) => plan.c.lambda * t);
    const run = await runWithInputs({ w: { values: encodeFixed(w, plan.wBits), shape: [n] }, x: { values: encodeFixed(x, 18), shape: [n] } }, async (p, s) => revealRaw(p, await sextic32Eval(p, s.w, plan, 18, { x: s.x, scale: 18, factor: 0.5 })));
    const got = decodeFixed(run.results[0], 18);
    let err = 0;
    let at = 0;
    for (let i = 0; i < n; i++) {
      // The exact input is the encoded w (at wBits), so compare against E at that v.
      const vq = Math.round(w[i] * 2 ** plan.wBits) / 2 ** plan.wBits / plan.c.lambda;
      const e = Math.abs(got[i] - (evalMono(fit.coeffs, vq) + 0.5 * x[i]));
      if (e > err) [err, at] = [e, i];
    }
    console.log(`poly32 GeLU (${name}) E max abs error ${err.toExponential(3)} at v = ${v[at]}`);
    // Worst case: about 1.7e-4 from the stochastic roundings of Y and Z (one ulp each times the output's
    // sensitivity, poly32.ts) plus 2e-4 from beta and gamma rounded to 13 bits; measured 1.4e-4 to 2.2e-4.
    expect(err).toBeLessThan(4e-4);
  });

  it('declared cost equals measured cost (6 rounds; 32-bit lanes)', async () => {
    const plan = sextic32Plan(E, FREE, 2);
    for (const n of [1, 333, 3073]) {
      const w = { values: encodeFixed(linspace(-1, 1, n), plan.wBits), shape: [n] };
      expectCost(await measureOp({ w }, (p, s) => sextic32Eval(p, s.w, plan, 18)), sextic32Cost(n));
    }
    expect(sextic32Cost(3 * 4096).bytes.map((b) => b / (3 * 4096))).toEqual([112 / 3, 112 / 3, 112 / 3]);
  });

  it('rejects polynomials of another degree and an output scale above the last sum\'s', async () => {
    expect(() => composeSextic([1, 2, 3], FREE)).toThrow(/degree-6/);
    const plan = sextic32Plan(E, FREE, 2);
    const w = { values: encodeFixed([0], plan.wBits), shape: [1] };
    await expect(runWithInputs({ w }, (p, s) => sextic32Eval(p, s.w, plan, 27))).rejects.toThrow(/output scale 27/);
  });
});
