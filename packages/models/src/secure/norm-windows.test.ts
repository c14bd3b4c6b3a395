/**
 * Norm windows published in the model description (norm-windows.ts, issue 12), on the real models with the
 * windows their owner publishes (apps/cli domain-guard.ts: the calibration text, 8 octaves each side):
 * - a party refuses a malformed window, naming the field; a description without one runs as before;
 * - the plan (plan-cost.ts) equals a secure run's rounds and bytes, and is fewer rounds than without windows;
 * - accuracy as evaluation.test.ts asserts it without windows: gpt2-shakespeare top-1 agreement >= 99% and
 *   perplexity within 1% on 2 windows of 64 val tokens, bert-shakespeare label agreement >= 99% and accuracy
 *   within 0.5 points on the first 24 eval examples (stories260K: apps/cli generate.test.ts, 80 tokens, whose
 *   `puma generate` publishes the windows).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { runLocal } from '@puma/protocol';
import { testBackend } from '@puma/protocol/test-support';
import { checkDomain } from '../domain-check.ts';
import { loadModel } from '../node.ts';
import { checkNormWindows, windowsFromRanges, withNormWindows } from '../norm-windows.ts';
import { LLAMA_BOS } from '../tokenizer-llama2c.ts';
import type { Model, ModelConfig } from '../types.ts';
import { bertShakespeareAgreement, CLASSIFIER_EXAMPLES, gpt2ShakespeareAgreement, LM_WINDOW_TOKENS, LM_WINDOWS } from './accuracy-test-support.ts';
import { classificationCost, generationCost } from './plan-cost.ts';
import { classifyClient, classifyParty, generateClient, generateParty, greedy } from './programs.ts';
import { shareWeights } from './share-weights.ts';

const noProgress = { progress: () => {} };

async function published(name: string): Promise<{ model: Model; plain: Model; tokenizer: Awaited<ReturnType<typeof loadModel>>['tokenizer'] }> {
  const { model, tokenizer } = await loadModel(name);
  const windows = windowsFromRanges(model.config, checkDomain(model, { tokenizer }).normRanges, DEFAULT_FRAC_BITS);
  return { model: withNormWindows(model, windows), plain: model, tokenizer };
}

describe('a party checks the published windows', () => {
  const c = { normPlacement: 'pre', numLayers: 2, hiddenSize: 64, normEps: 1e-5 } as ModelConfig;
  const bad = (normWindows: unknown) => () => checkNormWindows({ ...c, normWindows } as unknown as ModelConfig, 18);

  it('absent or well formed: accepted', () => {
    expect(() => checkNormWindows(c, 18)).not.toThrow();
    expect(bad({ 'l0.attnNorm': [-2, 5.25], final: [0, 3] })).not.toThrow();
  });

  it('malformed: refused, naming the field', () => {
    expect(bad([1, 2])).toThrow(/model description field normWindows must be an object/);
    expect(bad({ 'l2.attnNorm': [0, 1] })).toThrow(/normWindows\["l2.attnNorm"\]: this model has no such norm/);
    expect(bad({ 'l0.mlpNorm': [0] })).toThrow(/normWindows\["l0.mlpNorm"\] must be \[lo, hi\], two finite numbers/);
    expect(bad({ 'l0.mlpNorm': [0, null] })).toThrow(/normWindows\["l0.mlpNorm"\] must be \[lo, hi\]/);
    expect(bad({ final: [3, 3] })).toThrow(/normWindows\["final"\]: lo 3 must be below hi 3/);
    expect(bad({ final: [-30, -20] })).toThrow(/normWindows\["final"\]: 2\^-20 must exceed the norm's eps/);
    expect(bad({ final: [0, 21] })).toThrow(/normWindows\["final"\]: 2\^21 exceeds the largest variance the ring holds at 18 fraction bits, 2\^20.00/);
  });
});

async function generationRun(model: Model, prompt: number[], newTokens: number) {
  const bundles = shareWeights(model, 'windowed', DEFAULT_FRAC_BITS);
  const run = await runLocal(testBackend(), (p) => generateParty(p, { job: 0, weights: bundles[p.id], promptLength: prompt.length, maxNewTokens: newTokens, reveal: 'logits' }, noProgress), {
    client: (c) => generateClient(c, { job: 0, prompt, vocab: model.config.vocabSize, maxNewTokens: newTokens, reveal: 'logits', pick: greedy }),
  });
  return { rounds: run.results[0].reduce((s, r) => s + r.rounds, 0), bytes: run.results.map((steps) => steps.reduce((s, r) => s + r.bytesSent, 0)) };
}

describe('plan = measured with the published windows, and fewer rounds', () => {
  it.each([
    ['stories260K', [LLAMA_BOS, 403, 407, 261, 378, 426], 3],
    ['gpt2-shakespeare', [5962, 22307, 25, 7413], 2],
  ] as const)('%s generation', async (name, prompt, newTokens) => {
    const { model, plain } = await published(name);
    const planned = generationCost(model.config, prompt.length, newTokens, 'logits');
    const before = generationCost(plain.config, prompt.length, newTokens, 'logits');
    const measured = await generationRun(model, [...prompt], newTokens);
    console.log(`${name} ${prompt.length} -> ${newTokens}: windows ${JSON.stringify(model.config.normWindows)}`);
    console.log(`${name}: planned ${planned.cost.rounds} rounds, ${planned.cost.bytes.join(' / ')} bytes; measured ${measured.rounds}, ${measured.bytes.join(' / ')}; without windows ${before.cost.rounds} rounds, ${before.cost.bytes.join(' / ')}`);
    expect(measured.rounds).toBe(planned.cost.rounds);
    expect(measured.bytes).toEqual(planned.cost.bytes);
    expect(planned.cost.rounds).toBeLessThan(before.cost.rounds);
  }, 240_000);

  it('bert-shakespeare, one 12-token sequence', async () => {
    const { model, plain } = await published('bert-shakespeare');
    const ids = [101, 2034, 6926, 1024, 2077, 2057, 10838, 2151, 2582, 1010, 2963, 102];
    const bundles = shareWeights(model, 'bert-shakespeare', DEFAULT_FRAC_BITS);
    const run = await runLocal(testBackend(), (p) => classifyParty(p, { job: 0, weights: bundles[p.id], length: ids.length }), {
      client: (c) => classifyClient(c, { job: 0, ids, vocab: model.config.vocabSize }),
    });
    const planned = classificationCost(model.config, ids.length);
    const before = classificationCost(plain.config, ids.length);
    console.log(`bert-shakespeare 12: planned ${planned.cost.rounds} rounds, ${planned.cost.bytes.join(' / ')}; measured ${run.results[0].rounds}, ${run.results.map((r) => r.bytesSent).join(' / ')}; without windows ${before.cost.rounds}, ${before.cost.bytes.join(' / ')}`);
    expect(run.results[0].rounds).toBe(planned.cost.rounds);
    // classifyParty counts the session's bytes from its start: the parties' 32-byte key exchange besides the pass.
    expect(run.results.map((r) => r.bytesSent - 32)).toEqual(planned.cost.bytes);
    expect(planned.cost.rounds).toBeLessThan(before.cost.rounds);
  }, 240_000);
});

describe('accuracy with the published windows', () => {
  it(`gpt2-shakespeare, ${LM_WINDOWS} windows of ${LM_WINDOW_TOKENS} val tokens: top-1 agreement >= 99%, perplexity within 1%`, async () => {
    const { model, tokenizer } = await published('gpt2-shakespeare');
    const cmp = await gpt2ShakespeareAgreement(model, tokenizer!);
    console.log(`gpt2-shakespeare with windows: top-1 agreement ${cmp.top1Agreement}, perplexity ${cmp.securePerplexity.toFixed(4)} vs ${cmp.plaintextPerplexity.toFixed(4)} (relative ${cmp.perplexityRelError.toExponential(2)})`);
    expect(cmp.top1Agreement).toBeGreaterThanOrEqual(0.99);
    expect(cmp.perplexityRelError).toBeLessThanOrEqual(0.01);
  }, 400_000);

  it(`bert-shakespeare, first ${CLASSIFIER_EXAMPLES} eval examples: label agreement >= 99%, accuracy within 0.5 points`, async () => {
    const { model, tokenizer } = await published('bert-shakespeare');
    const cmp = await bertShakespeareAgreement(model, tokenizer!);
    console.log(`bert-shakespeare with windows: label agreement ${cmp.labelAgreement}, accuracy ${cmp.secureAccuracy} vs ${cmp.plaintextAccuracy}, max logit error ${cmp.maxLogitError.toExponential(3)}`);
    expect(cmp.labelAgreement).toBeGreaterThanOrEqual(0.99);
    expect(Math.abs(cmp.secureAccuracy - cmp.plaintextAccuracy)).toBeLessThanOrEqual(0.005);
    expect(cmp.maxLogitError).toBeLessThan(0.05);
  }, 400_000);
});
