/**
 * gpt2-shakespeare (GPT-2 architecture, trained from scratch): perplexity on val.txt and SOURCE.md's greedy
 * example.
 *
 * SOURCE.md: perplexity 119.87 (loss 4.7864) on the first 4,096 tokens in 16 windows of 256. That full run
 * takes ~25-30 s on this 2-core machine class (~1.6 s per window; the 50257-wide head dominates), so by default
 * this test scores the first 2 windows and checks them against the per-window losses of the full run, which was
 * measured once with this code (perplexity 119.8679, loss 4.786390, matching SOURCE.md) and is what the pinned
 * numbers below come from. Set PUMA_FULL_EVAL=1 to run all 16 windows against SOURCE.md itself.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DecoderSession } from './decoder.ts';
import { forwardHidden } from './forward.ts';
import { generateGreedy } from './generate.ts';
import { lmLogits } from './heads.ts';
import { loadModel, modelDir } from './node.ts';
import { windowedPerplexity } from './perplexity.ts';
import { validateModel } from './validate.ts';

const FULL = process.env.PUMA_FULL_EVAL === '1';
/** Mean loss of windows 0..1 in the full 16-window run. */
const FIRST_WINDOW_LOSSES = [4.6293404745681865, 4.338777131189124];

describe('gpt2-shakespeare', async () => {
  const { model, tokenizer } = await loadModel('gpt2-shakespeare');
  const val = readFileSync(path.join(modelDir('gpt2-shakespeare'), 'val.txt'), 'utf8');
  const ids = tokenizer!.encode(val);

  it('loads config.json + model.safetensors (transformer.-prefixed GPT2LMHeadModel, tied head)', () => {
    expect(model.config).toMatchObject({ arch: 'gpt2', hiddenSize: 128, numLayers: 4, numHeads: 4, headDim: 32, intermediateSize: 512, maxPositions: 256, vocabSize: 50257, activation: 'gelu_new', normEps: 1e-5, tiedHead: true });
    expect(model.unusedTensors).toEqual([]);
    validateModel(model);
    expect(ids.length).toBe(36059);
  });

  it("reproduces SOURCE.md's greedy example", () => {
    const prompt = tokenizer!.encode('ROMEO:\nWhat light');
    const out = generateGreedy(model, prompt, 20);
    expect(tokenizer!.decode(out.slice(prompt.length))).toBe(', my lord,\nAnd, my lord,\nAnd, my lord,\nAnd, my');
  });

  it(FULL ? 'perplexity 119.87 on the first 4,096 val tokens (16 windows of 256)' : 'perplexity on the first 2 windows of 256 val tokens matches the validated full run', () => {
    const r = windowedPerplexity(model, ids, 256, FULL ? 16 : 2);
    if (FULL) {
      expect(r.loss).toBeCloseTo(4.7864, 4);
      expect(Math.abs(r.perplexity - 119.87)).toBeLessThan(0.01);
    }
    FIRST_WINDOW_LOSSES.forEach((l, i) => expect(Math.abs(r.windowLosses[i] - l)).toBeLessThan(1e-9));
  });

  it('KV-cached decoding gives the same logits as the full window', () => {
    const window = ids.slice(0, 40);
    const hidden = forwardHidden(model, window);
    const full = lmLogits(model, hidden.subarray(39 * 128), 1);
    const session = new DecoderSession(model);
    session.prefill(window.slice(0, 30));
    let logits: Float64Array = new Float64Array();
    for (const id of window.slice(30)) logits = session.step(id);
    full.forEach((v, i) => expect(Math.abs(logits[i] - v)).toBeLessThan(1e-9));
  });
});
