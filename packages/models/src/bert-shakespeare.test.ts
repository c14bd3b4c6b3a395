/**
 * bert-shakespeare (BERT architecture, trained here): accuracy on all 1,000 examples of eval.jsonl must be
 * SOURCE.md's 81.6% (816/1000), and the MLM-pretrained encoder must give SOURCE.md's top-5 for [MASK].
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifySequence } from './classify.ts';
import { forwardHidden } from './forward.ts';
import { mlmLogits } from './heads.ts';
import { loadHuggingFace } from './hf-loader.ts';
import { loadModel, modelDir, readSafetensorsFile } from './node.ts';
import { argmax } from './softmax.ts';
import type { WordPieceTokenizer } from './tokenizer-wordpiece.ts';
import { validateModel } from './validate.ts';

describe('bert-shakespeare', async () => {
  const dir = modelDir('bert-shakespeare');
  const { model, tokenizer } = await loadModel('bert-shakespeare');
  const tok = tokenizer as WordPieceTokenizer;

  it('loads BertForSequenceClassification names with pooler and classifier', () => {
    expect(model.weights.head.kind).toBe('classifier');
    expect(model.config).toMatchObject({ arch: 'bert', hiddenSize: 128, numLayers: 2, numHeads: 2, headDim: 64, intermediateSize: 512, maxPositions: 128, typeVocabSize: 2, vocabSize: 30522, activation: 'gelu', normEps: 1e-12, normPlacement: 'post', numLabels: 2, labels: ['shuffled', 'acceptable'] });
    expect(model.unusedTensors).toEqual([]);
    validateModel(model);
  });

  it('classifies eval.jsonl with 81.6% accuracy (816 / 1000)', () => {
    const examples = readFileSync(path.join(dir, 'eval.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { text: string; label: number });
    expect(examples.length).toBe(1000);
    let correct = 0;
    for (const { text, label } of examples) {
      if (argmax(classifySequence(model, tok.encodeForModel(text, undefined, model.config.maxPositions))) === label) correct++;
    }
    expect(correct).toBe(816);
  });

  it('the MLM-pretrained encoder (BertForMaskedLM names, tied decoder) predicts SOURCE.md\'s top-5 for [MASK]', async () => {
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    const mlm = loadHuggingFace(config, await readSafetensorsFile(path.join(dir, 'mlm-pretrained.safetensors')));
    expect(mlm.weights.head.kind).toBe('mlm');
    expect(mlm.config.tiedHead).toBe(true);
    expect(mlm.unusedTensors).toEqual([]);
    validateModel(mlm);
    const { ids } = tok.encodeForModel('to be, or not to [MASK]: that is the question');
    const at = ids.indexOf(tok.maskId!);
    const logits = mlmLogits(mlm, forwardHidden(mlm, ids), ids.length).subarray(at * 30522, (at + 1) * 30522);
    const top5 = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]).slice(0, 5);
    expect(top5.map((id) => tok.tokenOf(id))).toEqual([',', ':', '.', 'the', 'and']);
  });
});
