/**
 * Which norms the model owner shares without their affine part. A norm that feeds exactly one matmul and
 * nothing else can have gamma and beta folded into it: norm(x) W + b = (d R) W' + b' with W' = diag(gamma) W
 * and b' = b + beta W (share-weights.ts builds W' and b'; nn norm.ts noScale runs the norm without gamma). In
 * pre-norm models (GPT-2, LLaMA) that is each layer's attention and MLP norm. Not the final norm, whose matmul
 * is the head (a tied head is read from the embedding table, which must stay as it is), and not the norms of
 * post-norm models (BERT), whose output is also the residual. The parties learn which norms are folded from the
 * manifest (a folded norm has no scale tensor), the plan from this rule.
 */
import type { ModelConfig } from '../types.ts';

export function foldsNormAffine(c: ModelConfig, name: string): boolean {
  return c.normPlacement === 'pre' && /^l\d+\.(attnNorm|mlpNorm)$/.test(name);
}
