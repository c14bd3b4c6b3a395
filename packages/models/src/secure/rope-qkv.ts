/**
 * RoPE on the qkv product (llama2.c's convention: adjacent pairs within each head), positions pos0 .. pos0+T-1.
 * The rotation is a public linear map, so each party applies it to its own 3-of-3 term of the product before
 * any message: q and k are rotated with public cos/sin tables at ROPE_TABLE_BITS fraction bits, every part is
 * masked with a fresh zero sharing, and the dealer truncation takes it from there (protocol truncateProduct, by
 * f + ROPE_TABLE_BITS for q and k beside v's by f). Cost: the matmul's own 2 rounds (before: reshare, rotate the
 * replicated shares, truncate them, 3), truncateProductCost bytes. Every message is the truncation's, masked as in
 * truncate.ts. Error: the truncation's 1 ulp plus the tables' rounding (below).
 */
import type { Buf } from '@puma/backend';
import { encodeFixed } from '@puma/ring';
import { sliceFlat, truncateProduct, type AShare, type Party } from '@puma/protocol';
import { ropeFrequencies } from '../rope.ts';
import type { ModelConfig } from '../types.ts';

/**
 * Fraction bits of RoPE's public tables. They multiply q and k untruncated (2f bits, straight from the qkv
 * product), so one truncation by f + ROPE_TABLE_BITS serves the matmul and the rotation: the rotated
 * values must stay below 2^(62 - 2f - ROPE_TABLE_BITS) = 1024 (the owner's domain check, 'rotated query/key'); the
 * tables' rounding moves a rotated entry by at most 2^-16 of |(q_2i, q_2i+1)| (at 14 bits, 4096 of room, the 80-token
 * stories260K test's logit error rose from 0.0050 to 0.0083; at 16 bits it is 0.0051).
 */
export const ROPE_TABLE_BITS = 16;

export interface Qkv {
  q: AShare;
  k: AShare;
  v: AShare;
}

/** Public cos/sin tables for llama2.c's RoPE (adjacent pairs within each head), positions pos0 .. pos0+T-1. */
function ropeTables(c: ModelConfig, heads: number, pos0: number, T: number, fracBits: number): { cos: BigUint64Array; sin: BigUint64Array } {
  const width = heads * c.headDim;
  const cos = new Float64Array(T * width);
  const sin = new Float64Array(T * width);
  const f = ropeFrequencies(c.headDim, c.ropeTheta, c.ropeScaling, pos0 + T);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < width; j++) {
      const angle = (pos0 + t) * f.inverse[(j % c.headDim) >> 1];
      cos[t * width + j] = Math.cos(angle) * f.attentionFactor;
      sin[t * width + j] = (j % 2 === 0 ? -1 : 1) * Math.sin(angle) * f.attentionFactor;
    }
  }
  return { cos: encodeFixed(cos, fracBits), sin: encodeFixed(sin, fracBits) };
}

/** Swaps the elements of each adjacent pair of a [rows, cols] buffer's rows (local, public index map). */
function swapPairs(p: Party, x: Buf): Buf {
  const be = p.backend;
  const pairs = x.length / 2;
  const odd = be.sliceCols(x, pairs, 2, 1, 1);
  const even = be.sliceCols(x, pairs, 2, 0, 1);
  const out = be.concatCols(odd, 1, even, 1, pairs);
  be.release(odd);
  be.release(even);
  return out;
}

/** q, k (rotated) and v from this party's unmasked 3-of-3 term of the qkv product [T, (H + 2 KV) D] at 2f bits (released). */
export async function rotatedQkv(p: Party, c: ModelConfig, term: Buf, T: number, pos0: number): Promise<Qkv> {
  const be = p.backend;
  const f = p.fracBits;
  const [H, KV, D] = [c.numHeads, c.numKvHeads, c.headDim];
  const width = (H + 2 * KV) * D;
  const part = (start: number, count: number) => be.sliceCols(term, T, width, start, count);
  const rotate = (raw: Buf, heads: number) => {
    const t = ropeTables(c, heads, pos0, T, ROPE_TABLE_BITS);
    const [cos, sin] = [be.upload(t.cos), be.upload(t.sin)];
    const swapped = swapPairs(p, raw);
    const a = be.mul(raw, cos);
    const b = be.mul(swapped, sin);
    const out = be.add(a, b);
    p.drop(raw, swapped, a, b, cos, sin);
    return out;
  };
  const qRot = rotate(part(0, H * D), H);
  const kRot = rotate(part(H * D, KV * D), KV);
  const qk = be.concat([qRot, kRot]);
  const vTerm = part((H + KV) * D, KV * D);
  p.drop(term, qRot, kRot);
  const masked = (t: Buf) => {
    const zero = p.zeroShare(p.nextTag(), t.length);
    const out = be.add(t, zero);
    p.drop(t, zero);
    return out;
  };
  const [qkMasked, vMasked] = [masked(qk), masked(vTerm)];
  const [qkShare, v] = await p.parallel(
    (b) => b.profile('rope', () => truncateProduct(b, qkMasked, [qkMasked.length], f + ROPE_TABLE_BITS)),
    (b) => truncateProduct(b, vMasked, [T, KV * D], f),
  );
  return { q: sliceFlat(p, qkShare, 0, [T, H * D]), k: sliceFlat(p, qkShare, T * H * D, [T, KV * D]), v };
}

