/**
 * The secure forward pass: the same computation as the plaintext reference (../forward*), op by op, on
 * replicated shares. Public: the architecture, shapes, positions and the causal structure. Secret: weights
 * (shared by the owner), tokens (the client shares one-hot rows), every activation, and the logits (revealed
 * to the client only).
 *
 * Weights are streamed (weight-stream.ts): every matrix, the embedding table and the head included, is used in
 * row blocks that are materialized, multiplied and released one after the other (streamed-matmul.ts), so a
 * party's memory holds one block and a prefetch of the next, plus activations and the KV cache, whatever the
 * depth and width; norms and biases are opened whole while they are used. The source is the party's share store
 * or an in-memory bundle; the result is bit-identical either way, and to the whole-matrix matmul.
 *
 * Embedding: one-hot [T, vocab] (integer 0/1) times the shared table is exact in the ring (matmulRaw, no
 * truncation). Position and token-type rows are selected locally, since positions are public.
 *
 * Truncations off the critical path (issue 12): a product whose consumer can start on the untruncated value is
 * only reshared (1 round) and the consumer truncates it beside its first step. The attention scores go to
 * softmax that way (nn softmax.ts: the max compares the product), and softmax's division moves after the
 * product with V (attendOfProduct: e V beside 1/sum, 2 rounds fewer; values must stay below
 * attentionValueBound(keys): 32768 at 32 keys, 1024 at 1024). Each sublayer's output projection goes into the
 * next norm as the residual sum's term, base 2^f plus the product's term (model.ts Residual.sum), never
 * reshared: the norm truncates it with protocol truncateSquares, whose first round gives the rows' squares
 * (RMSNorm: of x; LayerNorm: of o (x - mean), the mean taken on the term, nn layernorm-residual.ts), so R starts
 * one round after the product, 2 rounds sooner than the product's reshare and the truncations did for
 * LayerNorm; the final norm takes the last layer's sum the same way (head.ts). LLaMA-style models' RoPE rotates each party's term of the
 * qkv product and truncates once (projectQkv, the matmul's 2 rounds instead of 4; rotated values below 1024),
 * and their attention norm applies its row scale to that term (qkvTermOfNorm, nn rmsNormMatmulTermAt: R and
 * the product share the term's 2f fraction bits, on a published window of up to 23 or 24 octaves): the norm
 * and the qkv projection take 5 + 2 rounds instead of 7 + 2.
 *
 * Norms feed their matmul with the row scale applied after the product (nn norm-matmul.ts: y W = R (m W) +
 * beta W, m W formed while R is computed): 2 rounds fewer per norm that feeds a matmul, where the extra bytes
 * are worth it (normFeeds): the attention norm into qkv (with RoPE as the product's term, above),
 * the MLP norm into up / w13, the final norm into the head; post-norm models (BERT) also keep y for the
 * residual and feed each block's output norm (and the embedding norm) into the next layer's qkv. A LayerNorm's
 * beta W (one more row of the fed matmul) is kept by the first pass that multiplies it and reused by the job's
 * later passes (feeds: beta and W are weights).
 *
 * The outputs (the LM head, BERT's classifier, and the terms the client receives) are in head.ts; the model
 * binding and the residual forms in model.ts, the norms in norms.ts, the attention in attention.ts; this file
 * puts the layers together.
 */
import type { AShare, Party } from '@puma/protocol';
import { add, reshape, sliceLast, tileLeading } from '@puma/protocol';
import { gelu, geluTanh, swiglu, type NormInput } from '@puma/nn';
import type { ModelConfig } from '../types.ts';
import { streamedMatmulRaw } from './streamed-matmul.ts';
import { attentionContext, attentionFeedsOutput, attentionInto, qkvTermOfNorm } from './attention.ts';
import { linearInto, normTakesSum, resolvedInput, sumForm, type KvCache, type Residual, type SecureModel } from './model.ts';
import { norm, normFeedsQkv, normInto, normIntoQkvTerm, normOfResidual, normOfResidualInto } from './norms.ts';

/** Rows [start, start + count) of weight `name`, added to x (public indices: only those rows are read). */
async function addWeightRows(p: Party, m: SecureModel, name: string, x: AShare, start: number, count: number): Promise<AShare> {
  const w = await m.weights.rows(name, start, start + count);
  try {
    return add(p, x, reshape(count === x.shape[0] ? w : tileLeading(p, w, x.shape[0]), x.shape));
  } finally {
    m.weights.close(w);
  }
}

async function embed(p: Party, m: SecureModel, oneHot: AShare, pos0: number): Promise<Residual> {
  const c = m.config;
  const T = oneHot.shape[0];
  let x = await p.profile('embedding', () => streamedMatmulRaw(p, m.weights, 'emb.token', oneHot));
  if (c.positions === 'learned') {
    if (pos0 + T > c.maxPositions) throw new Error(`sequence of ${pos0 + T} positions exceeds the model's ${c.maxPositions}`);
    x = await addWeightRows(p, m, 'emb.position', x, pos0, T);
  }
  if (m.weights.has('emb.tokenType')) x = await addWeightRows(p, m, 'emb.tokenType', x, 0, 1);
  if (!m.weights.has('emb.norm.scale')) return { x };
  if (!normFeedsQkv(c)) return { x: await p.profile('norm', () => norm(p, m, 'emb.norm', x)) };
  const fed = await normInto(p, m, 'emb.norm', x, 'l0.qkv', true);
  return { x: fed.y as AShare, qkv: fed.out };
}

/** The MLP's first linear layer (the one its norm feeds). */
function mlpIn(c: ModelConfig, l: number): string {
  return c.mlp === 'swiglu' ? `l${l}.w13` : `l${l}.up`;
}

