/**
 * Test harness for the norm tests: a whole-matrix fixed-point product truncated by a chosen number of bits
 * (the models package streams its weights for the same; protocol's matmul truncates by f only), and residual
 * sums as each party's term (what models' linearInto hands the next norm).
 */
import type { Buf } from '@puma/backend';
import { sameShape, truncateProduct, type AShare, type Party } from '@puma/protocol';
import type { SumTerm } from './norm.ts';

/** (x W) / 2^bits for x [r, k] and W [k, n] (one zero-masked 3-of-3 term and its fused truncation: 2 rounds). */
export function matmulTruncBy(p: Party, x: AShare, w: AShare, bits: number): Promise<AShare> {
  const be = p.backend;
  const [r, k] = x.shape;
  const n = w.shape[1];
  if (x.shape.length !== 2 || w.shape.length !== 2 || w.shape[0] !== k) throw new Error(`matmulTruncBy: [${x.shape.join(', ')}] @ [${w.shape.join(', ')}] do not multiply`);
  const dims = { batch: 1, m: r, k, n };
  const t = be.add(be.matmul(x.s0, be.add(w.s0, w.s1), dims), be.matmul(x.s1, w.s0, dims));
  return truncateProduct(p, be.add(t, p.zeroShare(p.nextTag(), t.length)), [r, n], bits);
}

/** Plaintext row-major [r, k] x [k, n]. */
export function matmulFloat(x: ArrayLike<number>, w: ArrayLike<number>, r: number, k: number, n: number): Float64Array {
  const out = new Float64Array(r * n);
  for (let i = 0; i < r; i++) for (let t = 0; t < k; t++) for (let j = 0; j < n; j++) out[i * n + j] += x[i * k + t] * w[t * n + j];
  return out;
}

/** The residual sum base + product / 2^f (base at f, product at 2f, replicated) as this party's masked 3-of-3 term at 2f. */
export function sumOf(p: Party, base: AShare, product: AShare): SumTerm {
  sameShape(base, product, 'sumOf');
  return sumOfTerm(p, base, p.backend.add(product.s0, p.zeroShare(p.nextTag(), product.s0.length)));
}

/** base + a product's masked 3-of-3 term at 2f (protocol matmulTerm's z) as the sum's term. */
export function sumOfTerm(p: Party, base: AShare, term: Buf): SumTerm {
  const be = p.backend;
  const scaled = be.mulScalar(base.s0, 1n << BigInt(p.fracBits));
  return { term: be.add(term, scaled), shape: base.shape, fracBits: 2 * p.fracBits };
}
