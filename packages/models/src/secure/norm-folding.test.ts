/**
 * The owner's folding of pre-norm models' layer norms into the matmuls they feed (norm-folding.ts): which
 * tensors a sharing holds, that the folded ones are diag(gamma) W and b + beta W of the model's own, and that a
 * sharing made before folding (norm tensors shared, matmuls as they are) still runs, to the same tokens, with
 * the same rounds and more bytes.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { runLocal } from '@puma/protocol';
import { testBackend } from '@puma/protocol/test-support';
import { generateGreedy } from '../generate.ts';
import { loadModel } from '../node.ts';
import type { Model } from '../types.ts';
import { foldsNormAffine } from './norm-folding.ts';
import { classifyClient, classifyParty, generateClient, generateParty, greedy } from './programs.ts';
import { secureTensors, shareWeights, type PartyWeightBundle } from './share-weights.ts';

/** A sharing as the owner made it before folding: the tensors of the model read as post-norm, under the real config. */
function unfoldedSharing(model: Model): PartyWeightBundle[] {
  const asPost: Model = { ...model, config: { ...model.config, normPlacement: 'post' } };
  return shareWeights(asPost, 'unfolded', DEFAULT_FRAC_BITS).map((b) => ({ ...b, manifest: { ...b.manifest, config: model.config } }));
}

async function generate(bundles: PartyWeightBundle[], model: Model, prompt: number[], newTokens: number) {
  const run = await runLocal(testBackend(), (p) => generateParty(p, { job: 0, weights: bundles[p.id], promptLength: prompt.length, maxNewTokens: newTokens, reveal: 'logits' }, { progress: () => {} }), {
    client: (c) => generateClient(c, { job: 0, prompt, vocab: model.config.vocabSize, maxNewTokens: newTokens, reveal: 'logits', pick: greedy }),
  });
  return {
    tokens: run.client!.map((s) => s.token),
    rounds: run.results[0].reduce((s, r) => s + r.rounds, 0),
    bytes: run.results.map((steps) => steps.reduce((s, r) => s + r.bytesSent, 0)),
  };
}

describe('norms folded into the matmuls they feed (owner side)', () => {
  it('pre-norm layer norms have no tensors of their own; the final norm and post-norm models keep theirs', async () => {
    const names = async (m: string) => secureTensors((await loadModel(m)).model).map((t) => t.name);
    for (const m of ['gpt2-shakespeare', 'stories260K']) {
      const got = await names(m);
      expect(got.filter((n) => /^l\d+\.(attnNorm|mlpNorm)\./.test(n)), m).toEqual([]);
      expect(got, m).toContain('final.scale');
    }
    expect((await names('bert-shakespeare')).filter((n) => /^l0\.(attnNorm|mlpNorm)\./.test(n))).toEqual(['l0.attnNorm.scale', 'l0.attnNorm.bias', 'l0.mlpNorm.scale', 'l0.mlpNorm.bias']);
    const { model } = await loadModel('gpt2-shakespeare');
    expect(foldsNormAffine(model.config, 'l0.attnNorm')).toBe(true);
    expect(foldsNormAffine(model.config, 'final')).toBe(false);
  });

  it("the folded up projection is diag(gamma) W and its bias b + beta W, from the model's float32 tensors", async () => {
    const { model } = await loadModel('gpt2-shakespeare');
    const tensors = new Map(secureTensors(model).map((t) => [t.name, t.data]));
    const L = model.weights.layers[1];
    const { scale, bias } = L.mlpNorm;
    if (L.mlp.kind !== 'dense' || !bias || !L.mlp.up.bias) throw new Error('gpt2-shakespeare has a dense MLP with biases');
    const { weight: w, bias: b } = L.mlp.up;
    const [n, out] = w.shape;
    const folded = tensors.get('l1.up.w')!;
    const foldedBias = tensors.get('l1.up.b')!;
    let worst = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < out; j++) worst = Math.max(worst, Math.abs(folded[i * out + j] - scale.data[i] * w.data[i * out + j]));
    for (let j = 0; j < out; j++) {
      let want = b.data[j];
      for (let i = 0; i < n; i++) want += bias.data[i] * w.data[i * out + j];
      worst = Math.max(worst, Math.abs(foldedBias[j] - want));
    }
    // Both are float64 computations of the same products; only the summation order can differ.
    expect(worst).toBeLessThan(1e-12);
  });

  it('a sharing that lacks a norm tensor it should have fails by name instead of running another model', async () => {
    const { model } = await loadModel('bert-shakespeare');
    const without = (bundles: PartyWeightBundle[], name: string): PartyWeightBundle[] => bundles.map((b) => {
      const rest = Object.fromEntries(Object.entries(b.bundles).filter(([n]) => n !== name));
      return { bundles: rest, manifest: { ...b.manifest, tensors: b.manifest.tensors.filter((t) => t.name !== name) } };
    });
    const bundles = shareWeights(model, 'bert-shakespeare', DEFAULT_FRAC_BITS);
    const ids = [101, 2034, 6926, 1024, 102];
    const classify = (b: PartyWeightBundle[]) => runLocal(testBackend(), (p) => classifyParty(p, { job: 0, weights: b[p.id], length: ids.length }), {
      client: (c) => classifyClient(c, { job: 0, ids, vocab: model.config.vocabSize }),
    });
    // BERT is post-norm: none of its norms is folded, so a missing gamma, or beta, is a broken sharing.
    await expect(classify(without(without(bundles, 'l0.attnNorm.scale'), 'l0.attnNorm.bias'))).rejects.toThrow('secure pass: the sharing has no l0.attnNorm.scale, and l0.attnNorm is not a norm the owner folds into its matmul');
    await expect(classify(without(bundles, 'l1.mlpNorm.bias'))).rejects.toThrow('secure pass: the sharing has l1.mlpNorm.scale but not l1.mlpNorm.bias');
  }, 120_000);

  it('a sharing made before folding still runs: the same greedy tokens as the folded one and as float64, same rounds, more bytes', async () => {
    const { model } = await loadModel('gpt2-shakespeare');
    const prompt = [5962, 22307, 25, 7413];
    const folded = await generate(shareWeights(model, 'folded', DEFAULT_FRAC_BITS), model, prompt, 2);
    const unfolded = await generate(unfoldedSharing(model), model, prompt, 2);
    const plain = generateGreedy(model, prompt, 2).slice(prompt.length);
    console.log(`gpt2-shakespeare 4 -> 2: folded ${folded.rounds} rounds, ${folded.bytes.join(' / ')} bytes; unfolded ${unfolded.rounds} rounds, ${unfolded.bytes.join(' / ')} bytes`);
    expect(folded.tokens).toEqual(plain);
    expect(unfolded.tokens).toEqual(plain);
    expect(folded.rounds).toBe(unfolded.rounds);
    for (const i of [0, 1, 2]) expect(folded.bytes[i]).toBeLessThan(unfolded.bytes[i]);
  }, 180_000);
});
