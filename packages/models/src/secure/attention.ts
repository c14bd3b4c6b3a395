/**
 * The secure pass's attention (forward.ts): q, k, v from the qkv projection (RoPE models: its term rotated by
 * rope-qkv.ts, formed by the attention norm where it can: qkvTermOfNorm), the KV cache, the untruncated scores,
 * and softmax with V (nn attendOfProduct), or with the output projection too (nn attendInto).
 */
import type { Buf } from '@puma/backend';
import { concatFlat, matmulRaw, reshape, sliceLast, tileLeading, transpose, type AShare, type Party } from '@puma/protocol';
import { attendInto, attendOfProduct, attentionOutputBound, rmsNormMatmulTermAt, type NormInput } from '@puma/nn';
import { normOptions } from '../norm-windows.ts';
import type { ModelConfig } from '../types.ts';
import { rotatedQkv, type Qkv } from './rope-qkv.ts';
import { linearMatmul, linearMatmulTerm } from './linear-weight.ts';
import { streamedMatmulTerm } from './streamed-matmul.ts';
import { addBias, addBiasToTerm, linear, normAffine, resolvedInput, sumForm, type KvCache, type Residual, type SecureModel } from './model.ts';
import { feeds, norm, NORM_FEED_LIMIT, normFeedsQkvTerm, normIntoQkvTerm } from './norms.ts';

/**
 * This party's 3-of-3 term of norm(x) W_qkv at 2f fraction bits: nn rmsNormMatmulTermAt (the row scale applied
 * to the product's term where the norm's window allows) where normFeedsQkvTerm, else the norm (in its span) and
 * then the term.
 */
export async function qkvTermOfNorm(p: Party, m: SecureModel, l: number, name: string, r: Residual): Promise<{ term: Buf; x: AShare }> {
  const c = m.config;
  const into = `l${l}.qkv`;
  if (!normFeedsQkvTerm(c, r.x.shape[0])) {
    const x = await resolvedInput(p, r.x);
    const y = await p.profile('norm', () => norm(p, m, name, x));
    return { term: await streamedMatmulTerm(p, m.weights, `${into}.w`, y), x };
  }
  const mm = { ...feeds(m, name, into, false), matmulTerm: (q: Party, y: AShare) => linearMatmulTerm(q, m.weights, into, y) };
  const { scale } = await normAffine(p, m, name);
  const t = await p.profile('norm', () => rmsNormMatmulTermAt(p, r.x, scale, c.normEps, mm, 2 * p.fracBits, normOptions(c, name)));
  if ('term' in r.x) p.drop(r.x.term);
  return { term: t.z, x: t.d };
}

/** The attention's input where it is multiplied: a residual sum's term only ever comes with its projection already formed. */
function resolved(x: NormInput): AShare {
  if ('term' in x) throw new Error('secure pass: the attention got a residual sum\'s term without the projection its norm formed');
  return x;
}

/**
 * q, k (rotated) and v from the fused qkv projection of x (or its term, where the attention norm formed it:
 * RoPE models, qkvTermOfNorm). RoPE models: each party's 3-of-3 term of the product, with the bias's component
 * added at 2f bits, is rotated and truncated by rope-qkv.ts (the matmul's 2 rounds). Others: the fused matmul.
 */
async function projectQkv(p: Party, m: SecureModel, l: number, x: NormInput, pos0: number, fed?: AShare, fedTerm?: Buf): Promise<Qkv> {
  const c = m.config;
  const [H, KV, D] = [c.numHeads, c.numKvHeads, c.headDim];
  if (c.positions !== 'rope') {
    const qkv = fed ?? (await linear(p, m, `l${l}.qkv`, resolved(x)));
    return { q: sliceLast(p, qkv, 0, H * D), k: sliceLast(p, qkv, H * D, KV * D), v: sliceLast(p, qkv, (H + KV) * D, KV * D) };
  }
  const T = x.shape[0];
  const product = fedTerm ?? (await streamedMatmulTerm(p, m.weights, `l${l}.qkv.w`, resolved(x)));
  // The bias joins the 3-of-3 term at 2f (its component 0: addBiasToTerm).
  const { z: term } = await addBiasToTerm(p, m, `l${l}.qkv`, { z: product, shape: [T, (H + 2 * KV) * D], fracBits: 2 * p.fracBits });
  return rotatedQkv(p, c, term, T, pos0);
}

/** [T, heads * D] -> [heads, T, D]. */
function splitHeads(p: Party, x: AShare, heads: number, D: number): AShare {
  return transpose(p, reshape(x, [x.shape[0], heads, D]), [1, 0, 2]);
}

/** GQA: kv head g serves query heads g*rep .. g*rep+rep-1; [KV, T, D] -> [KV * rep, T, D]. */
function repeatKv(p: Party, x: AShare, rep: number): AShare {
  if (rep === 1) return x;
  const [KV, T, D] = x.shape;
  return reshape(transpose(p, tileLeading(p, x, rep), [1, 0, 2, 3]), [KV * rep, T, D]);
}

