/** Output heads over final hidden states [rows, hidden] (see HeadWeights), float64. */
import { activate, tanh } from './activations.ts';
import { linear } from './matmul.ts';
import { applyNorm } from './norms.ts';
import type { Model } from './types.ts';

/** LM logits [rows, vocab]. */
export function lmLogits(model: Model, hidden: Float64Array, rows: number): Float64Array {
  const head = model.weights.head;
  if (head.kind !== 'lm') throw new Error(`model has a ${head.kind} head, not an LM head`);
  return linear(hidden, rows, head);
}

/** The last row of hidden states [rows, hidden]. */
export function lastRow(hidden: Float64Array, rows: number): Float64Array {
  const d = hidden.length / rows;
  return hidden.slice((rows - 1) * d, rows * d);
}

/** BERT pooled output tanh(pooler(h[0])) [hidden], from the first ([CLS]) row. */
export function pooledOutput(model: Model, hidden: Float64Array): Float64Array {
  const head = model.weights.head;
  const pooler = head.kind === 'classifier' || head.kind === 'none' ? head.pooler : undefined;
  if (!pooler) throw new Error(`model has no pooler (head: ${head.kind})`);
  return tanh(linear(hidden.subarray(0, model.config.hiddenSize), 1, pooler));
}

/** Sequence-classification logits [numLabels] = classifier(tanh(pooler(h[0]))). */
export function classifierLogits(model: Model, hidden: Float64Array): Float64Array {
  const head = model.weights.head;
  if (head.kind !== 'classifier') throw new Error(`model has a ${head.kind} head, not a classifier`);
  return linear(pooledOutput(model, hidden), 1, head.classifier);
}

/** Masked-LM logits [rows, vocab] = decoder(norm(act(transform(h)))). */
export function mlmLogits(model: Model, hidden: Float64Array, rows: number): Float64Array {
  const head = model.weights.head;
  if (head.kind !== 'mlm') throw new Error(`model has a ${head.kind} head, not a masked-LM head`);
  const t = applyNorm(activate(linear(hidden, rows, head.transform), model.config.activation), rows, head.norm);
  return linear(t, rows, head.decoder);
}
