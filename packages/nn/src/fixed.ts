/**
 * Small fixed-point helpers shared by the nn functions: public reals as ring integers at any scale, public
 * linear combinations of shares (free), and the parallel composition of declared costs.
 */
import { addPublicRaw, add, mulPublicInt, type AShare, type Cost, type Party } from '@puma/protocol';

/** round(a * 2^scale) as a ring integer (two's complement); beyond 2^52 the low bits are zero. */
export function fixedBig(a: number, scale: number): bigint {
  if (!Number.isFinite(a)) throw new Error(`cannot encode ${a} as a fixed-point constant`);
  if (!Number.isInteger(scale) || scale < 0) throw new Error(`scale ${scale} must be a non-negative integer`);
  const v = scale <= 52 ? BigInt(Math.round(a * 2 ** scale)) : BigInt(Math.round(a * 2 ** 52)) << BigInt(scale - 52);
  return BigInt.asUintN(64, v);
}

/** c + sum_i k_i x_i for public ring integers k_i and c: local, no communication. */
export function linComb(p: Party, terms: ReadonlyArray<readonly [AShare, bigint]>, c = 0n): AShare {
  if (terms.length === 0) throw new Error('linComb needs at least one term');
  let acc = mulPublicInt(p, terms[0][0], terms[0][1]);
  for (const [x, k] of terms.slice(1)) acc = add(p, acc, mulPublicInt(p, x, k));
  return c === 0n ? acc : addPublicRaw(p, acc, c);
}

/**
 * Bytes a round is worth on PUMA's LAN (5 Gbps, 1 ms round trip): the exchange rate at which nn trades rounds
 * for bytes (max.ts, piecewise.ts; models' NORM_FEED_LIMIT uses the same rate).
 */
export const LAN_BYTES_PER_ROUND = 625_000;

/**
 * The extra CPU of one comparison by a dealer's tables over the carry circuit (protocol tableCompare.ts: its
 * per-element work runs in JavaScript), as bytes at the same LAN rate: `npm run bench -- core`, 300,000
 * comparisons with the parties in worker threads on 2 cores, medians of five runs of its median of 5: 176.5 ms
 * against 38.3 ms, i.e. 0.46 us, which the LAN sends 288 bytes in (2026-12-07; 444 against 47.8 ms, 825 bytes,
 * before tableCompareLoops.ts ended V8's recompilation of the loops on every call). piecewise.ts counts it:
 * without it GeLU's tables on a 9-token GPT-2-base prompt (55,296 comparisons a layer) made three tabs' prompt
 * step 3 s slower for 12 rounds fewer. max.ts's per-level choice does not (GPT-2-base's wall time did not move
 * with its tables, README "What bought it"). No bench workload's plan changed with the new figure (puma plan).
 */
export const TABLE_COMPARE_LAN_BYTES = 288;

/**
 * Whether saving `roundsSaved` rounds is worth `extraBytes` more (busiest party's bytes, plus any CPU counted as
 * bytes) on PUMA's LAN: the one rule by which nn trades rounds for bytes (max.ts, piecewise.ts).
 */
export const worthOnLan = (roundsSaved: number, extraBytes: number): boolean => roundsSaved > 0 && extraBytes < roundsSaved * LAN_BYTES_PER_ROUND;

/** Costs of branches run side by side with `Party.parallel`: the longest branch's rounds, all branches' bytes. */
export function par(...cs: Cost[]): Cost {
  return {
    rounds: Math.max(0, ...cs.map((c) => c.rounds)),
    bytes: [0, 1, 2].map((i) => cs.reduce((s, c) => s + c.bytes[i], 0)) as [number, number, number],
  };
}

export const ZERO_COST: Cost = { rounds: 0, bytes: [0, 0, 0] };

/** ceil(log2 v) for v > 0, exact on powers of two. */
export function ceilLog2(v: number): number {
  if (!(v > 0)) throw new Error(`ceilLog2 of ${v}`);
  let k = Math.ceil(Math.log2(v));
  while (2 ** k < v) k++;
  while (k > -1100 && 2 ** (k - 1) >= v) k--;
  return k;
}
