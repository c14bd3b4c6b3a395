/**
 * The secure pass's norms and the products they feed (forward.ts): where a norm applies its row scale after the
 * product it feeds (normFeeds, nn norm-matmul.ts), and the norm of each residual form (model.ts Residual).
 */
import type { AShare, Party } from '@puma/protocol';
import {
  LAN_BYTES_PER_ROUND, layerNorm, layerNormMatmul, layerNormOfResidual, layerNormOfResidualMatmul, rmsNorm, rmsNormMatmul,
  type BetaProductStore, type NormInput, type NormMatmul, type SumTerm,
} from '@puma/nn';
import { normOptions } from '../norm-windows.ts';
import type { ModelConfig } from '../types.ts';
import { linearMatmul, linearWeight } from './linear-weight.ts';
import { addBias, linear, normAffine, normFolded, normTakesSum, resolvedInput, type Residual, type SecureModel } from './model.ts';

/**
 * The matmul `into` (weight `into`.w, streamed) as the product norm `norm` feeds; its bias is added after. The
 * norm's beta W is kept in m.betaProducts by the first pass that multiplies it, for the later ones.
 */
export function feeds(m: SecureModel, norm: string, into: string, keepY: boolean): NormMatmul {
  const betaProduct: BetaProductStore = {
    get: (zBits) => {
      const kept = m.betaProducts.get(norm);
      if (kept && kept.zBits !== zBits) throw new Error(`secure pass: ${norm}'s kept beta W is at ${kept.zBits} fraction bits, this pass needs ${zBits}`);
      return kept?.betaW;
    },
    keep: (zBits, betaW) => m.betaProducts.set(norm, { zBits, betaW }),
  };
  return { matmul: (q, x, bits) => linearMatmul(q, m.weights, into, x, bits), out: linearWeight(m.weights, into).out, keepY, betaProduct };
}

/** Whether a fused pass of norm `name` multiplies a beta row: LayerNorm, until a pass has kept its beta W. */
export function betaRow(m: SecureModel, name: string): boolean {
  return normHasBeta(m.config) && !normFolded(m, name) && !m.betaProducts.has(name);
}

/**
 * Largest number of extra products a fused norm may cost: R (m W) multiplies rows x out values instead of the
 * rows x n of R m (all rows x out with keepY, which keeps R m too), and a LayerNorm's beta rides as one more row
 * of the matmul, so its product truncates (rows + 1) x out values instead of rows x out. One product with its
 * truncation sends about 8/3 words (21.3 bytes) per party once the dealers rotate; the 2 rounds saved are worth
 * 1.25 MB on PUMA's LAN (5 Gbps, 1 ms per round), so up to 58,593 products. GPT-2-base's 32-token prompt: qkv
 * (51,456) fuses, the MLP's up projection (76,800) and the head (99,746: its beta row alone is 50,257) do not;
 * a generated token fuses qkv and the up projection, not the head (before the beta row was counted the head
 * fused, at about 2.1 MB more per party for 2 rounds); BERT-base at 128 tokens (297,216 and more) does not. On a
 * 100 Mbit/s WAN at 30 ms two rounds are worth 750 KB (35,156 products).
 */
export const NORM_FEED_LIMIT = Math.floor((2 * LAN_BYTES_PER_ROUND) / (64 / 3));

/** Does a norm of `rows` rows of width n feed its product with `out` columns (y kept or not; a beta row or not)? */
export function normFeeds(rows: number, n: number, out: number, keepY: boolean, beta: boolean): boolean {
  return (rows + (beta ? 1 : 0)) * out - (keepY ? 0 : rows * n) <= NORM_FEED_LIMIT;
}

/** Whether the model's norms have a beta (LayerNorm) that rides as a row of a fed matmul (RMSNorm has none). */
export function normHasBeta(c: ModelConfig): boolean {
  return c.norm !== 'rmsnorm';
}

