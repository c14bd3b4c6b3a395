/**
 * The Hugging Face LLaMA loader against its llama2.c original: stories260K (GQA: 8 heads, 4 kv heads) is
 * written in HF layout by hfLlamaFiles (q/k rows permuted to rotate_half order, as Meta's converter does),
 * into a temp folder with its tokenizer.bin, and loaded back through loadModel like any `--model <dir>`.
 * F32 must give back the llama2.c weights bit for bit (so identical logits and greedy tokens), sharded or
 * not; F16 and BF16 must keep the logits within the stated tolerances. The secure pass runs on the HF-loaded
 * model for a few tokens.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { runLocal } from '@puma/protocol';
import { testBackend } from '@puma/protocol/test-support';
import { forwardHidden } from './forward.ts';
import { generateGreedy } from './generate.ts';
import { lmLogits } from './heads.ts';
import { hfLlamaFiles, type HfFolderFiles, type HfLlamaWriteOptions } from './hf-llama-writer.ts';
import { linear } from './matmul.ts';
import { loadModel, modelDir } from './node.ts';
import { applyRope } from './rope.ts';
import { rotaryRowsFromHf, rotaryRowsToHf } from './rotary-layout.ts';
import { generateClient, generateParty, greedy } from './secure/programs.ts';
import { shareWeights } from './secure/share-weights.ts';
import { STORIES_REFERENCE_TOKENS } from './test-fixtures.ts';
import { transpose2d } from './tensor.ts';
import type { Model, Tensor } from './types.ts';
import { validateModel } from './validate.ts';

const { model: original } = await loadModel('stories260K');
const root = mkdtempSync(path.join(tmpdir(), 'puma-hf-llama-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let folders = 0;
/** Writes the files into a fresh folder beside stories260K's tokenizer (as tokenizer.bin). */
function writeFolder(files: HfFolderFiles): string {
  const dir = path.join(root, `m${folders++}`);
  mkdirSync(dir);
  for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(dir, name), bytes);
  copyFileSync(path.join(modelDir('stories260K'), 'tok512.bin'), path.join(dir, 'tokenizer.bin'));
  return dir;
}

function convert(options: HfLlamaWriteOptions, model: Model = original): string {
  return writeFolder(hfLlamaFiles(model, options));
}

/** Logits [T, vocab] of every position of `ids`. */
function allLogits(model: Model, ids: readonly number[]): Float64Array {
  return lmLogits(model, forwardHidden(model, ids), ids.length);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const PROBE = STORIES_REFERENCE_TOKENS.slice(0, 48);
const reference = allLogits(original, PROBE);
const referenceTokens = generateGreedy(original, [1], STORIES_REFERENCE_TOKENS.length - 1);

describe('rotary row layout', () => {
  it('HF rotate_half RoPE on HF-ordered q rows equals llama2.c interleaved RoPE on the original rows', () => {
    const { headDim: D, numHeads: H, hiddenSize: d, ropeTheta } = original.config;
    const q = original.weights.layers[0].attn.q;
    const hfWeight = rotaryRowsToHf(transpose2d(q.weight), H, D, 'q');
    expect(maxAbsDiff(hfWeight.data, transpose2d(q.weight).data)).toBeGreaterThan(0.01); // the permutation is not the identity
    const x = Float64Array.from({ length: 3 * d }, (_, i) => Math.sin(i * 0.7));
    const rows = 3;
    const pos0 = 5;
    // transformers' apply_rotary_pos_emb: q * cos + rotate_half(q) * sin, cos/sin = cat(freqs, freqs).
    const qHf = linear(x, rows, { weight: transpose2d(hfWeight) });
    const rotated = new Float64Array(qHf.length);
    for (let r = 0; r < rows; r++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < D; i++) {
          const k = i % (D / 2);
          const angle = (pos0 + r) / ropeTheta ** ((2 * k) / D);
          const o = r * H * D + h * D;
          const half = i < D / 2 ? -qHf[o + i + D / 2] : qHf[o + i - D / 2];
          rotated[o + i] = qHf[o + i] * Math.cos(angle) + half * Math.sin(angle);
        }
      }
    }
    const qInterleaved = linear(x, rows, q);
    applyRope(qInterleaved, rows, H, D, pos0, ropeTheta);
    const back = new Float64Array(rotated.length);
    for (let r = 0; r < rows; r++) {
      const row: Tensor = { data: rotated.slice(r * H * D, (r + 1) * H * D), shape: [H * D] };
      back.set(rotaryRowsFromHf(row, H, D).data, r * H * D);
    }
    expect(maxAbsDiff(back, qInterleaved)).toBeLessThan(1e-12);
  });
});

