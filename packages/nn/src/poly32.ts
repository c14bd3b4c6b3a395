/**
 * A degree-6 polynomial E(v), |v| <= 1, evaluated with its three product levels in Z_2^32 (issue 12, "a two-ring
 * pipeline"; ring casting as in Ditto, ICML 2024, and Nimbus, NeurIPS 2024): half the bytes of poly.ts's
 * Z_2^64 levels, the same 2 rounds per level.
 *
 * Why a composition: a product in Z_2^32 holds about 29 bits, so its operands' fraction bits must sum to
 * about 27 (the sum must stay below 2^30, truncateRing.ts). poly.ts multiplies powers by a bracket that carries
 * its coefficients as integers (coefficient bits on top of two powers' bits): in 32 bits either the powers
 * or the coefficients would keep only 7-9 bits. Here every product multiplies coefficient-free shares and
 * the coefficients only enter as addends (a coefficient times a share at scale S has S bits of precision):
 *   w = lambda v                      (lambda = (|b6| / 2^-k)^(1/6), so that E's leading coefficient in w is +-2^k)
 *   Y = w^2 + sigma w + tau                                         level 1: w * w
 *   Z = w Y + mu Y + nu w + rho       (= w^3 + p w^2 + q w + r)     level 2: w * Y
 *   E = s Z^2 + alpha Z + beta Y + gamma w + delta,  s = +-2^k      level 3: Z * Z, result lifted to Z_2^64
 * Given E's coefficients b_i in w: p = b5 / 2s, q = (b4 / s - p^2) / 2, and for any free sigma, tau, r the
 * rest follow (composeSextic); the free values are chosen per fit (gelu.ts) for a small fixed-point error.
 * Y's and Z's coefficients are rounded to the scales they are applied at and alpha..delta solved again for
 * the rounded ones (degrees 0-3 stay exact). Scales: each level's sum is kept below 2^30 / 1.05 (the 32-bit
 * precondition with 5% to spare) using exact bounds of |Y| and |Z| over |w| <= 1.01 lambda (cubics: endpoints
 * and critical points), which fixes w, Y and Z's fraction bits; the last sum (E plus an addend such as
 * 0.5 x) sits at pi bits with M 2^pi below the same limit, M bounding |E| + |addend|.
 * The caller supplies w (sextic32Plan gives lambda and w's fraction bits) as a share of Z_2^32 or Z_2^64.
 * Error: stochastic rounding of w, Y and Z at 14/14/11 bits for GeLU (2^-11 of Z is amplified by
 * |2 s Z + alpha|), alpha..gamma rounded to pi minus their share's bits (13 for beta and gamma: up to 2e-4),
 * 1 ulp of the output. For GeLU's fits, from an exact w: worst case about 3.7e-4, measured 1.4e-4 to 2.2e-4
 * against the float64 polynomial (poly32.test.ts asserts 4e-4; 1.3e-4 to 1.9e-4 before the fits' v^6
 * coefficient was fixed for even.ts's one-round w); w's own rounding at 14 bits adds up to 1.5 * 2^-14 |dE/dw|
 * (even.ts's local downcast: within 1.5 ulps).
 * Outside |v| <= 1 the result is garbage (the level sums leave the 32-bit range); callers select it away.
 * Cost (sextic32Cost): 6 rounds; per element truncateRing 32 -> 32 twice and 32 -> 64 once, about
 * 10.7 + 10.7 + 16 = 37.3 bytes per party (poly.ts: 64).
 */
import { add, mulPublicInt, neg, seq, type AShare, type Cost, type Party } from '@puma/protocol';
import { mulTruncRingCost, productSumTruncRing } from './fused.ts';
import { fixedBig, linComb } from './fixed.ts';

/** The free choices of the composition: leading coefficient 2^k in w, sigma, tau, r (see the header). */
export interface SexticFree {
  readonly k: number;
  readonly sigma: number;
  readonly tau: number;
  readonly r: number;
}

export interface ComposedSextic {
  lambda: number;
  /** s = sign * 2^k. */
  sign: 1 | -1;
  k: number;
  sigma: number;
  tau: number;
  mu: number;
  nu: number;
  rho: number;
  alpha: number;
  beta: number;
  gamma: number;
  delta: number;
}