/** Does an RMSNorm taking a residual sum's term (normTakesSum) feed its matmul of `out` columns with it (else the sum is truncated first)? */
export function normFeedsFromSum(c: ModelConfig, rows: number, out: number, keepY: boolean): boolean {
  return c.norm === 'rmsnorm' && normTakesSum(c) && normFeeds(rows, c.hiddenSize, out, keepY, false);
}

/** Does the attention norm of this model feed qkv directly (RoPE rotates the raw product instead)? */
export function normFeedsQkv(c: ModelConfig): boolean {
  return c.positions !== 'rope';
}

/**
 * Does the attention norm of this RoPE model go to nn rmsNormMatmulTermAt for `rows` rows (the product's term at 2f
 * fraction bits, which rope-qkv.ts rotates and truncates)? Pre-norm RMSNorm models, where normFeeds; that op
 * fuses where the norm's window lets R and z share the 2f bits, else runs the norm, then the term.
 */
export function normFeedsQkvTerm(c: ModelConfig, rows: number): boolean {
  return normIntoQkvTerm(c) && normFeeds(rows, c.hiddenSize, qkvColumns(c), false, false);
}

/** RoPE models whose attention norm goes to the qkv term (qkvTermOfNorm: fused or not, by normFeedsQkvTerm). */
export function normIntoQkvTerm(c: ModelConfig): boolean {
  return c.positions === 'rope' && c.norm === 'rmsnorm' && c.normPlacement === 'pre';
}

/** Columns of the fused qkv projection. */
export function qkvColumns(c: ModelConfig): number {
  return (c.numHeads + 2 * c.numKvHeads) * c.headDim;
}

/** A norm's output and the linear layer it feeds: y (null unless kept) and linear(name, y). */
export interface Fed {
  y: AShare | null;
  out: AShare;
}

/**
 * norm(x) and linear(into, norm(x)): with the row scale after the product (nn norm-matmul.ts, in a 'norm' span)
 * where normFeeds, else the norm (in its span) and then the linear layer; x as well. A residual sum's term goes
 * in as it is to a LayerNorm (layerNormOfSumInto; x is then null) and to an RMSNorm where normFeedsFromSum, else
 * it is truncated first.
 */
export async function normInto(p: Party, m: SecureModel, name: string, input: NormInput, into: string, keepY: boolean): Promise<Fed & { x: NormInput | null }> {
  const c = m.config;
  const out = linearWeight(m.weights, into).out;
  const sum = layerNormTerm(m, input);
  if (sum) return layerNormOfSumInto(p, m, name, sum, false, into, keepY);
  if ('term' in input && normFeedsFromSum(c, input.shape[0], out, keepY)) {
    const mm = feeds(m, name, into, keepY);
    const { scale } = await normAffine(p, m, name);
    const r = await p.profile('norm', () => rmsNormMatmul(p, input, scale, c.normEps, mm, normOptions(c, name)));
    p.drop(input.term);
    return { x: r.d, y: r.y, out: await addBias(p, m, into, r.yw) };
  }
  const x = await resolvedInput(p, input);
  if (!normFeeds(x.shape[0], c.hiddenSize, out, keepY, betaRow(m, name))) {
    const y = await p.profile('norm', () => norm(p, m, name, x));
    return { x, y, out: await linear(p, m, into, y) };
  }
  const mm = feeds(m, name, into, keepY);
  const { scale, bias } = await normAffine(p, m, name);
  const r = await p.profile('norm', async () => {
    if (c.norm === 'rmsnorm') return rmsNormMatmul(p, x, scale, c.normEps, mm, normOptions(c, name));
    return layerNormMatmul(p, x, scale, bias, c.normEps, mm, normOptions(c, name));
  });
  return { x, y: r.y, out: await addBias(p, m, into, r.yw) };
}

