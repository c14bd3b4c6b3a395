/** Greedy (argmax) generation on a DecoderSession. */
import { DecoderSession } from './decoder.ts';
import { argmax } from './softmax.ts';
import type { Model } from './types.ts';

export interface GreedyOptions {
  /** Stop after producing one of these ids (it is included in the output). */
  readonly stopIds?: readonly number[];
  /** Called with each new id as it is chosen. */
  readonly onToken?: (id: number) => void;
}

/** The prompt followed by up to maxNewTokens greedily chosen ids (fewer at a stop id or the position limit). */
export function generateGreedy(model: Model, prompt: readonly number[], maxNewTokens: number, options: GreedyOptions = {}): number[] {
  if (prompt.length === 0) throw new Error('generation needs a non-empty prompt (e.g. the BOS id)');
  const limit = model.config.maxPositions;
  if (prompt.length > limit) throw new Error(`prompt of ${prompt.length} tokens exceeds the model's ${limit} positions`);
  const session = new DecoderSession(model);
  const out = [...prompt];
  let logits = session.prefill(prompt);
  for (let n = 0; n < maxNewTokens; n++) {
    const next = argmax(logits);
    out.push(next);
    options.onToken?.(next);
    if (options.stopIds?.includes(next) || out.length >= limit) break;
    logits = session.step(next);
  }
  return out;
}
