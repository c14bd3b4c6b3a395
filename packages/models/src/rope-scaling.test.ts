/**
 * rope_scaling: the inverse frequencies the loader derives from real configs' rope_scaling, against values
 * computed here independently from the published definitions (transformers' rope_scaling documentation and
 * "RoPE utilities"; Chen et al. 2023 for linear; Meta's Llama 3.1 release for llama3; Peng et al. 2023, YaRN,
 * sections 3.2 and 3.4, with transformers' rounded correction range), then secure generations with scaled
 * RoPE (YaRN, which also scales cos and sin; dynamic NTK past the trained length, whose base changes per step) against
 * the float64 reference.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { runLocal } from '@puma/protocol';
import { testBackend } from '@puma/protocol/test-support';
import { DecoderSession } from './decoder.ts';
import { forwardHidden } from './forward.ts';
import { generateGreedy } from './generate.ts';
import { lmLogits } from './heads.ts';
import { llamaFamilyConfig } from './hf-llama-config.ts';
import { hfLlamaFiles } from './hf-llama-writer.ts';
import { loadModel } from './node.ts';
import { applyRope, ropeFrequencies } from './rope.ts';
import { generateClient, generateParty, greedy } from './secure/programs.ts';
import { shareWeights } from './secure/share-weights.ts';
import { STORIES_REFERENCE_TOKENS } from './test-fixtures.ts';
import type { Model } from './types.ts';

/** A LLaMA-family config.json with the given RoPE settings. */
function config(headDim: number, theta: number, maxPositions: number, ropeScaling: unknown) {
  return llamaFamilyConfig({
    model_type: 'llama', vocab_size: 32, hidden_size: headDim * 2, num_hidden_layers: 1, num_attention_heads: 2,
    intermediate_size: 8, max_position_embeddings: maxPositions, rope_theta: theta, rope_scaling: ropeScaling,
  }).config;
}

function frequencies(c: ReturnType<typeof config>, seqLen: number) {
  return ropeFrequencies(c.headDim, c.ropeTheta, c.ropeScaling, seqLen);
}

/** theta^(-2i/d), i = 0 .. d/2 - 1: unscaled RoPE. */
function plain(d: number, theta: number): number[] {
  return Array.from({ length: d / 2 }, (_, i) => 1 / theta ** ((2 * i) / d));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[]) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i]), `frequency ${i}`).toBeLessThanOrEqual(1e-12 * Math.abs(expected[i]));
}

describe('rope_scaling: inverse frequencies from real configs against the published formulas', () => {
  it('none and "default": theta^(-2i/d)', () => {
    expectClose(frequencies(config(128, 10000, 4096, null), 10).inverse, plain(128, 10000));
    expectClose(frequencies(config(128, 10000, 4096, { rope_type: 'default' }), 10).inverse, plain(128, 10000));
  });

  it('linear (LongChat-style, factor 8): every frequency divided by the factor', () => {
    const c = config(128, 10000, 16384, { type: 'linear', factor: 8 });
    expectClose(frequencies(c, 100).inverse, plain(128, 10000).map((f) => f / 8));
    expect(c.maxPositions).toBe(16384);
  });

  it('dynamic NTK (factor 2 over 4096 positions): unchanged up to 4096, a larger base beyond, up to 8192 positions', () => {
    const c = config(128, 10000, 4096, { type: 'dynamic', factor: 2 });
    expect(c.maxPositions).toBe(8192);
    expectClose(frequencies(c, 4096).inverse, plain(128, 10000));
    for (const L of [4097, 6000, 8192]) {
      const base = 10000 * ((2 * L) / 4096 - 1) ** (128 / 126);
      expectClose(frequencies(c, L).inverse, plain(128, base));
    }
  });

  it('llama3 (Llama 3.1 8B: theta 500000, factor 8, low 1, high 4, 8192 original positions): clamped linear blend by wavelength', () => {
    const c = config(128, 500000, 131072, { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 });
    const expected = plain(128, 500000).map((f) => {
      const wavelength = (2 * Math.PI) / f;
      const keep = Math.min(1, Math.max(0, (8192 / wavelength - 1) / (4 - 1)));
      return keep * f + (1 - keep) * (f / 8);
    });
    const got = frequencies(c, 10).inverse;
    expectClose(got, expected);
    expect(got[0]).toBe(1); // the fastest pair is untouched, the slowest divided by 8
    expect(got[63]).toBeCloseTo(plain(128, 500000)[63] / 8, 15);
    expect(frequencies(c, 10).attentionFactor).toBe(1);
  });

  it('yarn (Qwen2.5 style: theta 1e6, factor 4, 32768 original positions): ramp over the pair index, attention factor 0.1 ln 4 + 1', () => {
    const c = config(128, 1e6, 131072, { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32768 });
    // The pair index j at which a wavelength 2 pi theta^(2j/d) fits b times into the original context.
    const pairWith = (b: number) => (64 * Math.log(32768 / (2 * Math.PI * b))) / Math.log(1e6);
    const low = Math.max(0, Math.floor(pairWith(32)));
    const high = Math.min(127, Math.ceil(pairWith(1)));
    const expected = plain(128, 1e6).map((f, j) => {
      const keep = Math.min(1, Math.max(0, (high - j) / (high - low)));
      return keep * f + (1 - keep) * (f / 4);
    });
    const got = frequencies(c, 10);
    expectClose(got.inverse, expected);
    expect(got.attentionFactor).toBeCloseTo(0.1 * Math.log(4) + 1, 15);
    expect(frequencies(config(128, 1e6, 131072, { rope_type: 'yarn', factor: 4, attention_factor: 0.5 }), 1).attentionFactor).toBe(0.5);
  });

  it('applyRope rotates each pair by position x scaled frequency and scales by the attention factor', () => {
    const c = config(8, 10000, 512, { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 128 });
    const f = frequencies(c, 8);
    const x = Float64Array.from({ length: 2 * 8 }, (_, i) => Math.sin(i + 1));
    const y = Float64Array.from(x);
    applyRope(y, 2, 1, 8, 6, c.ropeTheta, c.ropeScaling);
    for (let r = 0; r < 2; r++) {
      for (let i = 0; i < 4; i++) {
        const angle = (6 + r) * f.inverse[i];
        const [a, b] = [x[r * 8 + 2 * i], x[r * 8 + 2 * i + 1]];
        expect(y[r * 8 + 2 * i]).toBeCloseTo(f.attentionFactor * (a * Math.cos(angle) - b * Math.sin(angle)), 14);
        expect(y[r * 8 + 2 * i + 1]).toBeCloseTo(f.attentionFactor * (a * Math.sin(angle) + b * Math.cos(angle)), 14);
      }
    }
  });
});

