/**
 * Architecture-generic checks of a Model: every tensor has the shape the config implies and finite values,
 * and the weights' structure agrees with the config (norm kind, MLP kind, position scheme). Loaders' outputs
 * pass by construction; this guards models built or transformed elsewhere (e.g. from an owner's bundle).
 * Also gives every tensor a stable name, for manifests.
 */
import { assertFinite, assertShape } from './tensor.ts';
import type { Linear, Model, Norm, Tensor, TransformerWeights } from './types.ts';

/** Every tensor of the weights with a stable dotted name ("layers.3.attn.q.weight", "head.weight", ...). */
export function namedTensors(w: TransformerWeights): Array<[string, Tensor]> {
  const out: Array<[string, Tensor]> = [];
  const lin = (name: string, l: Linear) => {
    out.push([`${name}.weight`, l.weight]);
    if (l.bias) out.push([`${name}.bias`, l.bias]);
  };
  const norm = (name: string, n: Norm) => {
    out.push([`${name}.scale`, n.scale]);
    if (n.bias) out.push([`${name}.bias`, n.bias]);
  };
  out.push(['embeddings.token', w.embeddings.token]);
  if (w.embeddings.position) out.push(['embeddings.position', w.embeddings.position]);
  if (w.embeddings.tokenType) out.push(['embeddings.tokenType', w.embeddings.tokenType]);
  if (w.embeddings.norm) norm('embeddings.norm', w.embeddings.norm);
  w.layers.forEach((l, i) => {
    const p = `layers.${i}`;
    norm(`${p}.attnNorm`, l.attnNorm);
    lin(`${p}.attn.q`, l.attn.q);
    lin(`${p}.attn.k`, l.attn.k);
    lin(`${p}.attn.v`, l.attn.v);
    lin(`${p}.attn.o`, l.attn.o);
    norm(`${p}.mlpNorm`, l.mlpNorm);
    if (l.mlp.kind === 'dense') {
      lin(`${p}.mlp.up`, l.mlp.up);
      lin(`${p}.mlp.down`, l.mlp.down);
    } else {
      lin(`${p}.mlp.w1`, l.mlp.w1);
      lin(`${p}.mlp.w2`, l.mlp.w2);
      lin(`${p}.mlp.w3`, l.mlp.w3);
    }
  });
  if (w.finalNorm) norm('finalNorm', w.finalNorm);
  const h = w.head;
  if (h.kind === 'lm') {
    out.push(['head.weight', h.weight]);
    if (h.bias) out.push(['head.bias', h.bias]);
  } else if (h.kind === 'classifier') {
    lin('head.pooler', h.pooler);
    lin('head.classifier', h.classifier);
  } else if (h.kind === 'mlm') {
    lin('head.transform', h.transform);
    norm('head.norm', h.norm);
    lin('head.decoder', h.decoder);
  } else if (h.pooler) {
    lin('head.pooler', h.pooler);
  }
  return out;
}

export function validateModel(model: Model): void {
  const { config: c, weights: w } = model;
  const d = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  if (c.numHeads % c.numKvHeads !== 0) throw new Error(`model: ${c.numHeads} heads is not a multiple of ${c.numKvHeads} kv heads`);
  if (w.layers.length !== c.numLayers) throw new Error(`model: config has ${c.numLayers} layers, weights have ${w.layers.length}`);
  if (c.positions === 'rope' && c.headDim % 2 !== 0) throw new Error(`model: RoPE needs an even head size, got ${c.headDim}`);

  const expected = new Map<string, number[]>();
  const lin = (name: string, l: Linear, inDim: number, outDim: number) => {
    expected.set(`${name}.weight`, [inDim, outDim]);
    if (l.bias) expected.set(`${name}.bias`, [outDim]);
  };
  const norm = (name: string, n: Norm) => {
    if (n.kind !== c.norm) throw new Error(`model: ${name} is a ${n.kind}, config says ${c.norm}`);
    if (!(n.eps > 0)) throw new Error(`model: ${name} eps must be positive, got ${n.eps}`);
    expected.set(`${name}.scale`, [d]);
    if (n.bias) expected.set(`${name}.bias`, [d]);
  };
  expected.set('embeddings.token', [c.vocabSize, d]);
  if (c.positions === 'learned') {
    if (!w.embeddings.position) throw new Error('model: learned positions but no embeddings.position');
    expected.set('embeddings.position', [c.maxPositions, d]);
  } else if (w.embeddings.position) {
    throw new Error('model: RoPE model must not have embeddings.position');
  }
  if (c.typeVocabSize > 0) {
    if (!w.embeddings.tokenType) throw new Error(`model: typeVocabSize ${c.typeVocabSize} but no embeddings.tokenType`);
    expected.set('embeddings.tokenType', [c.typeVocabSize, d]);
  }
  if (w.embeddings.norm) norm('embeddings.norm', w.embeddings.norm);
  w.layers.forEach((l, i) => {
    const p = `layers.${i}`;
    norm(`${p}.attnNorm`, l.attnNorm);
    norm(`${p}.mlpNorm`, l.mlpNorm);
    lin(`${p}.attn.q`, l.attn.q, d, qDim);
    lin(`${p}.attn.k`, l.attn.k, d, kvDim);
    lin(`${p}.attn.v`, l.attn.v, d, kvDim);
    lin(`${p}.attn.o`, l.attn.o, qDim, d);
    if (l.mlp.kind !== c.mlp) throw new Error(`model: ${p}.mlp is ${l.mlp.kind}, config says ${c.mlp}`);
    if (l.mlp.kind === 'dense') {
      lin(`${p}.mlp.up`, l.mlp.up, d, c.intermediateSize);
      lin(`${p}.mlp.down`, l.mlp.down, c.intermediateSize, d);
    } else {
      lin(`${p}.mlp.w1`, l.mlp.w1, d, c.intermediateSize);
      lin(`${p}.mlp.w2`, l.mlp.w2, c.intermediateSize, d);
      lin(`${p}.mlp.w3`, l.mlp.w3, d, c.intermediateSize);
    }
  });
  if (w.finalNorm) norm('finalNorm', w.finalNorm);
  const h = w.head;
  if (h.kind === 'lm') {
    expected.set('head.weight', [d, c.vocabSize]);
    if (h.bias) expected.set('head.bias', [c.vocabSize]);
  } else if (h.kind === 'classifier') {
    lin('head.pooler', h.pooler, d, d);
    lin('head.classifier', h.classifier, d, c.numLabels);
  } else if (h.kind === 'mlm') {
    lin('head.transform', h.transform, d, d);
    norm('head.norm', h.norm);
    lin('head.decoder', h.decoder, d, c.vocabSize);
  } else if (h.pooler) {
    lin('head.pooler', h.pooler, d, d);
  }
  for (const [name, t] of namedTensors(w)) {
    const shape = expected.get(name);
    if (!shape) throw new Error(`model: unexpected tensor ${name}`);
    assertShape(t, shape, `model: ${name}`);
    assertFinite(t.data, `model: ${name}`);
  }
}
