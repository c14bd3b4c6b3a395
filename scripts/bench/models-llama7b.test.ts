/**
 * The LLaMA-7B bench row's tensors are the ones an owner shares: names and shapes of a real llama2.c model's
 * secure tensors (share-weights.ts, layer norms folded), and for the LLaMA-2-7B shape the plan's list with a
 * shape of the plan's size for every tensor.
 */
import { describe, expect, it } from 'vitest';
import { loadModel } from '@puma/models/node';
import { planShape, secureTensors } from '@puma/models/secure';
import { llamaTensors } from './models-llama7b.ts';

describe('bench models: the LLaMA shape workload\'s tensors', () => {
  it('stories260K: the same names and shapes as the owner\'s sharing of the real model', async () => {
    const { model } = await loadModel('stories260K');
    expect(llamaTensors(model.config)).toEqual(secureTensors(model).map((t) => ({ name: t.name, shape: t.shape })));
  });

  it('LLaMA-2-7B, two layers: the layer norms folded, an untied head, GQA-ready qkv', () => {
    const c = { ...planShape('llama2-7b')!, numLayers: 2 };
    const t = llamaTensors(c);
    expect(t.map((x) => x.name)).toEqual(['emb.token', 'l0.qkv.w', 'l0.o.w', 'l0.w13.w', 'l0.w2.w', 'l1.qkv.w', 'l1.o.w', 'l1.w13.w', 'l1.w2.w', 'final.scale', 'head.w']);
    expect(t.find((x) => x.name === 'l1.w13.w')!.shape).toEqual([4096, 2 * 11008]);
    expect(t.find((x) => x.name === 'head.w')!.shape).toEqual([4096, 32000]);
    const gqa = llamaTensors({ ...c, numKvHeads: 8 });
    expect(gqa.find((x) => x.name === 'l0.qkv.w')!.shape).toEqual([4096, (32 + 2 * 8) * 128]);
  });
});
