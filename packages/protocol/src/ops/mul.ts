/**
 * Multiplication of replicated shares (ABY3 section 5.1 / Araki et al. 2016): party i computes
 * z_i = x_i y_i + x_i y_{i+1} + x_{i+1} y_i + alpha_i (alpha a zero sharing), a 3-of-3 additive sharing of xy,
 * then sends z_i to party i-1. Cost: 1 round, n words per party.
 * Fixed-point multiplication feeds z straight into the dealer truncation (see truncate.ts), replacing the
 * resharing round: 2 rounds in total, bytes [4n, 2n, 2n] words. Error: the truncation's at most 1 ulp.
 */
import type { Buf } from '@puma/backend';
import type { Party } from '../party.ts';
import { aShare, sameShape, type AShare } from '../share.ts';
import { cost, WORD, type Cost } from '../cost.ts';
import { truncateProduct, truncateProductCost } from './truncate.ts';

export const mulRawCost = (n: number): Cost => cost(1, n * WORD, n * WORD, n * WORD);
export const mulCost = truncateProductCost;

/** This party's unmasked 3-of-3 term of x*y: x_i y_i + x_i y_{i+1} + x_{i+1} y_i (add a zero share before sending). */
export function localProduct(p: Party, x: AShare, y: AShare): Buf {
  const be = p.backend;
  const ySum = be.add(y.s0, y.s1);
  const t0 = be.mul(x.s0, ySum);
  const t1 = be.mul(x.s1, y.s0);
  const term = be.add(t0, t1);
  p.drop(ySum, t0, t1);
  return term;
}

/** This party's masked 3-of-3 share of x*y. */
function productTerm(p: Party, x: AShare, y: AShare, tag: string): Buf {
  const t = localProduct(p, x, y);
  const alpha = p.zeroShare(tag, t.length);
  const z = p.backend.add(t, alpha);
  p.drop(t, alpha);
  return z;
}

/** Turns 3-of-3 additive shares into replicated shares: send z_i to party i-1. */
export async function reshare(p: Party, z: Buf, shape: readonly number[], tag: string): Promise<AShare> {
  const [fromNext] = await p.exchange(tag, [[p.prev, z]], [p.next]);
  return aShare(shape, z, p.backend.upload(fromNext));
}

/** Ring product without truncation (for integer operands such as 0/1 indicators). */
export function mulRaw(p: Party, x: AShare, y: AShare): Promise<AShare> {
  sameShape(x, y, 'mulRaw');
  return p.profile('mulRaw', async () => {
    const tag = p.nextTag();
    return reshare(p, productTerm(p, x, y, tag), x.shape, tag);
  });
}

/** Fixed-point product: x*y / 2^f. */
export function mul(p: Party, x: AShare, y: AShare): Promise<AShare> {
  sameShape(x, y, 'mul');
  return p.profile('mul', async () => {
    const tag = p.nextTag();
    const z = productTerm(p, x, y, tag);
    const product = await truncateProduct(p, z, x.shape);
    p.drop(z);
    return product;
  });
}
