/**
 * LLaMA-family models from Hugging Face safetensors (LlamaForCausalLM, Qwen2ForCausalLM; single file or
 * sharded). Names: model.embed_tokens, model.layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj,
 * post_attention_layernorm, mlp.{gate,up,down}_proj}, model.norm, lm_head (the `model.` prefix may be absent
 * in bare-model exports). gate_proj is llama2.c's w1, up_proj w3, down_proj w2. q/k rows are converted from
 * HF's rotate_half order to the interleaved RoPE pairs the forward passes use (see rotary-layout.ts).
 */
import { llamaFamilyConfig } from './hf-llama-config.ts';
import { rotaryRowsFromHf } from './rotary-layout.ts';
import { transpose2d } from './tensor.ts';
import type { TensorFile } from './tensor-file.ts';
import { TensorSource } from './tensor-source.ts';
import type { HeadWeights, LayerWeights, Linear, LoadedModel, Norm } from './types.ts';

export function loadHfLlama(configJson: unknown, file: TensorFile, configSource = 'config.json'): LoadedModel {
  const { config: c, qkvBias, oBias } = llamaFamilyConfig(configJson, configSource);
  const src = new TensorSource(file);
  let prefix: string;
  if (src.has('model.embed_tokens.weight')) prefix = 'model.';
  else if (src.has('embed_tokens.weight')) prefix = '';
  else throw new Error(`${file.source}: missing tensor "model.embed_tokens.weight" (or "embed_tokens.weight"); is this a LLaMA-family checkpoint?`);

  const d = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const rms = (name: string): Norm => ({ kind: 'rmsnorm', scale: src.get(`${prefix}${name}.weight`, [d]), eps: c.normEps });
  const linear = (name: string, inDim: number, outDim: number, bias: boolean): Linear => src.torchLinear(`${prefix}${name}`, inDim, outDim, bias);
  /** q_proj / k_proj with their rows (and bias) put back into interleaved RoPE order. */
  const rotary = (name: string, heads: number, bias: boolean): Linear => {
    const full = `${prefix}${name}`;
    const w = rotaryRowsFromHf(src.get(`${full}.weight`, [heads * c.headDim, d]), heads, c.headDim, `${full}.weight`);
    return {
      weight: transpose2d(w, `${full}.weight`),
      bias: bias ? rotaryRowsFromHf(src.get(`${full}.bias`, [heads * c.headDim]), heads, c.headDim, `${full}.bias`) : undefined,
    };
  };

  const token = src.get(`${prefix}embed_tokens.weight`, [c.vocabSize, d]);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const l = `layers.${i}`;
    layers.push({
      attnNorm: rms(`${l}.input_layernorm`),
      attn: {
        q: rotary(`${l}.self_attn.q_proj`, c.numHeads, qkvBias),
        k: rotary(`${l}.self_attn.k_proj`, c.numKvHeads, qkvBias),
        v: linear(`${l}.self_attn.v_proj`, d, kvDim, qkvBias),
        o: linear(`${l}.self_attn.o_proj`, qDim, d, oBias),
      },
      mlpNorm: rms(`${l}.post_attention_layernorm`),
      mlp: {
        kind: 'swiglu',
        w1: linear(`${l}.mlp.gate_proj`, d, c.intermediateSize, false),
        w2: linear(`${l}.mlp.down_proj`, c.intermediateSize, d, false),
        w3: linear(`${l}.mlp.up_proj`, d, c.intermediateSize, false),
      },
    });
  }
  const finalNorm = rms('norm');
  // As in transformers: a tied head is embed_tokens (a stored lm_head.weight is then ignored); an untied one
  // is the nn.Linear lm_head [vocab, hidden], never prefixed.
  const head: HeadWeights = c.tiedHead
    ? { kind: 'lm', weight: transpose2d(token, `${prefix}embed_tokens.weight`), tied: true }
    : { kind: 'lm', weight: transpose2d(src.get('lm_head.weight', [c.vocabSize, d]), 'lm_head.weight'), tied: false };
  return { config: c, weights: { embeddings: { token }, layers, finalNorm, head }, unusedTensors: src.unused() };
}
