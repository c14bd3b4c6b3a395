/**
 * Fused products with one truncation, built from the protocol's pieces (each party's 3-of-3 product term,
 * masked by a zero sharing as in mul.ts, fed to `truncateProduct`).
 *
 * Why: `mul` truncates by exactly the session's fraction bits. Fixed-point polynomial evaluation wants to
 * (a) truncate by any number of bits, so operands can carry public real coefficients encoded as integers
 *     at a higher scale and intermediate powers can live at more fraction bits than the session's;
 * (b) add several products and a linear term before one truncation (sum_i a_i b_i + c costs what one product
 *     costs), including sums along the last axis (a dot product per row costs one truncation per ROW).
 * Both are local rearrangements of the product term before the protocol's truncation, so the cost is exactly
 * `truncateProductCost(outputs)`: 2 rounds, party 0 sends 4 words and parties 1 and 2 send 2 words per output.
 * Error: the truncation's (floor plus a stochastic last bit, at most 1 ulp of the output scale, unbiased),
 * valid while the untruncated sum stays below 2^62 in magnitude (ring wrap-around of individual terms is
 * harmless; only the final sum matters).
 *
 * dotLastRaw is the same dot product per row without truncation (integer operands, e.g. 0/1 bits times a
 * share): the masked 3-of-3 sum is reshared as in mul.ts's mulRaw, 1 round and one word per row per party.
 *
 * productSumTruncRing is productSumTrunc with the truncation reading the sum in Z_2^inBits and sharing the
 * result in Z_2^outBits (protocol truncateRing.ts): with inBits = 32 the sum (products plus addend, as a
 * signed integer) must stay below 2^30 in magnitude, and 32-bit operands may be shares of Z_2^32 (their upper
 * halves are ignored); it costs truncateRingCost(outputs, rings), 2 rounds.
 *
 * productSumShift32 is the one-round way down from Z_2^64 to Z_2^32 (issue 12, ring casting as in Ditto, ICML
 * 2024, section 4): each party shifts its masked 3-of-3 term right by d (logical shift, no dealer) and reshares
 * the low 32 bits (mulRaw32.ts's reshare32). For three terms floor(z0/2^d) + floor(z1/2^d) + floor(z2/2^d) =
 * floor(z/2^d) - e with e in {0, 1, 2}, exactly modulo 2^(64-d): the wrap of the 64-bit sum is a multiple of
 * 2^(64-d) and vanishes there (narrowCompare.ts's local downcast). So for d <= 32 the result is a sharing of
 * Z_2^32 with no large-error event and no precondition beyond |sum / 2^d| < 2^31 (the sum itself may use all
 * 64 bits). A public 1.5 * 2^d added before the shift centres the error: within (-1.5, 1.5] ulps of the
 * output (TruncPr's: (-1, 1)). What each receiver sees is floor(z_i / 2^d) of a uniformly masked z_i. Cost:
 * mulRaw32Cost, 1 round and one 32-bit lane per output per party (truncateRing 64 -> 32: 2 rounds, 16 bytes).
 *
 * If the protocol package ever exports a `mul` with a bit count and an addend, these become thin wrappers.
 */
import {
  aShare, localProduct, mulRaw32Cost, mulRawCost, numel, reshare, reshare32, sameShape, truncateProduct, truncateProductCost, truncateRing, truncateRingCost,
  type AShare, type Cost, type OutputTerm, type Party, type RingChange,
} from '@puma/protocol';

/** A backend buffer, named through the share type so nn depends on the protocol package only. */
type Buf = AShare['s0'];

export const mulTruncCost = (outputs: number): Cost => truncateProductCost(outputs);

function checkBits(bits: number, op: string): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 61) throw new Error(`${op}: truncation by ${bits} bits is out of range [1, 61]`);
}

/** Reference operand and this party's masked 3-of-3 term of sum_i a_i * b_i + addend (all of one shape). */
function productSumTerm(p: Party, terms: ReadonlyArray<readonly [AShare, AShare]>, op: string, addend?: AShare, tag = p.nextTag()): { ref: AShare; z: Buf } {
  const ref = terms[0]?.[0] ?? addend;
  if (!ref) throw new Error(`${op}: nothing to compute`);
  for (const [a, b] of terms) {
    sameShape(ref, a, op);
    sameShape(ref, b, op);
  }
  if (addend) sameShape(ref, addend, op);
  const be = p.backend;
  let z = p.zeroShare(tag, numel(ref));
  for (const [a, b] of terms) z = be.add(z, localProduct(p, a, b));
  // Component i of a replicated addend is this party's s0: adding it to the 3-of-3 term adds it once in total.
  if (addend) z = be.add(z, addend.s0);
  return { ref, z };
}

/**
 * (sum_i a_i * b_i + addend) / 2^bits, elementwise; all operands share one shape. With no terms the addend
 * alone is truncated (the same cost).
 */
export function productSumTrunc(p: Party, terms: ReadonlyArray<readonly [AShare, AShare]>, bits: number, addend?: AShare): Promise<AShare> {
  checkBits(bits, 'productSumTrunc');
  return p.profile('mulTrunc', async () => {
    const { ref, z } = productSumTerm(p, terms, 'productSumTrunc', addend);
    return truncateProduct(p, z, ref.shape, bits);
  });
}

