/**
 * Generation with early stop (what a chat turn runs): the parties stop when the client's reply ends (a stop id),
 * not after maxNewTokens, and the tokens up to there are the plaintext greedy ones; a malformed continue flag is
 * an error, not a hang.
 */
import { describe, expect, it } from 'vitest';
import { receiveTermFromParties, runLocal, sendInput } from '@puma/protocol';
import { testBackend } from '@puma/protocol/test-support';
import { generateGreedy } from '../generate.ts';
import { LLAMA_BOS } from '../tokenizer-llama2c.ts';
import { loadModel } from '../node.ts';
import { generateClient, generateParty, greedy } from './programs.ts';
import { jobTag } from './job-tag.ts';
import { oneHot } from './one-hot.ts';
import { shareWeights } from './share-weights.ts';
import { DEFAULT_FRAC_BITS } from '@puma/ring';

const { model, tokenizer } = await loadModel('stories260K');
const prompt = [LLAMA_BOS, ...tokenizer!.encode('Once upon a time')];
const bundles = shareWeights(model, 'stories260K', DEFAULT_FRAC_BITS);
const base = { job: 0, promptLength: prompt.length, reveal: 'logits' as const, earlyStop: true };

describe('generation with early stop', () => {
  it('stops all three parties at the stop id: 8 steps allowed, as many run as the reply needs', async () => {
    const plain = generateGreedy(model, prompt, 8).slice(prompt.length);
    // The first token (after the first) not seen before it plays the end-of-sequence token.
    const stopAt = plain.findIndex((t, i) => i > 0 && !plain.slice(0, i).includes(t));
    expect(stopAt).toBeGreaterThan(0);
    const run = await runLocal(testBackend(), (p) => generateParty(p, { ...base, weights: bundles[p.id], maxNewTokens: 8 }, { progress: () => {} }), {
      client: (c) => generateClient(c, { job: 0, prompt, vocab: model.config.vocabSize, maxNewTokens: 8, reveal: 'logits', pick: greedy, stopIds: [plain[stopAt]] }),
    });
    expect(run.client.map((s) => s.token)).toEqual(plain.slice(0, stopAt + 1));
    for (const reports of run.results) expect(reports).toHaveLength(stopAt + 1);
  }, 60_000);

  it('without a stop id it runs maxNewTokens steps', async () => {
    const run = await runLocal(testBackend(), (p) => generateParty(p, { ...base, weights: bundles[p.id], maxNewTokens: 2 }, { progress: () => {} }), {
      client: (c) => generateClient(c, { job: 0, prompt, vocab: model.config.vocabSize, maxNewTokens: 2, reveal: 'logits', pick: greedy, stopIds: [] }),
    });
    expect(run.client.map((s) => s.token)).toEqual(generateGreedy(model, prompt, 2).slice(prompt.length));
  }, 60_000);

  it('a malformed continue flag fails the parties with a clear error', async () => {
    const run = runLocal(testBackend(), (p) => generateParty(p, { ...base, weights: bundles[p.id], maxNewTokens: 3 }, { progress: () => {} }), {
      client: async (c) => {
        sendInput(c, jobTag(0, 'tok:0'), oneHot(prompt, model.config.vocabSize));
        await receiveTermFromParties(c, jobTag(0, 'logits:0'));
        for (const party of [0, 1, 2] as const) c.send(party, jobTag(0, 'more:1'), Uint8Array.of(7));
      },
    });
    await expect(run).rejects.toThrow(/generation: the client's continue flag for step 1 is malformed/);
  }, 60_000);
});
