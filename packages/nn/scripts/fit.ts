/**
 * Fits the polynomial coefficients used by packages/nn and prints packages/nn/src/coefficients.ts:
 *   npx tsx packages/nn/scripts/fit.ts > packages/nn/src/coefficients.ts
 *
 * Method: weighted minimax by Lawson's iteratively reweighted least squares, in the Chebyshev basis of a
 * variable mapped onto [-1, 1] (well conditioned in float64), then converted to monomials of the variable the
 * MPC code evaluates. An endpoint constraint, where one is needed, is imposed by eliminating c0 (every T_k(1) = 1).
 * Each fit's float64 max error over its domain goes to stderr, so the comment in coefficients.ts can be checked.
 */
import { gelu, geluTanh, silu } from '../src/reference.ts';

type Poly = number[];

function solve(m: number[][], b: number[]): number[] {
  const n = b.length;
  const a = m.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[piv][c])) piv = r;
    [a[c], a[piv]] = [a[piv], a[c]];
    for (let r = c + 1; r < n; r++) {
      const f = a[r][c] / a[c][c];
      for (let k = c; k <= n; k++) a[r][k] -= f * a[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = a[r][n];
    for (let k = r + 1; k < n; k++) s -= a[r][k] * x[k];
    x[r] = s / a[r][r];
  }
  return x;
}

function chebValues(t: number, d: number): number[] {
  const out = [1, t];
  for (let k = 2; k <= d; k++) out.push(2 * t * out[k - 1] - out[k - 2]);
  return out.slice(0, d + 1);
}

interface FitSpec {
  /** Sample points in the function's own variable. */
  xs: number[];
  /** Chebyshev variable in [-1, 1] of a sample point. */
  t: (x: number) => number;
  target: (x: number) => number;
  /** Error weight (1 for absolute error). */
  weight: (x: number) => number;
  degree: number;
  /** If set, the fitted polynomial equals this value at t = 1. */
  valueAtOne?: number;
}

/** Chebyshev coefficients c_0..c_d of the weighted minimax fit. */
function lawson(s: FitSpec): number[] {
  const rows = s.xs.map((x) => chebValues(s.t(x), s.degree));
  const ys = s.xs.map(s.target);
  const ws = s.xs.map(s.weight);
  const free = s.valueAtOne === undefined ? s.degree + 1 : s.degree;
  const basis = (r: number[]): number[] => (s.valueAtOne === undefined ? r : r.slice(1).map((v) => v - 1));
  const rhs0 = (i: number): number => (s.valueAtOne === undefined ? ys[i] : ys[i] - s.valueAtOne);
  let lw = new Array<number>(s.xs.length).fill(1 / s.xs.length);
  let coef: number[] = [];
  for (let it = 0; it < 400; it++) {
    const m = Array.from({ length: free }, () => new Array<number>(free).fill(0));
    const b = new Array<number>(free).fill(0);
    rows.forEach((r, i) => {
      const a = basis(r);
      const w = lw[i] * ws[i] * ws[i];
      for (let p = 0; p < free; p++) {
        b[p] += w * a[p] * rhs0(i);
        for (let q = 0; q < free; q++) m[p][q] += w * a[p] * a[q];
      }
    });
    const c = solve(m, b);
    coef = s.valueAtOne === undefined ? c : [s.valueAtOne - c.reduce((acc, v) => acc + v, 0), ...c];
    const errs = rows.map((r, i) => Math.abs(r.reduce((acc, v, k) => acc + v * coef[k], 0) - ys[i]) * ws[i]);
    const total = errs.reduce((acc, e, i) => acc + lw[i] * e, 0);
    lw = lw.map((w, i) => (w * errs[i]) / total);
  }
  return coef;
}

function polyMul(a: Poly, b: Poly): Poly {
  const out = new Array<number>(a.length + b.length - 1).fill(0);
  a.forEach((x, i) => b.forEach((y, j) => (out[i + j] += x * y)));
  return out;
}

function polyAdd(a: Poly, b: Poly): Poly {
  return Array.from({ length: Math.max(a.length, b.length) }, (_, i) => (a[i] ?? 0) + (b[i] ?? 0));
}

/** Monomial coefficients in v of sum_k c_k T_k(alpha v + beta). */
function chebToMonomial(c: number[], alpha: number, beta: number): Poly {
  const lin: Poly = [beta, alpha];
  let prev: Poly = [1];
  let cur: Poly = lin;
  let out: Poly = [c[0]];
  for (let k = 1; k < c.length; k++) {
    out = polyAdd(out, cur.map((v) => v * c[k]));
    const next = polyAdd(polyMul(lin, cur).map((v) => 2 * v), prev.map((v) => -v));
    prev = cur;
    cur = next;
  }
  return out;
}

function horner(c: Poly, v: number): number {
  return c.reduceRight((acc, a) => acc * v + a, 0);
}