/** alpha, beta, gamma, delta so that s Z^2 + alpha Z + beta Y + gamma w + delta matches b (in w) in degrees 0-3. */
function solveLow(b: readonly number[], s: number, sigma: number, tau: number, mu: number, nu: number, rho: number): [number, number, number, number] {
  const [p, q, r] = [sigma + mu, tau + mu * sigma + nu, mu * tau + rho];
  // Z^2 = (w^3 + p w^2 + q w + r)^2: its coefficients of w^3, w^2, w, 1.
  const z2 = [r * r, 2 * q * r, q * q + 2 * p * r, 2 * (p * q + r)];
  const alpha = b[3] - s * z2[3];
  const beta = b[2] - s * z2[2] - alpha * p;
  const gamma = b[1] - s * z2[1] - alpha * q - beta * sigma;
  const delta = b[0] - s * z2[0] - alpha * r - beta * tau;
  return [alpha, beta, gamma, delta];
}

/** Solves the composition for E with monomial coefficients a (lowest first, degree exactly 6) in v. */
export function composeSextic(a: readonly number[], free: SexticFree): ComposedSextic {
  if (a.length !== 7 || a[6] === 0) throw new Error(`composeSextic: needs a degree-6 polynomial, got ${a.length} coefficients`);
  const { k, sigma, tau, r } = free;
  const sign = a[6] > 0 ? 1 : -1;
  const s = sign * 2 ** k;
  const lambda = (Math.abs(a[6]) / 2 ** k) ** (1 / 6);
  const b = a.map((c, i) => c / lambda ** i);
  const p = b[5] / (2 * s);
  const q = (b[4] / s - p * p) / 2;
  const mu = p - sigma;
  const nu = q - tau - mu * sigma;
  const rho = r - mu * tau;
  const [alpha, beta, gamma, delta] = solveLow(b, s, sigma, tau, mu, nu, rho);
  return { lambda, sign, k, sigma, tau, mu, nu, rho, alpha, beta, gamma, delta };
}

/**
 * The composition with Y's and Z's coefficients rounded to the fixed-point scales they are applied at, and
 * alpha..delta solved again for the rounded Y and Z, so their rounding leaves degrees 0-3 exact (degrees 4-5
 * move by about 2^-k 2^-(scale) only).
 */
function roundedComposition(a: readonly number[], c: ComposedSextic, wBits: number, yBits: number): ComposedSextic {
  const at = (v: number, bits: number) => Math.round(v * 2 ** bits) / 2 ** bits;
  const [sigma, tau, mu, nu, rho] = [at(c.sigma, wBits), at(c.tau, 2 * wBits), at(c.mu, wBits), at(c.nu, yBits), at(c.rho, wBits + yBits)];
  const b = a.map((x, i) => x / c.lambda ** i);
  const [alpha, beta, gamma, delta] = solveLow(b, c.sign * 2 ** c.k, sigma, tau, mu, nu, rho);
  return { ...c, sigma, tau, mu, nu, rho, alpha, beta, gamma, delta };
}

/** max |c0 + c1 t + c2 t^2 + c3 t^3| over |t| <= h: at the endpoints or where the derivative vanishes. */
function maxAbsCubic(c: readonly [number, number, number, number], h: number): number {
  const f = (t: number) => c[0] + t * (c[1] + t * (c[2] + t * c[3]));
  const pts = [-h, h];
  const [A, B, C] = [3 * c[3], 2 * c[2], c[1]];
  if (A === 0) {
    if (B !== 0) pts.push(-C / B);
  } else {
    const disc = B * B - 4 * A * C;
    if (disc >= 0) pts.push((-B + Math.sqrt(disc)) / (2 * A), (-B - Math.sqrt(disc)) / (2 * A));
  }
  return Math.max(...pts.filter((t) => Math.abs(t) <= h).map((t) => Math.abs(f(t))));
}

/**
 * Fraction bits a level's sum may carry when its value is at most `bound`: the sum stays below 2^30
 * (truncateRing's 32-bit precondition) with 5% to spare for the fixed-point errors of its inputs.
 */
const levelBits = (bound: number): number => Math.floor(30 - Math.log2(1.05 * bound));
const W_BITS_MAX = 14;

