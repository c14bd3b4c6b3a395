/** Sequence classification in one call: forward pass, then the pooler + classifier head. */
import { forwardHidden } from './forward.ts';
import { classifierLogits } from './heads.ts';
import type { Model } from './types.ts';

/** Logits [numLabels] for one sequence, e.g. WordPieceTokenizer.encodeForModel's output. */
export function classifySequence(model: Model, input: { readonly ids: readonly number[]; readonly typeIds?: readonly number[] }): Float64Array {
  return classifierLogits(model, forwardHidden(model, input.ids, { typeIds: input.typeIds }));
}
