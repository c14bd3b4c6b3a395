/** stories260K (llama2.c, real pretrained weights): greedy generation must equal SOURCE.md's reference exactly. */
import { describe, expect, it } from 'vitest';
import { DecoderSession } from './decoder.ts';
import { forwardHidden } from './forward.ts';
import { generateGreedy } from './generate.ts';
import { lastRow, lmLogits } from './heads.ts';
import { loadModel } from './node.ts';
import { argmax } from './softmax.ts';
import { STORIES_REFERENCE_TOKENS } from './test-fixtures.ts';
import { validateModel } from './validate.ts';

describe('stories260K', async () => {
  const { model, tokenizer, location } = await loadModel('stories260K');

  it('loads the header of SOURCE.md: dim 64, hidden 172, 5 layers, 8 heads / 4 kv heads, vocab 512 shared, seq 512', () => {
    expect(location.format).toBe('llama2c');
    expect(model.config).toMatchObject({ arch: 'llama', hiddenSize: 64, intermediateSize: 172, numLayers: 5, numHeads: 8, numKvHeads: 4, headDim: 8, vocabSize: 512, maxPositions: 512, tiedHead: true });
    expect(tokenizer?.vocabSize).toBe(512);
    validateModel(model);
  });

  it('greedy generation from BOS reproduces the 81 reference tokens (argmax after BOS = 403)', () => {
    expect(argmax(new DecoderSession(model).prefill([1]))).toBe(403);
    const out = generateGreedy(model, [1], STORIES_REFERENCE_TOKENS.length - 1);
    expect(out).toEqual(STORIES_REFERENCE_TOKENS);
    expect(tokenizer!.decode(out)).toMatch(/^Once upon a time, there was a little girl named Lily\. She loved to play outside in the park\./);
  });

  it('KV-cached prefill + steps give the logits of a full forward pass', () => {
    const ids = STORIES_REFERENCE_TOKENS.slice(0, 24);
    const full = lmLogits(model, lastRow(forwardHidden(model, ids), ids.length), 1);
    const session = new DecoderSession(model, 64);
    session.prefill(ids.slice(0, 10));
    let logits: Float64Array = new Float64Array();
    for (const id of ids.slice(10)) logits = session.step(id);
    expect(session.length).toBe(24);
    full.forEach((v, i) => expect(Math.abs(logits[i] - v)).toBeLessThan(1e-10));
    expect(() => new DecoderSession(model, 2).prefill([1, 2, 3])).toThrow(/exceeds this session's 2 positions/);
  });
});
