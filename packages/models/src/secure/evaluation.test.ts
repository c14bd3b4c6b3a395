/**
 * Secure vs plaintext on the two models trained on real text (the models issue's accuracy claims), on subsets
 * sized for CI; `puma eval` runs the full files.
 * - gpt2-shakespeare: the first windows of val.txt scored securely at every position: top-1 agreement with
 *   the float64 reference >= 99% and perplexity within 1%.
 * - bert-shakespeare: the first examples of eval.jsonl classified securely: label agreement >= 99% and
 *   accuracy within 0.5 points (on a subset this small both mean: no label differs).
 */
import { describe, expect, it } from 'vitest';
import { loadModel } from '../node.ts';
import { bertShakespeareAgreement, CLASSIFIER_EXAMPLES, gpt2ShakespeareAgreement, LM_WINDOW_TOKENS, LM_WINDOWS } from './accuracy-test-support.ts';
import { compareClassifier, compareLm, logitPathError, scoreLogits } from './evaluation.ts';

describe('secure vs plaintext: gpt2-shakespeare on val.txt', () => {
  it(`${LM_WINDOWS} windows of ${LM_WINDOW_TOKENS} tokens: top-1 agreement >= 99%, perplexity within 1%`, async () => {
    const { model, tokenizer } = await loadModel('gpt2-shakespeare');
    const cmp = await gpt2ShakespeareAgreement(model, tokenizer!);
    expect(cmp.positions).toBe(LM_WINDOWS * LM_WINDOW_TOKENS);
    expect(cmp.top1Agreement).toBeGreaterThanOrEqual(0.99);
    expect(cmp.perplexityRelError).toBeLessThanOrEqual(0.01);
    expect(cmp.plaintextPerplexity).toBeGreaterThan(20);
  }, 300_000);
});

describe('secure vs plaintext: bert-shakespeare on eval.jsonl', () => {
  it(`first ${CLASSIFIER_EXAMPLES} examples: label agreement >= 99%, accuracy within 0.5 points`, async () => {
    const { model, tokenizer } = await loadModel('bert-shakespeare');
    const cmp = await bertShakespeareAgreement(model, tokenizer!);
    expect(cmp.examples).toBe(CLASSIFIER_EXAMPLES);
    expect(cmp.labelAgreement).toBeGreaterThanOrEqual(0.99);
    expect(Math.abs(cmp.secureAccuracy - cmp.plaintextAccuracy)).toBeLessThanOrEqual(0.005);
    expect(cmp.maxLogitError).toBeLessThan(0.05);
  }, 300_000);
});

describe('comparison arithmetic', () => {
  it('compareLm: perplexity from mean NLL, agreement by position', () => {
    const a = { top1: Int32Array.from([1, 2, 3, 4]), nll: Float64Array.from([1, 1, 1, 1]) };
    const b = { top1: Int32Array.from([1, 2, 3, 5]), nll: Float64Array.from([1, 1, 2, 2]) };
    const cmp = compareLm([a], [b]);
    expect(cmp.top1Agreement).toBe(0.75);
    expect(cmp.securePerplexity).toBeCloseTo(Math.E, 12);
    expect(cmp.plaintextPerplexity).toBeCloseTo(Math.exp(1.5), 12);
    expect(() => compareLm([a], [])).toThrow(/1 secure windows vs 0/);
  });

  it('scoreLogits: argmax and NLL of the target per row', () => {
    const s = scoreLogits(Float64Array.from([0, 0, Math.log(2), 5, 0, 0]), [2, 1], 3);
    expect(Array.from(s.top1)).toEqual([2, 0]);
    expect(s.nll[0]).toBeCloseTo(Math.log(4) - Math.log(2), 12);
    expect(() => scoreLogits(new Float64Array(6), [0], 3)).toThrow(/2 rows, expected 1/);
  });

  it('compareClassifier: accuracy, agreement and logit error', () => {
    const s = [Float64Array.from([0, 1]), Float64Array.from([1, 0])];
    const p = [Float64Array.from([0, 1.5]), Float64Array.from([0, 1])];
    expect(compareClassifier(s, p, [1, 1])).toEqual({ examples: 2, secureAccuracy: 0.5, plaintextAccuracy: 1, labelAgreement: 0.5, maxLogitError: 1 });
  });
});

describe('logitPathError (stories260K)', async () => {
  const { model } = await loadModel('stories260K');
  it('is zero for the plaintext logits themselves and finds a perturbation at its step', async () => {
    const { DecoderSession } = await import('../decoder.ts');
    const { argmax } = await import('../softmax.ts');
    const s = new DecoderSession(model);
    const steps: Array<{ token: number; logits: Float64Array }> = [];
    let logits = s.prefill([1]);
    for (let i = 0; i < 5; i++) {
      steps.push({ token: argmax(logits), logits: logits.slice() });
      logits = s.step(steps[i].token);
    }
    expect(logitPathError(model, [1], steps).maxAbsError).toBe(0);
    steps[3].logits[7] += 0.01;
    const r = logitPathError(model, [1], steps);
    expect(r.step).toBe(3);
    expect(r.maxAbsError).toBeCloseTo(0.01, 9);
    expect(r.minTop2Gap).toBeGreaterThan(0);
  });
});
