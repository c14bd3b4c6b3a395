/**
 * The plan's rounds and bytes (plan-cost.ts, composed from the ops' declared costs) against real secure runs
 * of real models at small sizes, three parties in this process on WebAssembly. Rounds and bytes are
 * deterministic, so the comparison is exact to the message; the plan must be within 20% (the issue's
 * tolerance) and is reported to the console with its ratio.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { runLocal } from '@puma/protocol';
import { testBackend } from '@puma/protocol/test-support';
import { LLAMA_BOS } from '../tokenizer-llama2c.ts';
import { loadModel } from '../node.ts';
import { classifyClient, classifyParty, generateClient, generateParty, greedy } from './programs.ts';
import { classificationCost, generationCost, type PlannedCost } from './plan-cost.ts';
import { shareWeights } from './share-weights.ts';

const TOLERANCE = 0.2;

function compare(what: string, planned: PlannedCost, measured: { rounds: number; bytes: number[] }): void {
  const ratios = { rounds: planned.cost.rounds / measured.rounds, bytes: planned.cost.bytes.map((b, i) => b / measured.bytes[i]) };
  console.log(`${what}: planned ${planned.cost.rounds} rounds, bytes ${planned.cost.bytes.join(' / ')}; measured ${measured.rounds} rounds, bytes ${measured.bytes.join(' / ')}; ratios ${ratios.rounds.toFixed(3)}, ${ratios.bytes.map((r) => r.toFixed(3)).join(' / ')}`);
  expect(Math.abs(ratios.rounds - 1)).toBeLessThanOrEqual(TOLERANCE);
  for (const r of ratios.bytes) expect(Math.abs(r - 1)).toBeLessThanOrEqual(TOLERANCE);
}

async function measureGeneration(name: string, prompt: number[], newTokens: number, reveal: 'logits' | 'argmax') {
  const { model } = await loadModel(name);
  const bundles = shareWeights(model, name, DEFAULT_FRAC_BITS);
  const run = await runLocal(testBackend(), (p) => generateParty(p, { job: 0, weights: bundles[p.id], promptLength: prompt.length, maxNewTokens: newTokens, reveal }, { progress: () => {} }), {
    client: (c) => generateClient(c, { job: 0, prompt, vocab: model.config.vocabSize, maxNewTokens: newTokens, reveal, pick: greedy }),
  });
  // Every party counts the same rounds; bytes are each party's own (the key exchange's 32 bytes included).
  const rounds = run.results[0].reduce((s, r) => s + r.rounds, 0);
  const bytes = run.results.map((steps) => steps.reduce((s, r) => s + r.bytesSent, 0));
  return { config: model.config, rounds, bytes };
}

describe('plan vs a real secure run (rounds and bytes)', () => {
  it('stories260K (LLaMA: RMSNorm, RoPE, GQA, SwiGLU), 6 prompt tokens → 3 generated, logits revealed', async () => {
    const prompt = [LLAMA_BOS, 403, 407, 261, 378, 426];
    const m = await measureGeneration('stories260K', prompt, 3, 'logits');
    compare('stories260K 6 → 3', generationCost(m.config, prompt.length, 3, 'logits'), m);
  }, 120_000);

  it('stories260K, 4 prompt tokens → 2 generated, only the chosen token revealed', async () => {
    const prompt = [LLAMA_BOS, 403, 407, 261];
    const m = await measureGeneration('stories260K', prompt, 2, 'argmax');
    compare('stories260K 4 → 2 argmax', generationCost(m.config, prompt.length, 2, 'argmax'), m);
  }, 120_000);

  it('gpt2-shakespeare (GPT-2: LayerNorm, learned positions, tanh GeLU), 4 prompt tokens → 2 generated', async () => {
    const prompt = [5962, 22307, 25, 7413];
    const m = await measureGeneration('gpt2-shakespeare', prompt, 2, 'logits');
    compare('gpt2-shakespeare 4 → 2', generationCost(m.config, prompt.length, 2, 'logits'), m);
  }, 180_000);

  it('bert-shakespeare (BERT: post-LN, erf GeLU, pooler and classifier), one 12-token sequence', async () => {
    const { model } = await loadModel('bert-shakespeare');
    const ids = [101, 2034, 6926, 1024, 2077, 2057, 10838, 2151, 2582, 1010, 2963, 102];
    const bundles = shareWeights(model, 'bert-shakespeare', DEFAULT_FRAC_BITS);
    const run = await runLocal(testBackend(), (p) => classifyParty(p, { job: 0, weights: bundles[p.id], length: ids.length }), {
      client: (c) => classifyClient(c, { job: 0, ids, vocab: model.config.vocabSize }),
    });
    compare('bert-shakespeare 12', classificationCost(model.config, ids.length), { rounds: run.results[0].rounds, bytes: run.results.map((r) => r.bytesSent) });
  }, 120_000);

  it('refuses what the pass cannot run, by name', async () => {
    const { model } = await loadModel('gpt2-shakespeare');
    expect(() => generationCost(model.config, 8, 0)).toThrow(/generated tokens must be a positive integer/);
    expect(() => generationCost(model.config, model.config.maxPositions, 2)).toThrow(/positions exceed the model's/);
    expect(() => classificationCost(model.config, 8)).toThrow(/classifier head/);
  });
});
