/**
 * Matrix multiplication of replicated shares: party i computes X_i (Y_i + Y_{i+1}) + X_{i+1} Y_i locally (two
 * local matmuls; the sum on whichever operand is smaller), a 3-of-3 additive sharing of XY, as in ABY3 section 5.1: the communication is one ring
 * element per OUTPUT element, independent of the inner dimension. Raw: 1 round, m*n words per party.
 * Fixed point: fused with the dealer truncation, 2 rounds, bytes [4, 2, 2] words per output element.
 * Term: the masked 3-of-3 term alone (local, 0 rounds), at 2f fraction bits, for a reveal to the client
 * (revealTerm.ts).
 * Shapes: x [..batch, m, k] @ y [..batch, k, n] (or y [k, n] shared across the batch).
 */
import type { MatmulDims } from '@puma/backend';
import type { Party } from '../party.ts';
import type { AShare } from '../share.ts';
import { cost, WORD, type Cost } from '../cost.ts';
import { reshare } from './mul.ts';
import type { OutputTerm } from './revealTerm.ts';
import { truncateProduct, truncateProductCost } from './truncate.ts';

export const matmulRawCost = (outputs: number): Cost => cost(1, outputs * WORD, outputs * WORD, outputs * WORD);
export const matmulCost = truncateProductCost;

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

function dimsOf(x: AShare, y: AShare, o: MatmulOptions): { dims: MatmulDims; outShape: number[] } {
  if (x.shape.length < 2 || y.shape.length < 2) throw new Error(`matmul: operands need 2+ axes, got [${x.shape.join(', ')}] and [${y.shape.join(', ')}]`);
  const xs = x.shape;
  const ys = y.shape;
  const [m, k] = o.transA ? [xs[xs.length - 1], xs[xs.length - 2]] : [xs[xs.length - 2], xs[xs.length - 1]];
  const [k2, n] = o.transB ? [ys[ys.length - 1], ys[ys.length - 2]] : [ys[ys.length - 2], ys[ys.length - 1]];
  if (k !== k2) throw new Error(`matmul: inner dimensions differ (${k} vs ${k2}) for [${xs.join(', ')}] @ [${ys.join(', ')}]`);
  const batchShape = xs.slice(0, -2);
  const batch = batchShape.reduce((s, v) => s * v, 1);
  const broadcastB = ys.length === 2 && batchShape.length > 0;
  if (!broadcastB) {
    const yb = ys.slice(0, -2);
    if (yb.length !== batchShape.length || yb.some((v, i) => v !== batchShape[i])) throw new Error(`matmul: batch shapes [${batchShape.join(', ')}] and [${yb.join(', ')}] differ`);
  }
  return { dims: { batch, m, k, n, transA: o.transA, transB: o.transB, broadcastB }, outShape: [...batchShape, m, n] };
}

/**
 * X_i (Y_i + Y_{i+1}) + X_{i+1} Y_i, or the same ring value as (X_i + X_{i+1}) Y_i + X_i Y_{i+1}: the sum is
 * taken on the smaller operand (a weight's, or a decoding step's one row).
 */
function productTerm(p: Party, x: AShare, y: AShare, dims: MatmulDims, tag: string) {
  const be = p.backend;
  const onX = x.s0.length < y.s0.length;
  const sum = onX ? be.add(x.s0, x.s1) : be.add(y.s0, y.s1);
  const a = onX ? be.matmul(sum, y.s0, dims) : be.matmul(x.s0, sum, dims);
  const b = onX ? be.matmul(x.s0, y.s1, dims) : be.matmul(x.s1, y.s0, dims);
  const t = be.add(a, b);
  const z = be.add(t, p.zeroShare(tag, t.length));
  p.drop(sum, a, b, t);
  return z;
}

/** Ring matrix product, no truncation. */
export function matmulRaw(p: Party, x: AShare, y: AShare, o: MatmulOptions = {}): Promise<AShare> {
  const { dims, outShape } = dimsOf(x, y, o);
  return p.profile('matmulRaw', async () => {
    const tag = p.nextTag();
    return reshare(p, productTerm(p, x, y, dims, tag), outShape, tag);
  });
}

/** Fixed-point matrix product: (X @ Y) / 2^f. */
export function matmul(p: Party, x: AShare, y: AShare, o: MatmulOptions = {}): Promise<AShare> {
  const { dims, outShape } = dimsOf(x, y, o);
  return p.profile('matmul', async () => {
    const tag = p.nextTag();
    return truncateProduct(p, productTerm(p, x, y, dims, tag), outShape);
  });
}

/** This party's masked 3-of-3 term of X @ Y at 2f fraction bits, for revealTermToClient (local, no round). */
export function matmulTerm(p: Party, x: AShare, y: AShare, o: MatmulOptions = {}): OutputTerm {
  const { dims, outShape } = dimsOf(x, y, o);
  return { z: productTerm(p, x, y, dims, p.nextTag()), shape: outShape, fracBits: 2 * p.fracBits };
}