/** The attention's untruncated scores [H, T, keys] (2f fraction bits) and the values per head [H, keys, D]; the cache takes k and v. */
async function scoresAndValues(p: Party, m: SecureModel, l: number, x: NormInput, cache: KvCache | null, pos0: number, qkv?: AShare, qkvTerm?: Buf): Promise<{ scores: AShare; vh: AShare }> {
  const c = m.config;
  const T = x.shape[0];
  const D = c.headDim;
  const H = c.numHeads;
  const KV = c.numKvHeads;
  const { q, k, v } = await projectQkv(p, m, l, x, pos0, qkv, qkvTerm);
  let kAll = k;
  let vAll = v;
  if (cache) {
    if (cache.k[l]) {
      kAll = reshape(concatFlat(p, [cache.k[l], k]), [cache.k[l].shape[0] + T, KV * D]);
      vAll = reshape(concatFlat(p, [cache.v[l], v]), [cache.v[l].shape[0] + T, KV * D]);
    }
    cache.k[l] = kAll;
    cache.v[l] = vAll;
  }
  const kh = repeatKv(p, splitHeads(p, kAll, KV, D), H / KV);
  const vh = repeatKv(p, splitHeads(p, vAll, KV, D), H / KV);
  // The scores stay untruncated (2f fraction bits, 1 round): softmax truncates them beside its max's first
  // comparisons, which read the product directly, and forms e V beside 1/sum (nn softmax.ts attendOfProduct).
  const scores = await matmulRaw(p, splitHeads(p, q, H, D), kh, { transB: true });
  return { scores, vh };
}

const causalOptions = (c: ModelConfig, pos0: number) => (c.causal ? { causal: { queryOffset: pos0 } } : {});

/**
 * Attention up to the output projection: the heads' contexts merged, [T, H * D] (qkv: x's projection, if a norm
 * fed it, and then x, which may be the residual sum's term the norm came from, gives only its rows; qkvTerm: its
 * term, where the attention norm formed it, RoPE models).
 */
export async function attentionContext(p: Party, m: SecureModel, l: number, x: NormInput, cache: KvCache | null, pos0: number, qkv?: AShare, qkvTerm?: Buf): Promise<AShare> {
  const c = m.config;
  const { scores, vh } = await scoresAndValues(p, m, l, x, cache, pos0, qkv, qkvTerm);
  // nn's default max groups (32: one level of all-pairs narrow comparisons for up to 32 keys).
  const ctx = await p.profile('softmax', () => attendOfProduct(p, scores, vh, causalOptions(c, pos0)));
  return reshape(transpose(p, ctx, [1, 0, 2]), [x.shape[0], c.numHeads * c.headDim]);
}

/**
 * Does the attention of `rows` queries go straight into its output projection's term (nn attendInto, 2 rounds
 * fewer: the context's product and truncation)? RoPE RMSNorm models (whose attention norm forms the qkv term,
 * normIntoQkvTerm) whose residual sums may reach ATTENTION_OUTPUT_FLOOR at their longest sequence (the term's
 * domain narrows with the keys: 2,048 at 512 positions, 32 at 32,768), where the next norm takes the sum's term, and the heads'
 * products u_h (heads x rows x hidden truncations instead of the context's rows x heads x D) cost less than the
 * two rounds on PUMA's LAN (NORM_FEED_LIMIT): a decoding step of stories260K (8 x 64) or GPT-2-base-sized
 * RMSNorm models (12 x 768), not LLaMA-7B's (32 x 4096) nor long prompts.
 */
export function attentionFeedsOutput(c: ModelConfig, rows: number): boolean {
  const extra = c.numHeads * rows * c.hiddenSize - rows * c.numHeads * c.headDim;
  const roomy = attentionOutputBound(c.maxPositions) >= ATTENTION_OUTPUT_FLOOR;
  return normIntoQkvTerm(c) && sumForm(c, true) === 'sum' && roomy && extra <= NORM_FEED_LIMIT;
}

/**
 * Smallest bound on the residual sum |x + o| for which the attention goes into its output projection: models with
 * long contexts keep the context's product instead of a domain that real residual streams (hundreds in some
 * dimensions) would leave. The owner's domain check reads the sums against the bound ('attention output sum').
 */
export const ATTENTION_OUTPUT_FLOOR = 2 ** 11;

/** Attention and its output projection as the residual sum's term (nn attendInto), base the residual. */
export async function attentionInto(p: Party, m: SecureModel, l: number, x: AShare, cache: KvCache | null, pos0: number, qkvTerm: Buf | undefined): Promise<Residual> {
  const c = m.config;
  const { scores, vh } = await scoresAndValues(p, m, l, x, cache, pos0, undefined, qkvTerm);
  const name = `l${l}.o`;
  const base = await addBias(p, m, name, x);
  const proj = { matmul: (q: Party, blocks: AShare) => linearMatmul(q, m.weights, name, blocks), out: c.hiddenSize };
  return { x: await p.profile('softmax', () => attendInto(p, scores, vh, proj, base, causalOptions(c, pos0))) };
}