export interface Sextic32Plan {
  c: ComposedSextic;
  /** Fraction bits of w, Y, Z and of the last sum. */
  wBits: number;
  yBits: number;
  zBits: number;
  pi: number;
}

/** Scales for E (coefficients a in v, |v| <= 1) plus an addend of magnitude at most `addendBound`. */
export function sextic32Plan(a: readonly number[], free: SexticFree, addendBound: number): Sextic32Plan {
  const c = composeSextic(a, free);
  const h = 1.01 * c.lambda;
  const maxY = maxAbsCubic([c.tau, c.sigma, 1, 0], h);
  const maxZ = maxAbsCubic([c.mu * c.tau + c.rho, c.tau + c.mu * c.sigma + c.nu, c.sigma + c.mu, 1], h);
  // max |E| over [-1, 1]: a dense grid plus the Lipschitz bound sum k |a_k| times half the spacing.
  const grid = 4096;
  let maxE = 0;
  for (let j = 0; j <= grid; j++) {
    const v = -1 + (2 * j) / grid;
    maxE = Math.max(maxE, Math.abs(a.reduce((sum, ak, i) => sum + ak * v ** i, 0)));
  }
  maxE += (a.reduce((sum, ak, i) => sum + i * Math.abs(ak), 0) * 1.01) / grid;
  const wBits = Math.min(W_BITS_MAX, Math.floor(levelBits(maxY) / 2));
  const yBits = levelBits(maxZ) - wBits;
  const piMax = levelBits(maxE + addendBound);
  const zBits = Math.floor((piMax + c.k) / 2);
  const pi = 2 * zBits - c.k;
  if (yBits < 8 || zBits < 8) throw new Error(`sextic32Plan: composition too badly scaled for Z_2^32 (Y at ${yBits}, Z at ${zBits} fraction bits)`);
  return { c: roundedComposition(a, c, wBits, yBits), wBits, yBits, zBits, pi };
}

export function sextic32Cost(n: number): Cost {
  return seq(mulTruncRingCost(n, { inBits: 32, outBits: 32 }), mulTruncRingCost(n, { inBits: 32, outBits: 32 }), mulTruncRingCost(n, { inBits: 32, outBits: 64 }));
}

/** An addend x * factor, x at `scale` fraction bits in Z_2^64, added before the last truncation. */
export interface Sextic32Addend {
  x: AShare;
  scale: number;
  factor: number;
}

/** E(v) (+ addend) in Z_2^64 at outScale fraction bits, from w = lambda v at plan.wBits fraction bits. */
export function sextic32Eval(p: Party, w: AShare, plan: Sextic32Plan, outScale: number, addend?: Sextic32Addend): Promise<AShare> {
  const { c, wBits: W, yBits: WY, zBits: WZ, pi } = plan;
  if (pi - outScale < 1) throw new Error(`sextic32Eval: output scale ${outScale} exceeds the last sum's ${pi} bits`);
  let addRaw: AShare | undefined;
  if (addend) {
    const m = addend.factor * 2 ** (pi - addend.scale);
    if (!Number.isInteger(m)) throw new Error(`sextic32Eval: addend factor ${addend.factor} is not exact at scale ${pi}`);
    addRaw = mulPublicInt(p, addend.x, BigInt.asUintN(64, BigInt(m)));
  }
  const ring32 = { inBits: 32, outBits: 32 } as const;
  return p.profile('poly32', async () => {
    const Y = await productSumTruncRing(p, [[w, w]], 2 * W - WY, ring32, linComb(p, [[w, fixedBig(c.sigma, W)]], fixedBig(c.tau, 2 * W)));
    const Z = await productSumTruncRing(p, [[w, Y]], W + WY - WZ, ring32, linComb(p, [[Y, fixedBig(c.mu, W)], [w, fixedBig(c.nu, WY)]], fixedBig(c.rho, W + WY)));
    let last = linComb(p, [[Z, fixedBig(c.alpha, pi - WZ)], [Y, fixedBig(c.beta, pi - WY)], [w, fixedBig(c.gamma, pi - W)]], fixedBig(c.delta, pi));
    if (addRaw) last = add(p, last, addRaw);
    return productSumTruncRing(p, [[c.sign > 0 ? Z : neg(p, Z), Z]], pi - outScale, { inBits: 32, outBits: 64 }, last);
  });
}