function grid(lo: number, hi: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

function maxErr(xs: number[], f: (x: number) => number, g: (x: number) => number, rel = false): number {
  return Math.max(...xs.map((x) => Math.abs(f(x) - g(x)) / (rel ? Math.abs(g(x)) : 1)));
}

/** Band variable of even.ts: v = (2x^2 - lo^2 - hi^2) / (hi^2 - lo^2), in [-1, 1] on lo <= |x| <= hi. */
const bandVar = (lo: number, hi: number) => (x: number): number => (2 * x * x - lo * lo - hi * hi) / (hi * hi - lo * lo);

interface Band {
  lo: number;
  hi: number;
  coeffs: Poly;
}

/**
 * 0.5x + E(v) on lo <= |x| <= hi with E(1) = valueAtOne (even.ts). E is even in x, so the one endpoint
 * constraint makes both joints of the band continuous.
 */
function fitEvenBand(f: (x: number) => number, lo: number, hi: number, degree: number, valueAtOne: number, top?: number): Band {
  // A fixed leading coefficient `top`: fit the rest (degree - 1) to what remains.
  const v = bandVar(lo, hi);
  const c = lawson({
    xs: grid(lo, hi, 6000),
    t: v,
    target: (x) => f(x) - 0.5 * x - (top ?? 0) * v(x) ** degree,
    weight: () => 1,
    degree: top === undefined ? degree : degree - 1,
    valueAtOne: valueAtOne - (top ?? 0),
  });
  const m = chebToMonomial(c, 1, 0);
  return { lo, hi, coeffs: top === undefined ? m : [...m, top] };
}

/**
 * Bands with the given outer edges, fitted from the outside in: the outermost meets x at T (E(1) = T/2), each
 * inner band meets the next one's value at their shared edge.
 */
function fitEven(f: (x: number) => number, edges: number[], degree: number, top?: number): Band[] {
  const bands: Band[] = [];
  let meet = edges[edges.length - 1] / 2;
  for (let i = edges.length - 1; i >= 0; i--) {
    const band = fitEvenBand(f, i === 0 ? 0 : edges[i - 1], edges[i], degree, meet, top);
    meet = horner(band.coeffs, -1);
    bands.unshift(band);
  }
  return bands;
}

function evenApprox(bands: Band[]): (x: number) => number {
  const T = bands[bands.length - 1].hi;
  return (x) => {
    if (x < -T) return 0;
    if (x > T) return x;
    const b = bands.find((band) => Math.abs(x) <= band.hi)!;
    return 0.5 * x + horner(b.coeffs, bandVar(b.lo, b.hi)(x));
  };
}

const fmt = (c: Poly): string => `[${c.map((v) => v.toPrecision(17)).join(', ')}]`;
const fmtBands = (b: Band[]): string => `[${b.map((x) => `{ lo: ${x.lo}, hi: ${x.hi}, coeffs: ${fmt(x.coeffs)} }`).join(', ')}]`;
const report: string[] = [];
const wide = grid(-16, 16, 64001);

const GELU_T = 4;
const GELU_DEG = 6;
// GeLU's E runs in Z_2^32 as a composition in w = lambda v whose leading coefficient is -2^-5 (poly32.ts),
// with w = lambda x^2/8 - lambda formed by one product of x and the integer 128 lambda (even.ts): so lambda =
// 151/128 (the free fit's lambda is 1.1816) and E's leading coefficient is fixed at -2^-5 lambda^6 (-0.08423;
// free: -0.08506), at a cost of 1.2e-5 (erf) and 2.7e-5 (tanh) in max error.
const GELU_TOP = -(2 ** -5) * (151 / 128) ** 6;
const geluC = fitEven(gelu, [GELU_T], GELU_DEG, GELU_TOP);
report.push(`gelu (erf): T=${GELU_T} degree ${GELU_DEG} in v, v^6 coefficient -2^-5 (151/128)^6: max abs error on [-16, 16] ${maxErr(wide, evenApprox(geluC), gelu).toExponential(3)}`);
const geluTanhC = fitEven(geluTanh, [GELU_T], GELU_DEG, GELU_TOP);
report.push(`gelu (tanh): max abs error vs gelu_new ${maxErr(wide, evenApprox(geluTanhC), geluTanh).toExponential(3)}; erf fit vs gelu_new ${maxErr(wide, evenApprox(geluC), geluTanh).toExponential(3)}`);

// SiLU's tail x sigmoid(-x) is still 2.7e-3 at 8 (enough to move stories260K's logits by 0.12), 7.4e-5 at 12.
const SILU_EDGES = [5, 12];
const SILU_DEG = 8;
const siluC = fitEven(silu, SILU_EDGES, SILU_DEG);
report.push(`silu: bands |x| <= ${SILU_EDGES.join(', ')}, degree ${SILU_DEG} each: max abs error on [-16, 16] ${maxErr(wide, evenApprox(siluC), silu).toExponential(3)}`);

// tanh(x) = x E(v), v = 2x^2/T^2 - 1, on |x| <= T; -1 below, 1 above; E(1) = 1/T makes it continuous.
// Weight x: the error of x E is x times E's.
const TANH_T = 4;
const TANH_DEG = 8;
const tanhC = chebToMonomial(
  lawson({
    xs: grid(1e-6, TANH_T, 6000),
    t: (x) => (2 * x * x) / (TANH_T * TANH_T) - 1,
    target: (x) => Math.tanh(x) / x,
    weight: (x) => x,
    degree: TANH_DEG,
    valueAtOne: 1 / TANH_T,
  }),
  1,
  0,
);
const tanhApprox = (x: number): number => (x < -TANH_T ? -1 : x > TANH_T ? 1 : x * horner(tanhC, (2 * x * x) / (TANH_T * TANH_T) - 1));
report.push(`tanh: T=${TANH_T} degree ${TANH_DEG}: max abs error on [-16, 16] ${maxErr(wide, tanhApprox, Math.tanh).toExponential(3)}`);

// exp(x) = P(x/8)^8 on [-14, 0]. Weight 8 exp(7x/8): an error d in P moves P^8 by about 8 P^7 d.
const EXP_LO = -14;
const EXP_SQUARINGS = 3;
const EXP_DEG = 4;
const m = 2 ** EXP_SQUARINGS;
const expCheb = lawson({
  xs: grid(EXP_LO, 0, 6000),
  t: (x) => (2 * x) / -EXP_LO + 1,
  target: (x) => Math.exp(x / m),
  weight: (x) => m * Math.exp(((m - 1) * x) / m),
  degree: EXP_DEG,
});
// t = 2x/14 + 1 = (16/14) v + 1 with v = x/8.
const expC = chebToMonomial(expCheb, (2 * m) / -EXP_LO, 1);
const expGrid = grid(EXP_LO, 0, 20001);
report.push(`exp: P^${m}, P of degree ${EXP_DEG} in x/${m}: max abs error on [${EXP_LO}, 0] ${maxErr(expGrid, (x) => horner(expC, x / m) ** m, Math.exp).toExponential(3)}`);

// 1/c and 1/sqrt(c) on c in [0.5, 1] as polynomials of v = 4c - 3 in [-1, 1], relative error.
const INV_DEG = 4;
const cs = grid(0.5, 1, 6000);
const recipC = lawson({ xs: cs, t: (c) => 4 * c - 3, target: (c) => 1 / c, weight: (c) => c, degree: INV_DEG });
const recipM = chebToMonomial(recipC, 1, 0);
report.push(`reciprocal: degree ${INV_DEG} on [0.5, 1]: max relative error ${maxErr(cs, (c) => horner(recipM, 4 * c - 3), (c) => 1 / c, true).toExponential(3)}`);
const rsqrtC = lawson({ xs: cs, t: (c) => 4 * c - 3, target: (c) => 1 / Math.sqrt(c), weight: (c) => Math.sqrt(c), degree: INV_DEG });
const rsqrtM = chebToMonomial(rsqrtC, 1, 0);
report.push(`rsqrt: degree ${INV_DEG} on [0.5, 1]: max relative error ${maxErr(cs, (c) => horner(rsqrtM, 4 * c - 3), (c) => 1 / Math.sqrt(c), true).toExponential(3)}`);

console.error(report.join('\n'));
console.log(`/**
 * Generated by packages/nn/scripts/fit.ts (weighted minimax, Lawson's algorithm in the Chebyshev basis);
 * do not edit by hand. Float64 errors of each fit, as the script reports them:
${report.map((r) => ` *   ${r}`).join('\n')}
 * Monomial coefficients, lowest degree first, of the variable named in each comment.
 */

/** GeLU ~ 0.5x + E(v), v = 2x^2/T^2 - 1, for |x| <= T; 0 below -T, x above T (one band of even.ts). */
export const GELU_ERF = { bands: ${fmtBands(geluC)} } as const;

/** GPT-2's gelu_new (tanh form), same structure as GELU_ERF, fitted to the tanh formula itself. */
export const GELU_TANH = { bands: ${fmtBands(geluTanhC)} } as const;

/** SiLU ~ 0.5x + E_b(v_b) on two bands of |x| (even.ts); 0 below -T, x above T = the last band's hi. */
export const SILU = { bands: ${fmtBands(siluC)} } as const;

/** tanh(x) ~ x E(v), v = 2x^2/T^2 - 1, for |x| <= T; -1 below -T, 1 above T. */
export const TANH = { T: ${TANH_T}, coeffs: ${fmt(tanhC)} } as const;

/** exp(x) ~ P(x / 2^squarings)^(2^squarings) on [lo, 0]; masked to 0 below lo. */
export const EXP = { lo: ${EXP_LO}, squarings: ${EXP_SQUARINGS}, coeffs: ${fmt(expC)} } as const;

/** 1/c ~ Q(v), v = 4c - 3, for c in [0.5, 1]. */
export const RECIPROCAL = { coeffs: ${fmt(recipM)} } as const;

/** 1/sqrt(c) ~ Q(v), v = 4c - 3, for c in [0.5, 1]. */
export const RSQRT = { coeffs: ${fmt(rsqrtM)} } as const;
`);