export async function norm(p: Party, m: SecureModel, name: string, x: AShare): Promise<AShare> {
  const c = m.config;
  const { scale, bias } = await normAffine(p, m, name);
  if (c.norm === 'rmsnorm') return rmsNorm(p, x, scale, c.normEps, normOptions(c, name));
  return layerNorm(p, x, scale, bias, c.normEps, normOptions(c, name));
}

/** h as a sum's term that the model's norm (a LayerNorm) centres itself, never truncating it; else null. */
export function layerNormTerm(m: SecureModel, h: NormInput): SumTerm | null {
  return 'term' in h && m.config.norm === 'layernorm' ? h : null;
}

/**
 * norm(h) for a norm's input h, in a 'norm' span: a LayerNorm centres a sum's term itself (nn
 * layernorm-residual.ts), an RMSNorm's is truncated first. A term is released.
 */
export async function normOfInput(p: Party, m: SecureModel, name: string, h: NormInput): Promise<AShare> {
  const sum = layerNormTerm(m, h);
  if (sum) return layerNormOfSum(p, m, name, sum, false);
  const x = await resolvedInput(p, h);
  return p.profile('norm', () => norm(p, m, name, x));
}

/** LayerNorm of a residual sum's term (nn layerNormOfResidual: the mean on the term, d' with its squares); the term is released unless kept. */
async function layerNormOfSum(p: Party, m: SecureModel, name: string, sum: SumTerm, keep: boolean): Promise<AShare> {
  const { scale, bias } = await normAffine(p, m, name);
  const y = await p.profile('norm', () => layerNormOfResidual(p, sum, scale, bias, m.config.normEps, normOptions(m.config, name)));
  if (!keep) p.drop(sum.term);
  return y;
}

/**
 * layerNormOfSum and linear `into`: fused (the row scale after the product) where normFeeds. With keepSum the
 * term is the x returned (the residual stream goes on from it, untruncated), else it is released.
 */
async function layerNormOfSumInto(p: Party, m: SecureModel, name: string, sum: SumTerm, keepSum: boolean, into: string, keepY: boolean): Promise<Fed & { x: NormInput | null }> {
  const x = keepSum ? sum : null;
  if (!normFeeds(sum.shape[0], m.config.hiddenSize, linearWeight(m.weights, into).out, keepY, betaRow(m, name))) {
    const y = await layerNormOfSum(p, m, name, sum, keepSum);
    return { x, y, out: await linear(p, m, into, y) };
  }
  const mm = feeds(m, name, into, keepY);
  const { scale, bias } = await normAffine(p, m, name);
  const o = await p.profile('norm', () => layerNormOfResidualMatmul(p, sum, scale, bias, m.config.normEps, mm, normOptions(m.config, name)));
  if (!keepSum) p.drop(sum.term);
  return { x, y: o.y, out: await addBias(p, m, into, o.yw) };
}

/**
 * The norm of a residual: x (what the stream goes on from: resolved, or for a LayerNorm of a sum its term, kept
 * with keepSum; else null) and norm(x).
 */
export async function normOfResidual(p: Party, m: SecureModel, name: string, residual: Residual, keepSum: boolean): Promise<{ x: NormInput | null; y: AShare }> {
  const h = residual.x;
  const sum = layerNormTerm(m, h);
  if (sum) return { x: keepSum ? sum : null, y: await layerNormOfSum(p, m, name, sum, keepSum) };
  const x = await resolvedInput(p, h);
  return { x, y: await p.profile('norm', () => norm(p, m, name, x)) };
}

/** normOfResidual followed by linear `into` (fused as normInto): x as there, y (when kept, or unfused) and the linear's output. */
export async function normOfResidualInto(p: Party, m: SecureModel, name: string, r: Residual, keepSum: boolean, into: string, keepY: boolean): Promise<Fed & { x: NormInput | null }> {
  const sum = layerNormTerm(m, r.x);
  if (sum) return layerNormOfSumInto(p, m, name, sum, keepSum, into, keepY);
  return normInto(p, m, name, r.x, into, keepY);
}