describe('rope_scaling in the secure forward pass', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'puma-rope-scaling-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('stories260K in HF layout with YaRN scaling: secure greedy tokens equal the scaled float64 reference, whose logits differ from unscaled', async () => {
    const { model: original } = await loadModel('stories260K');
    const files = hfLlamaFiles(original);
    const cfg = JSON.parse(new TextDecoder().decode(files['config.json']));
    for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(root, name), bytes);
    writeFileSync(path.join(root, 'config.json'), JSON.stringify({ ...cfg, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 128 } }));
    const { model } = await loadModel(root);
    expect(model.config.ropeScaling?.type).toBe('yarn');

    const prompt = STORIES_REFERENCE_TOKENS.slice(0, 6);
    const steps = 4;
    const lastLogits = (m: Model) => lmLogits(m, forwardHidden(m, prompt), prompt.length).slice((prompt.length - 1) * m.config.vocabSize);
    const scaled = lastLogits(model);
    const unscaled = lastLogits(original);
    expect(maxAbsDiff(scaled, unscaled)).toBeGreaterThan(0.1);

    const bundles = shareWeights(model, 'stories260K-yarn', DEFAULT_FRAC_BITS);
    const run = await runLocal(testBackend(), (p) => generateParty(p, { job: 0, weights: bundles[p.id], promptLength: prompt.length, maxNewTokens: steps, reveal: 'logits' }, { progress: () => {} }), {
      client: (c) => generateClient(c, { job: 0, prompt, vocab: model.config.vocabSize, maxNewTokens: steps, reveal: 'logits', pick: greedy }),
    });
    expect(run.client.map((s) => s.token)).toEqual(generateGreedy(model, prompt, steps).slice(prompt.length));
    const err = maxAbsDiff(run.client[0].logits!, scaled);
    // Same bound as the unscaled HF test: fixed point (18 fraction bits) plus the nn approximations; 0.0039 measured.
    expect(err).toBeLessThan(0.015);
  }, 120_000);

  it('dynamic NTK past the trained length (8 positions, factor 4): the base grows per step in both passes alike, secure tokens equal the reference', async () => {
    const { model: original } = await loadModel('stories260K');
    const files = hfLlamaFiles(original);
    const cfg = JSON.parse(new TextDecoder().decode(files['config.json']));
    const dir = path.join(root, 'dynamic');
    mkdirSync(dir);
    for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(dir, name), bytes);
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, max_position_embeddings: 8, rope_scaling: { type: 'dynamic', factor: 4 } }));
    const { model } = await loadModel(dir);
    expect(model.config.maxPositions).toBe(32);

    // A 6-token prompt and 5 steps reach position 10: steps 3 to 5 run with a larger base than the prompt did.
    const prompt = STORIES_REFERENCE_TOKENS.slice(0, 6);
    const steps = 5;
    const plain = generateGreedy(model, prompt, steps).slice(prompt.length);
    /** The cached reference's logits at the last step (the path generateGreedy takes). */
    const lastStepLogits = (m: Model) => {
      const session = new DecoderSession(m);
      let logits = session.prefill(prompt);
      for (const t of plain.slice(0, -1)) logits = session.step(t);
      return logits;
    };
    const scaled = lastStepLogits(model);
    const unscaled = lastStepLogits(original);
    const bundles = shareWeights(model, 'stories260K-dynamic', DEFAULT_FRAC_BITS);
    const run = await runLocal(testBackend(), (p) => generateParty(p, { job: 0, weights: bundles[p.id], promptLength: prompt.length, maxNewTokens: steps, reveal: 'logits' }, { progress: () => {} }), {
      client: (c) => generateClient(c, { job: 0, prompt, vocab: model.config.vocabSize, maxNewTokens: steps, reveal: 'logits', pick: greedy }),
    });
    expect(run.client.map((s) => s.token)).toEqual(plain);
    const last = run.client[steps - 1].logits!;
    expect(maxAbsDiff(scaled, unscaled)).toBeGreaterThan(0.05);
    expect(maxAbsDiff(last, scaled)).toBeLessThan(0.015); // 0.0022 measured; dynamic changed the logits by 1.14
  }, 120_000);
});
