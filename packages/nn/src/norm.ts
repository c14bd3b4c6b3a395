/**
 * The part LayerNorm and RMSNorm share: for d (centred for LayerNorm, raw x for RMSNorm) the per-row sum of
 * squares S = sum_j d_j^2 (one truncation per row, 2 rounds), then
 *   d gamma / sqrt(S/n + eps) = (d phi) (gamma Q),   phi = sqrt(n) 2^-(k+1)/2,  Q ~ 1/sqrt(c),  S + n eps = 2^(k+1) c
 * with sqrt(n) folded into rsqrt's public weights and both products folded into its last steps (inverse.ts):
 * 15 rounds after S, one rsqrt per row. d phi (at most sqrt(n) in magnitude) is formed at 30 fraction bits
 * while gamma Q is formed, so rows whose spread is only a few hundred ulp keep their precision.
 * eps below the session's resolution: S is computed at psi >= 18 fraction bits, enough for n eps to carry
 * about 10 significant bits (psi up to 60 - hi), so eps = 1e-12 still counts; a row of constants then gives
 * exactly 0 (its d is 0), never a division by zero.
 * Limits: the untruncated sum of squares must stay below 2^62, i.e. n var < 2^26 at 18 fraction bits
 * (maxVar, default 2^26/n); |result| <= outBound (default 2^12).
 */
import { addPublicRaw, reshape, seq, tileLeading, type AShare, type Cost, type Party } from '@puma/protocol';
import { dotLastTrunc, mulTruncCost } from './fused.ts';
import { fixedBig } from './fixed.ts';
import { inverse, inverseCost, type InverseOptions } from './inverse.ts';

export interface NormOptions {
  /** Largest row variance (mean square for RMSNorm) the input may have; default the most the ring allows. */
  maxVar?: number;
  /** Bound on |output - beta| (default 2^12). */
  outBound?: number;
}

export interface NormPlan {
  psi: number;
  inverse: InverseOptions;
  epsRaw: bigint;
}

export function normPlan(n: number, eps: number, fracBits: number, o: NormOptions): NormPlan {
  if (!Number.isInteger(n) || n < 1) throw new Error(`norm: rows need at least one column, got ${n}`);
  if (!(eps > 0) || !Number.isFinite(eps)) throw new Error(`norm: eps must be a positive finite number, got ${eps}`);
  const limit = 2 ** (62 - 2 * fracBits);
  const maxVar = o.maxVar ?? limit / n - eps;
  if (!(maxVar > 0) || n * maxVar > limit) throw new Error(`norm: n * maxVar = ${n * maxVar} exceeds the 2^${62 - 2 * fracBits} the sum of squares may reach`);
  const hi = Math.floor(Math.log2(n * (maxVar + eps))) + 1;
  const psi = Math.max(fracBits, Math.min(60 - hi, 2 * fracBits - 1, Math.ceil(10 - Math.log2(n * eps))));
  const lo = Math.max(-psi, Math.min(hi - 1, Math.floor(Math.log2(n * eps))));
  return {
    psi,
    epsRaw: fixedBig(n * eps, psi),
    // |d_j| sqrt(n) / sqrt(S + n eps) <= sqrt(n): every |d_j| is at most sqrt(S).
    inverse: { kind: 'rsqrt', lo, hi, signed: false, xScale: psi, constant: Math.sqrt(n), mScale: fracBits, mPhiBound: Math.sqrt(n), gScale: fracBits, outScale: fracBits, outBound: o.outBound ?? 2 ** 12 },
  };
}

export function checkRowParam(x: AShare, v: AShare, name: string): number {
  const n = x.shape[x.shape.length - 1];
  if (x.shape.length < 1 || !n) throw new Error(`norm: input needs a non-empty last axis, got [${x.shape.join(', ')}]`);
  if (v.shape.length !== 1 || v.shape[0] !== n) throw new Error(`norm: ${name} must have shape [${n}], got [${v.shape.join(', ')}]`);
  return n;
}

/** gamma [n] repeated over every row of x. */
export function tileRows(p: Party, v: AShare, x: AShare): AShare {
  return reshape(tileLeading(p, v, x.s0.length / v.s0.length), x.shape);
}

/** Cost of the sum of squares, then the rsqrt with d and gamma folded in. */
export function normTailCost(rows: number, n: number, plan: NormPlan): Cost {
  return seq(mulTruncCost(rows), inverseCost(rows, plan.inverse, rows * n));
}

/** d gamma / sqrt(mean(d^2) + eps) for d [..., n], gamma [n]. */
export async function normTail(p: Party, d: AShare, gamma: AShare, plan: NormPlan): Promise<AShare> {
  const sq = await dotLastTrunc(p, d, d, 2 * p.fracBits - plan.psi);
  return p.profile('rsqrt', () => inverse(p, addPublicRaw(p, sq, plan.epsRaw), plan.inverse, { m: d, broadcast: true, g: tileRows(p, gamma, d) }));
}