/**
 * sum_i a_i * b_i + addend left untruncated, as this party's masked 3-of-3 term at `fracBits` fraction bits (the
 * operands' bits summed), for protocol revealTermToClient: local, no round.
 */
export function productSumOutTerm(p: Party, terms: ReadonlyArray<readonly [AShare, AShare]>, fracBits: number, addend?: AShare): OutputTerm {
  const { ref, z } = productSumTerm(p, terms, 'productSumOutTerm', addend);
  return { z, shape: ref.shape, fracBits };
}

export const mulTruncRingCost = (outputs: number, rings: RingChange): Cost => truncateRingCost(outputs, rings);

/** productSumTrunc with the sum read in Z_2^rings.inBits and the result shared in Z_2^rings.outBits. */
export function productSumTruncRing(p: Party, terms: ReadonlyArray<readonly [AShare, AShare]>, bits: number, rings: RingChange, addend?: AShare): Promise<AShare> {
  return p.profile('mulTrunc', async () => {
    const { ref, z } = productSumTerm(p, terms, 'productSumTruncRing', addend);
    return truncateRing(p, z, ref.shape, bits, rings);
  });
}

export const productSumShift32Cost = (outputs: number): Cost => mulRaw32Cost(outputs);

/** (sum_i a_i * b_i + addend) / 2^bits shared in Z_2^32, 1 round (see the header); operands are shares of Z_2^64. */
export function productSumShift32(p: Party, terms: ReadonlyArray<readonly [AShare, AShare]>, bits: number, addend?: AShare): Promise<AShare> {
  if (!Number.isInteger(bits) || bits < 1 || bits > 32) return Promise.reject(new Error(`productSumShift32: a shift of ${bits} bits is outside [1, 32] (the result must stay exact modulo 2^32)`));
  return p.profile('mulShift32', async () => {
    const tag = p.nextTag();
    const { ref, z } = productSumTerm(p, terms, 'productSumShift32', addend, tag);
    // 1.5 * 2^bits, once: on party 0's term only.
    const centred = p.id === 0 ? p.backend.addScalar(z, 3n << BigInt(bits - 1)) : z;
    return reshare32(p, p.backend.shrLogical(centred, bits), ref.shape, tag);
  });
}

/** x * y / 2^bits elementwise. */
export function mulTrunc(p: Party, x: AShare, y: AShare, bits: number): Promise<AShare> {
  return productSumTrunc(p, [[x, y]], bits);
}

/** Rows and the 3-of-3 product term of sum over the last axis of x * y (+ addend), masked by a zero sharing. */
function dotLastTerm(p: Party, x: AShare, y: AShare, tag: string, op: string, addend?: AShare): { z: Buf; shape: number[] } {
  sameShape(x, y, op);
  const cols = x.shape[x.shape.length - 1];
  if (x.shape.length < 1 || !cols) throw new Error(`${op}: needs a non-empty last axis, got [${x.shape.join(', ')}]`);
  const shape = x.shape.slice(0, -1);
  if (addend && (addend.shape.length !== shape.length || addend.shape.some((d, i) => d !== shape[i]))) throw new Error(`${op}: addend of shape [${addend.shape.join(', ')}] does not match [${shape.join(', ')}]`);
  const be = p.backend;
  const rows = numel(x) / cols;
  let z = be.add(be.sumRows(localProduct(p, x, y), rows, cols), p.zeroShare(tag, rows));
  if (addend) z = be.add(z, addend.s0);
  return { z, shape };
}

/** Per row: (sum over the last axis of x * y + addend) / 2^bits. Shapes [..., n] -> [...]. */
export function dotLastTrunc(p: Party, x: AShare, y: AShare, bits: number, addend?: AShare): Promise<AShare> {
  checkBits(bits, 'dotLastTrunc');
  return p.profile('dotTrunc', async () => {
    const { z, shape } = dotLastTerm(p, x, y, p.nextTag(), 'dotLastTrunc', addend);
    return truncateProduct(p, z, shape, bits);
  });
}

export const dotLastRawCost = (rows: number): Cost => mulRawCost(rows);

/**
 * Per row: this party's masked 3-of-3 term of sum over the last axis of x * y, left open, with the tag its resharing
 * (protocol reshare) must use: for a consumer that reads the term itself as well (nn norm-scale.ts's lanes).
 */
export function dotLastOpenTerm(p: Party, x: AShare, y: AShare): { z: Buf; shape: number[]; tag: string } {
  const tag = p.nextTag();
  return { ...dotLastTerm(p, x, y, tag, 'dotLastOpenTerm'), tag };
}

/** Per row: sum over the last axis of x * y + addend, in the ring (no truncation: integer operands such as 0/1 bits). 1 round, one word per row. */
export function dotLastRaw(p: Party, x: AShare, y: AShare, addend?: AShare): Promise<AShare> {
  return p.profile('dotRaw', async () => {
    const tag = p.nextTag();
    const { z, shape } = dotLastTerm(p, x, y, tag, 'dotLastRaw', addend);
    return reshare(p, z, shape, tag);
  });
}

/** A share of zeros of the given shape (every component zero). */
export function zerosLike(p: Party, shape: readonly number[]): AShare {
  const n = shape.reduce((s, v) => s * v, 1);
  return aShare(shape, p.backend.zeros(n), p.backend.zeros(n));
}
