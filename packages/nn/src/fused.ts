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
 * If the protocol package ever exports a `mul` with a bit count and an addend, these become thin wrappers.
 */
import { aShare, localProduct, mulRawCost, numel, reshare, sameShape, truncateProduct, truncateProductCost, truncateRing, truncateRingCost, type AShare, type Cost, type Party, type RingChange } from '@puma/protocol';

/** A backend buffer, named through the share type so nn depends on the protocol package only. */
type Buf = AShare['s0'];

export const mulTruncCost = (outputs: number): Cost => truncateProductCost(outputs);

function checkBits(bits: number, op: string): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 61) throw new Error(`${op}: truncation by ${bits} bits is out of range [1, 61]`);
}

/** Reference operand and this party's masked 3-of-3 term of sum_i a_i * b_i + addend (all of one shape). */
function productSumTerm(p: Party, terms: ReadonlyArray<readonly [AShare, AShare]>, op: string, addend?: AShare): { ref: AShare; z: Buf } {
  const ref = terms[0]?.[0] ?? addend;
  if (!ref) throw new Error(`${op}: nothing to compute`);
  for (const [a, b] of terms) {
    sameShape(ref, a, op);
    sameShape(ref, b, op);
  }
  if (addend) sameShape(ref, addend, op);
  const be = p.backend;
  let z = p.zeroShare(p.nextTag(), numel(ref));
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

export const mulTruncRingCost = (outputs: number, rings: RingChange): Cost => truncateRingCost(outputs, rings);

/** productSumTrunc with the sum read in Z_2^rings.inBits and the result shared in Z_2^rings.outBits. */
export function productSumTruncRing(p: Party, terms: ReadonlyArray<readonly [AShare, AShare]>, bits: number, rings: RingChange, addend?: AShare): Promise<AShare> {
  return p.profile('mulTrunc', async () => {
    const { ref, z } = productSumTerm(p, terms, 'productSumTruncRing', addend);
    return truncateRing(p, z, ref.shape, bits, rings);
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
