/**
 * The secure-vs-plaintext runs the real models' accuracy tests share (evaluation.test.ts on the models as loaded,
 * norm-windows.test.ts on them with the owner's published norm windows): the same CI-sized subsets, scored by
 * three local parties and by the float64 reference. Each test asserts on the comparison it gets back.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { runLocal } from '@puma/protocol';
import { testBackend } from '@puma/protocol/test-support';
import { classifySequence } from '../classify.ts';
import { forwardHidden } from '../forward.ts';
import { lmLogits } from '../heads.ts';
import { modelDir } from '../node.ts';
import type { Tokenizer } from '../tokenizer.ts';
import type { WordPieceTokenizer } from '../tokenizer-wordpiece.ts';
import type { Model } from '../types.ts';
import {
  classifyManyClient, classifyManyParty, compareClassifier, compareLm, scoreClient, scoreLogits, scoreParty, type ClassifierComparison, type LmComparison,
} from './evaluation.ts';
import { shareWeights } from './share-weights.ts';

/** gpt2-shakespeare: windows of val.txt scored at every position. */
export const LM_WINDOWS = 2;
export const LM_WINDOW_TOKENS = 64;
/** bert-shakespeare: the first examples of eval.jsonl. */
export const CLASSIFIER_EXAMPLES = 24;

const noProgress = { progress: () => {} };

/** gpt2-shakespeare (`model` as loaded or with windows) on the first LM_WINDOWS windows of val.txt. */
export async function gpt2ShakespeareAgreement(model: Model, tokenizer: Tokenizer): Promise<LmComparison> {
  const ids = tokenizer.encode(readFileSync(path.join(modelDir('gpt2-shakespeare'), 'val.txt'), 'utf8'));
  const [windows, W] = [LM_WINDOWS, LM_WINDOW_TOKENS];
  const bundles = shareWeights(model, 'gpt2-shakespeare', DEFAULT_FRAC_BITS);
  const run = await runLocal(testBackend(), (p) => scoreParty(p, { job: 0, weights: bundles[p.id], windows, windowSize: W }, noProgress), {
    client: (c) => scoreClient(c, { job: 0, ids, windows, windowSize: W, vocab: model.config.vocabSize }),
  });
  const plain = Array.from({ length: windows }, (_, w) => {
    const window = ids.slice(w * W, w * W + W);
    return scoreLogits(lmLogits(model, forwardHidden(model, window), W), ids.slice(w * W + 1, w * W + W + 1), model.config.vocabSize);
  });
  return compareLm(run.client, plain);
}

/** bert-shakespeare (`model` as loaded or with windows) on the first CLASSIFIER_EXAMPLES examples of eval.jsonl. */
export async function bertShakespeareAgreement(model: Model, tokenizer: Tokenizer): Promise<ClassifierComparison> {
  const tok = tokenizer as WordPieceTokenizer;
  const lines = readFileSync(path.join(modelDir('bert-shakespeare'), 'eval.jsonl'), 'utf8').trim().split('\n').slice(0, CLASSIFIER_EXAMPLES);
  const subset = lines.map((l) => JSON.parse(l) as { text: string; label: number });
  const encoded = subset.map((e) => tok.encodeForModel(e.text, undefined, model.config.maxPositions));
  const bundles = shareWeights(model, 'bert-shakespeare', DEFAULT_FRAC_BITS);
  const run = await runLocal(testBackend(), (p) => classifyManyParty(p, { job: 0, weights: bundles[p.id], lengths: encoded.map((e) => e.ids.length) }, noProgress), {
    client: (c) => classifyManyClient(c, { job: 0, examples: encoded.map((e) => e.ids), vocab: model.config.vocabSize }),
  });
  return compareClassifier(run.client, encoded.map((e) => classifySequence(model, e)), subset.map((e) => e.label));
}
