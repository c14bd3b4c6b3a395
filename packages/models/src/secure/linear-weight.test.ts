import { describe, expect, it } from 'vitest';
import type { Party } from '@puma/protocol';
import type { ModelConfig } from '../types.ts';
import { linearWeight } from './linear-weight.ts';
import type { WeightManifest } from './share-weights.ts';
import type { WeightSource } from './weight-source.ts';
import { WeightStream } from './weight-stream.ts';

/** A stream over a manifest alone: linearWeight reads names and shapes, never words. */
function streamOf(tiedHead: boolean, tensors: WeightManifest['tensors']): WeightStream {
  const manifest: WeightManifest = { modelId: 'm', config: { tiedHead } as ModelConfig, fracBits: 18, tensors };
  const source: WeightSource = {
    manifest,
    seeds: () => Promise.reject(new Error('not read')),
    dense: () => Promise.reject(new Error('not read')),
  };
  return new WeightStream({} as Party, source);
}

describe('linearWeight: the tensor a linear layer multiplies by', () => {
  const emb = { name: 'emb.token', shape: [50, 8] };
  it('a tied head without a tensor of its own is the token embedding, transposed, as wide as the vocabulary', () => {
    expect(linearWeight(streamOf(true, [emb]), 'head')).toEqual({ tensor: 'emb.token', transposed: true, out: 50 });
  });

  it('a sharing that carries head.w (made before heads were tied to the embedding) uses it', () => {
    expect(linearWeight(streamOf(true, [emb, { name: 'head.w', shape: [8, 50] }]), 'head')).toEqual({ tensor: 'head.w', transposed: false, out: 50 });
    expect(linearWeight(streamOf(false, [emb, { name: 'l0.o.w', shape: [8, 6] }]), 'l0.o')).toEqual({ tensor: 'l0.o.w', transposed: false, out: 6 });
  });

  it('an untied head without head.w, or any other missing weight, is refused by name', () => {
    expect(() => linearWeight(streamOf(false, [emb]), 'head')).toThrow(/model has no tensor head\.w \(and its head is not tied to emb\.token\)/);
    expect(() => linearWeight(streamOf(true, [emb]), 'l0.o')).toThrow(/model has no tensor l0\.o\.w$/);
  });
});
