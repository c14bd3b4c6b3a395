/**
 * GPT-2 from Hugging Face safetensors (GPT2LMHeadModel / GPT2Model names, with or without the `transformer.`
 * prefix: the openai-community/gpt2 files have none). Conv1D weights are already [in, out]; the fused
 * c_attn [hidden, 3*hidden] is split into q, k, v by columns. The causal-mask buffers many exports carry
 * (`h.N.attn.bias`, and `h.N.attn.masked_bias` in older ones) are not weights and are left unused.
 */
import { gpt2Config } from './hf-config.ts';
import type { TensorFile } from './tensor-file.ts';
import { sliceLast, transpose2d } from './tensor.ts';
import { TensorSource } from './tensor-source.ts';
import type { HeadWeights, LayerWeights, Linear, LoadedModel, Norm } from './types.ts';

export function loadGpt2(configJson: unknown, file: TensorFile, configSource = 'config.json'): LoadedModel {
  const base = gpt2Config(configJson, configSource);
  const src = new TensorSource(file);
  let prefix: string;
  if (src.has('transformer.wte.weight')) prefix = 'transformer.';
  else if (src.has('wte.weight')) prefix = '';
  else throw new Error(`${file.source}: missing tensor "transformer.wte.weight" (or "wte.weight"); is this a GPT-2 checkpoint?`);

  const d = base.hiddenSize;
  const inner = base.intermediateSize;
  const eps = base.normEps;
  const ln = (name: string): Norm => ({
    kind: 'layernorm',
    scale: src.get(`${prefix}${name}.weight`, [d]),
    bias: src.get(`${prefix}${name}.bias`, [d]),
    eps,
  });
  const conv1d = (name: string, inDim: number, outDim: number): Linear => ({
    weight: src.get(`${prefix}${name}.weight`, [inDim, outDim]),
    bias: src.get(`${prefix}${name}.bias`, [outDim]),
  });

  const token = src.get(`${prefix}wte.weight`, [base.vocabSize, d]);
  const position = src.get(`${prefix}wpe.weight`, [base.maxPositions, d]);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < base.numLayers; i++) {
    const h = `h.${i}`;
    const qkv = conv1d(`${h}.attn.c_attn`, d, 3 * d);
    const part = (k: number): Linear => ({
      weight: sliceLast(qkv.weight, k * d, (k + 1) * d, `${h}.attn.c_attn.weight`),
      bias: qkv.bias && sliceLast(qkv.bias, k * d, (k + 1) * d, `${h}.attn.c_attn.bias`),
    });
    layers.push({
      attnNorm: ln(`${h}.ln_1`),
      attn: { q: part(0), k: part(1), v: part(2), o: conv1d(`${h}.attn.c_proj`, d, d) },
      mlpNorm: ln(`${h}.ln_2`),
      mlp: { kind: 'dense', up: conv1d(`${h}.mlp.c_fc`, d, inner), down: conv1d(`${h}.mlp.c_proj`, inner, d) },
    });
  }
  const finalNorm = ln('ln_f');

  // As in transformers: a tied head is wte (a stored lm_head.weight is then ignored); an untied one is the
  // nn.Linear lm_head [vocab, hidden].
  const head: HeadWeights = base.tiedHead
    ? { kind: 'lm', weight: transpose2d(token, `${prefix}wte.weight`), tied: true }
    : { kind: 'lm', weight: transpose2d(src.get('lm_head.weight', [base.vocabSize, d]), 'lm_head.weight'), tied: false };
  return {
    config: base,
    weights: { embeddings: { token, position }, layers, finalNorm, head },
    unusedTensors: src.unused(),
  };
}