/** The MLP from its first linear layer's output up to its down projection, and that projection's name. */
async function mlpHidden(p: Party, m: SecureModel, l: number, up: AShare): Promise<{ h: AShare; down: string }> {
  const c = m.config;
  if (c.mlp === 'swiglu') {
    const ab = up;
    const a = sliceLast(p, ab, 0, c.intermediateSize);
    const b = sliceLast(p, ab, c.intermediateSize, c.intermediateSize);
    return { h: await p.profile('swiglu', () => swiglu(p, a, b)), down: `l${l}.w2` };
  }
  return { h: await p.profile('gelu', () => (c.activation === 'gelu_new' ? geluTanh(p, up) : gelu(p, up))), down: `l${l}.down` };
}

/**
 * One layer on the residual stream x. Pre-norm: x + attn(norm(x)), then + mlp(norm(.)); the MLP's sum stays
 * untruncated for the next layer's norm unless this is the last layer. Post-norm: norm(x + attn(x)), then
 * norm(. + mlp(.)). Norms run in 'norm' spans, sublayers outside them.
 */
async function block(p: Party, m: SecureModel, l: number, x: Residual, last: boolean, cache: KvCache | null, pos0: number): Promise<Residual> {
  const c = m.config;
  return p.profile(`layer ${l}`, async () => {
    if (c.normPlacement === 'pre') {
      let context: AShare;
      let attnIn: NormInput;
      if (normFeedsQkv(c)) {
        // A LayerNorm leaves a sum's term as it is: the stream goes on from the term (attnIn), never truncated.
        const n1 = await normOfResidualInto(p, m, `l${l}.attnNorm`, x, true, `l${l}.qkv`, false);
        attnIn = n1.x as NormInput;
        context = await attentionContext(p, m, l, attnIn, cache, pos0, n1.out);
      } else if (normIntoQkvTerm(c)) {
        const qt = await qkvTermOfNorm(p, m, l, `l${l}.attnNorm`, x);
        attnIn = qt.x;
        if (attentionFeedsOutput(c, attnIn.shape[0])) {
          const a = await attentionInto(p, m, l, qt.x, cache, pos0, qt.term);
          return mlpBlock(p, m, l, a, last);
        }
        context = await attentionContext(p, m, l, attnIn, cache, pos0, undefined, qt.term);
      } else {
        const n1 = await normOfResidual(p, m, `l${l}.attnNorm`, x, true);
        attnIn = n1.x as NormInput;
        context = await attentionContext(p, m, l, n1.y, cache, pos0);
      }
      return mlpBlock(p, m, l, await linearInto(p, m, `l${l}.o`, context, attnIn, sumForm(c, true)), last);
    }
    const x0 = resolve(x);
    const a = await linearInto(p, m, `l${l}.o`, await attentionContext(p, m, l, x0, cache, pos0, x.qkv), x0, sumForm(c, true));
    const n1 = await normOfResidualInto(p, m, `l${l}.attnNorm`, a, false, mlpIn(c, l), true);
    const h = n1.y as AShare;
    const f = await mlpHidden(p, m, l, n1.out);
    const sum = await linearInto(p, m, f.down, f.h, h, sumForm(c, true));
    if (last || !normFeedsQkv(c)) return { x: (await normOfResidual(p, m, `l${l}.mlpNorm`, sum, false)).y };
    const out = await normOfResidualInto(p, m, `l${l}.mlpNorm`, sum, false, `l${l + 1}.qkv`, true);
    return { x: out.y as AShare, qkv: out.out };
  });
}

/** A pre-norm layer's MLP on the attention's residual sum a: norm, MLP, and the down projection into the next sum. */
async function mlpBlock(p: Party, m: SecureModel, l: number, a: Residual, last: boolean): Promise<Residual> {
  const c = m.config;
  const n2 = await normOfResidualInto(p, m, `l${l}.mlpNorm`, a, true, mlpIn(c, l), false);
  const f = await mlpHidden(p, m, l, n2.out);
  // The last layer's sum goes to the final norm as its term (head.ts).
  return linearInto(p, m, f.down, f.h, n2.x as NormInput, sumForm(c, !last || normTakesSum(c)));
}

/** A resolved residual's value (blocks leave a sum's term only where a norm takes it next). */
function resolve(r: Residual): AShare {
  if ('term' in r.x) throw new Error('secure pass: a residual sum was left untruncated where no norm takes it');
  return r.x;
}

/**
 * Hidden states [T, hidden] for T new tokens at positions pos0 .. pos0+T-1 (appending to `cache` if given), as
 * the final norm takes them: pre-norm models leave the last layer's sum as its term (nn NormInput; the head's
 * norm takes only the rows it scores, from their squares), post-norm ones resolved.
 */
export async function secureHiddenInput(p: Party, m: SecureModel, oneHot: AShare, pos0: number, cache: KvCache | null): Promise<NormInput> {
  m.weights.beginPass();
  let x: Residual = await embed(p, m, oneHot, pos0);
  const L = m.config.numLayers;
  for (let l = 0; l < L; l++) x = await block(p, m, l, x, l === L - 1, cache, pos0);
  if (cache) cache.length = pos0 + oneHot.shape[0];
  return x.x;
}

/** secureHiddenInput resolved (a sum's term truncated: 2 rounds, as the last layer's product took before). */
export async function secureHidden(p: Party, m: SecureModel, oneHot: AShare, pos0: number, cache: KvCache | null): Promise<AShare> {
  return resolvedInput(p, await secureHiddenInput(p, m, oneHot, pos0, cache));
}
