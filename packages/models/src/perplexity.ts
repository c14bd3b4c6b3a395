/**
 * Language-model perplexity over non-overlapping windows, as nanoGPT-style evaluations do: window w feeds
 * ids[W*w .. W*w+W-1] and scores the next token at every position (targets ids[W*w+1 .. W*w+W]).
 */
import { forwardHidden } from './forward.ts';
import { lmLogits } from './heads.ts';
import { logSoftmaxAt } from './softmax.ts';
import type { Model } from './types.ts';

export interface PerplexityResult {
  /** Mean negative log-likelihood in nats per predicted token. */
  readonly loss: number;
  readonly perplexity: number;
  readonly predictions: number;
  /** Mean loss of each window. */
  readonly windowLosses: readonly number[];
}

/** Rows of logits computed at once: bounds memory to ROW_CHUNK x vocab doubles. */
const ROW_CHUNK = 64;

export function windowedPerplexity(model: Model, ids: readonly number[], windowSize: number, numWindows: number): PerplexityResult {
  if (!Number.isInteger(windowSize) || windowSize <= 0 || windowSize > model.config.maxPositions) {
    throw new Error(`window size ${windowSize} must be an integer in [1, ${model.config.maxPositions}]`);
  }
  if (ids.length < windowSize * numWindows + 1) {
    throw new Error(`${numWindows} windows of ${windowSize} need ${windowSize * numWindows + 1} tokens, got ${ids.length}`);
  }
  const d = model.config.hiddenSize;
  const vocab = model.config.vocabSize;
  const windowLosses: number[] = [];
  let total = 0;
  for (let w = 0; w < numWindows; w++) {
    const start = w * windowSize;
    const input = ids.slice(start, start + windowSize);
    const hidden = forwardHidden(model, input);
    let nll = 0;
    for (let r0 = 0; r0 < windowSize; r0 += ROW_CHUNK) {
      const rows = Math.min(ROW_CHUNK, windowSize - r0);
      const logits = lmLogits(model, hidden.subarray(r0 * d, (r0 + rows) * d), rows);
      for (let r = 0; r < rows; r++) nll -= logSoftmaxAt(logits, ids[start + r0 + r + 1], r * vocab, vocab);
    }
    windowLosses.push(nll / windowSize);
    total += nll;
  }
  const predictions = windowSize * numWindows;
  const loss = total / predictions;
  return { loss, perplexity: Math.exp(loss), predictions, windowLosses };
}
