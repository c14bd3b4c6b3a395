/**
 * `puma plan`: shapes read from a model folder without loading weights equal what the loaders build, the
 * command prints one JSON document with --json, a folder too large to load for the calibration plans without
 * norm windows, and bad input is named.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '@puma/models';
import { loadModel } from '@puma/models/node';
import { planInference } from '@puma/models/secure';
import { guardDomain } from './domain-guard.ts';
import { resolvePlanModel } from './plan-model.ts';
import { exitOf, puma } from './session-test-harness.ts';

describe('puma plan', () => {
  for (const name of ['stories260K', 'gpt2-shakespeare', 'bert-shakespeare']) {
    it(`${name}: the config read from config.json or the llama2.c header is the loader's`, async () => {
      const planned = await resolvePlanModel(name);
      const { model } = await loadModel(name);
      // Token ids do not change the shape, and a BERT loader decides tiedHead from the tensors it finds (a
      // classifier has no LM head to tie); the plan takes the head from numLabels.
      const { bosTokenId: _b, eosTokenId: _e, tiedHead: _t, ...loaded } = model.config;
      const { bosTokenId: _b2, eosTokenId: _e2, tiedHead: _t2, ...read } = planned.config;
      expect(read).toEqual(loaded);
    });
  }

  it('--json prints the plan of a named shape as one document', async () => {
    const exit = await exitOf(puma('puma plan', ['plan', '--model', 'gpt2-base', '--tokens', '32', '--network', 'wan', '--json']), 60_000);
    expect(exit.code, exit.stderr).toBe(0);
    const doc = JSON.parse(exit.stdout) as { model: string; rounds: number; maxBytesPerParty: number; network: { rttMs: number } };
    expect(doc.model).toBe('gpt2-base');
    expect(doc.network.rttMs).toBe(30);
    const { PLAN_SHAPES } = await import('@puma/models/secure');
    const expected = planInference(PLAN_SHAPES['gpt2-base'](), { kind: 'generate', promptTokens: 32, newTokens: 1, reveal: 'logits' });
    expect(doc.rounds).toBe(expected.rounds);
    expect(doc.maxBytesPerParty).toBe(expected.maxBytesPerParty);
  }, 90_000);

  it('a model folder plans with the norm windows its owner publishes (as puma share), or without them with --skip-domain-check', async () => {
    const run = async (...extra: string[]) => {
      const exit = await exitOf(puma('puma plan', ['plan', '--model', 'bert-shakespeare', '--tokens', '12', '--json', ...extra]), 60_000);
      expect(exit.code, exit.stderr).toBe(0);
      return JSON.parse(exit.stdout) as { rounds: number; bytesPerParty: number[]; config: { normWindows?: Record<string, [number, number]> } };
    };
    const [published, skipped] = [await run(), await run('--skip-domain-check')];
    const { model, tokenizer } = await loadModel('bert-shakespeare');
    const shared = guardDomain(model, 'bert-shakespeare', { tokenizer });
    expect(published.config.normWindows).toEqual(shared.config.normWindows);
    const expected = planInference(shared.config, { kind: 'classify', tokens: 12 });
    expect([published.rounds, published.bytesPerParty]).toEqual([expected.rounds, expected.bytesPerParty]);
    // packages/models/src/secure/norm-windows.test.ts measures a secure run of this sequence with these windows.
    expect(skipped.config.normWindows).toBeUndefined();
    expect(skipped.rounds).toBe(planInference(model.config, { kind: 'classify', tokens: 12 }).rounds);
    expect(published.rounds).toBeLessThan(skipped.rounds);
  }, 120_000);

  it('a model folder too large to load for the calibration plans without windows, reading only its config (and says so)', async () => {
    // LLaMA-2-7B's config beside an empty weights file: loading it would fail, so the plan must not.
    const dir = await mkdtemp(path.join(tmpdir(), 'puma-plan-7b-'));
    try {
      await writeFile(path.join(dir, 'config.json'), JSON.stringify({
        architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 4096, intermediate_size: 11008, num_attention_heads: 32,
        num_hidden_layers: 32, num_key_value_heads: 32, vocab_size: 32000, max_position_embeddings: 4096, rms_norm_eps: 1e-5,
        rope_theta: 10000, tie_word_embeddings: false, hidden_act: 'silu', torch_dtype: 'float16',
      }));
      await writeFile(path.join(dir, 'model.safetensors'), '');
      const exit = await exitOf(puma('puma plan', ['plan', '--model', dir, '--tokens', '8', '--json']), 60_000);
      expect(exit.code, exit.stderr).toBe(0);
      expect(exit.stderr).toMatch(/planned without norm windows .*6738 M weights are more than plan loads for the calibration \(500 M\)/);
      const doc = JSON.parse(exit.stdout) as { rounds: number; config: ModelConfig };
      expect(doc.config.normWindows).toBeUndefined();
      expect(doc.rounds).toBe(planInference(doc.config, { kind: 'generate', promptTokens: 8, newTokens: 1, reveal: 'logits' }).rounds);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('names an unknown model or shape, a bad network, and a classifier asked to generate', async () => {
    await expect(resolvePlanModel('no-such-model')).rejects.toThrow(/not found.*or name a shape: gpt2-base, bert-base, llama2-7b/);
    const net = await exitOf(puma('puma plan', ['plan', '--model', 'gpt2-base', '--network', 'moon']), 60_000);
    expect(net.code).toBe(2);
    expect(net.stderr).toMatch(/--network must be lan or wan, got "moon"/);
    const bert = await exitOf(puma('puma plan', ['plan', '--model', 'bert-base', '--new-tokens', '2']), 60_000);
    expect(bert.code).toBe(2);
    expect(bert.stderr).toMatch(/BERT classifier: it generates nothing/);
  }, 120_000);
});