describe('HF LLaMA folder converted from stories260K', () => {
  it('F32, one model.safetensors: loadModel finds it, weights are the llama2.c ones bit for bit, same greedy tokens', async () => {
    const dir = convert({ dtype: 'F32' });
    const { model, tokenizer, location } = await loadModel(dir);
    expect(location).toMatchObject({ format: 'hf-safetensors', weights: path.join(dir, 'model.safetensors'), tokenizer: { kind: 'llama2c' } });
    expect(model.config).toEqual(original.config);
    expect(model.unusedTensors).toEqual([]);
    validateModel(model);
    expect(model.weights).toEqual(original.weights);
    expect(maxAbsDiff(allLogits(model, PROBE), reference)).toBe(0);
    const tokens = generateGreedy(model, [1], STORIES_REFERENCE_TOKENS.length - 1);
    expect(tokens).toEqual(referenceTokens);
    expect(tokens).toEqual(STORIES_REFERENCE_TOKENS);
    expect(tokenizer!.decode(tokens)).toMatch(/^Once upon a time, there was a little girl named Lily\./);
  });

  it('F32 in 3 shards with model.safetensors.index.json: same weights and tokens', async () => {
    const dir = convert({ dtype: 'F32', shards: 3 });
    const { model, location } = await loadModel(dir);
    expect(path.basename(location.weights)).toBe('model.safetensors.index.json');
    expect(model.weights).toEqual(original.weights);
    expect(generateGreedy(model, [1], 40)).toEqual(referenceTokens.slice(0, 41));
  });

  // Rounding every weight to 11 (F16) or 8 (BF16) significant bits moves this model's logits (|logit| up to 22)
  // by at most 0.0166 (F16) and 0.118 (BF16) on these positions, as measured; the bounds are about 2x that.
  // Greedy decoding from BOS keeps all 80 reference tokens in both (BF16 first differs at token 186).
  for (const [dtype, tolerance] of [['F16', 0.04], ['BF16', 0.25]] as const) {
    const agreeing = STORIES_REFERENCE_TOKENS.length - 1;
    it(`${dtype} in 2 shards: logits within ${tolerance} of F32 at all ${PROBE.length} positions, first ${agreeing} greedy tokens equal`, async () => {
      const { model } = await loadModel(convert({ dtype, shards: 2 }));
      const diff = maxAbsDiff(allLogits(model, PROBE), reference);
      expect(diff).toBeGreaterThan(0);
      expect(diff).toBeLessThan(tolerance);
      expect(generateGreedy(model, [1], agreeing)).toEqual(referenceTokens.slice(0, agreeing + 1));
    });
  }
});

/** A copy of `model` whose LM head is no longer the embedding (scaled per element), as an untied checkpoint. */
function untied(model: Model): Model {
  const head = model.weights.head as { weight: Tensor };
  const weight = { data: Float32Array.from(head.weight.data, (v, i) => v * (1 + 0.25 * Math.sin(i))), shape: head.weight.shape };
  return { config: { ...model.config, tiedHead: false }, weights: { ...model.weights, head: { kind: 'lm', weight, tied: false } } };
}

/** A copy of `model` with q/k/v biases in every layer (Qwen2's attention). */
function withQkvBiases(model: Model): Model {
  const bias = (n: number, seed: number): Tensor => ({ data: Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin(seed + 1.7 * i)), shape: [n] });
  const layers = model.weights.layers.map((l, i) => ({
    ...l,
    attn: {
      q: { weight: l.attn.q.weight, bias: bias(l.attn.q.weight.shape[1], 3 * i) },
      k: { weight: l.attn.k.weight, bias: bias(l.attn.k.weight.shape[1], 3 * i + 1) },
      v: { weight: l.attn.v.weight, bias: bias(l.attn.v.weight.shape[1], 3 * i + 2) },
      o: l.attn.o,
    },
  }));
  return { config: model.config, weights: { ...model.weights, layers } };
}

describe('HF LLaMA variants: untied head, Qwen2 q/k/v biases', () => {
  it('untied head: lm_head.weight is read (not the embedding), same logits as the in-memory model', async () => {
    const variant = untied(original);
    const { model } = await loadModel(convert({}, variant));
    expect(model.config.tiedHead).toBe(false);
    expect(model.weights).toEqual(variant.weights);
    const logits = allLogits(model, PROBE);
    expect(maxAbsDiff(logits, allLogits(variant, PROBE))).toBe(0);
    expect(maxAbsDiff(logits, reference)).toBeGreaterThan(0.1);
  });

  it('Qwen2ForCausalLM: q/k biases permuted with their rows, same logits as the in-memory model', async () => {
    const variant = withQkvBiases(original);
    const { model } = await loadModel(convert({ family: 'qwen2', shards: 2 }, variant));
    expect(model.weights).toEqual(variant.weights);
    const logits = allLogits(model, PROBE);
    expect(maxAbsDiff(logits, allLogits(variant, PROBE))).toBe(0);
    expect(maxAbsDiff(logits, reference)).toBeGreaterThan(0.1);
  });
});

describe('secure generation on the HF-loaded model', () => {
  it('BF16 in shards, qwen2 biases: 4 tokens from a 6-token prompt equal the plaintext greedy tokens', async () => {
    const { model } = await loadModel(convert({ dtype: 'BF16', shards: 2, family: 'qwen2' }, withQkvBiases(original)));
    const prompt = STORIES_REFERENCE_TOKENS.slice(0, 6);
    const steps = 4;
    const bundles = shareWeights(model, 'stories260K-hf', DEFAULT_FRAC_BITS);
    const run = await runLocal(testBackend(), (p) => generateParty(p, { job: 0, weights: bundles[p.id], promptLength: prompt.length, maxNewTokens: steps, reveal: 'logits' }, { progress: () => {} }), {
      client: (c) => generateClient(c, { job: 0, prompt, vocab: model.config.vocabSize, maxNewTokens: steps, reveal: 'logits', pick: greedy }),
    });
    const plain = generateGreedy(model, prompt, steps).slice(prompt.length);
    expect(run.client.map((s) => s.token)).toEqual(plain);
    const first = allLogits(model, prompt).slice((prompt.length - 1) * model.config.vocabSize);
    // Fixed-point (18 fraction bits) and the nn approximations: 0.0048 measured on the first step's logits.
    expect(maxAbsDiff(run.client[0].logits!, first)).toBeLessThan(0.015);
  }, 60_000);
});
