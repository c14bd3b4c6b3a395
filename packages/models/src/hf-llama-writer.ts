/**
 * Writes a LLaMA-architecture Model (e.g. a llama2.c checkpoint loaded with loadLlama2c) as a Hugging Face
 * folder's files: config.json and model.safetensors, or shards with model.safetensors.index.json, in F32, F16
 * or BF16. q/k rows are permuted to HF's rotate_half order, as Meta's conversion script does, so the files
 * are what transformers' LlamaForCausalLM (or Qwen2ForCausalLM, with q/k/v biases) expects. Browser-safe: it
 * returns bytes by file name; writing them is the caller's business. Tests use it to check the HF loader
 * against the llama2.c original; tools can use it to produce HF-layout models.
 */
import { SAFETENSORS_INDEX_FILE } from './safetensors-sharded.ts';
import { encodeSafetensors, type WritableTensor } from './safetensors-writer.ts';
import { rotaryRowsToHf } from './rotary-layout.ts';
import { transpose2d } from './tensor.ts';
import type { Linear, Model, Tensor } from './types.ts';

export interface HfLlamaWriteOptions {
  readonly dtype?: 'F32' | 'F16' | 'BF16';
  /** Split the tensors over this many shard files plus an index (default 1: a single model.safetensors). */
  readonly shards?: number;
  /** 'qwen2' writes model_type qwen2 and requires q/k/v biases; 'llama' refuses biases on q/k/v/o unless all four have them. */
  readonly family?: 'llama' | 'qwen2';
}

/** File name -> contents (config.json and index as UTF-8 JSON text, safetensors as bytes). */
export type HfFolderFiles = Record<string, Uint8Array>;

export function hfLlamaFiles(model: Model, options: HfLlamaWriteOptions = {}): HfFolderFiles {
  const { config: c, weights: w } = model;
  const dtype = options.dtype ?? 'F32';
  const family = options.family ?? 'llama';
  if (c.arch !== 'llama' || c.mlp !== 'swiglu' || c.norm !== 'rmsnorm' || c.positions !== 'rope' || w.head.kind !== 'lm') {
    throw new Error(`hfLlamaFiles: needs a LLaMA-architecture model (RMSNorm, SwiGLU, RoPE, LM head), got arch ${c.arch}`);
  }
  const attn = w.layers.map((l) => l.attn);
  const qkvBias = attn.some((a) => a.q.bias || a.k.bias || a.v.bias);
  const oBias = attn.some((a) => a.o.bias);
  if (family === 'qwen2' && (!attn.every((a) => a.q.bias && a.k.bias && a.v.bias) || oBias)) {
    throw new Error('hfLlamaFiles: Qwen2 needs q/k/v biases in every layer and no output-projection bias');
  }
  if (family === 'llama' && (qkvBias || oBias) && !attn.every((a) => a.q.bias && a.k.bias && a.v.bias && a.o.bias)) {
    throw new Error('hfLlamaFiles: LLaMA attention_bias means biases on all of q, k, v and o');
  }
  if (w.layers.some((l) => l.mlp.kind === 'swiglu' && (l.mlp.w1.bias || l.mlp.w2.bias || l.mlp.w3.bias))) {
    throw new Error('hfLlamaFiles: MLP biases are not written (mlp_bias is not supported by the loader)');
  }

  const tensors: Record<string, WritableTensor> = {};
  const put = (name: string, t: Tensor) => (tensors[name] = { dtype, shape: t.shape, data: t.data });
  /** [in, out] back to nn.Linear's [out, in], with q/k rows in rotate_half order when `heads` is given. */
  const putLinear = (name: string, l: Linear, heads?: number) => {
    const torch = transpose2d(l.weight, name);
    put(`${name}.weight`, heads ? rotaryRowsToHf(torch, heads, c.headDim, name) : torch);
    if (l.bias) put(`${name}.bias`, heads ? rotaryRowsToHf(l.bias, heads, c.headDim, name) : l.bias);
  };
  put('model.embed_tokens.weight', w.embeddings.token);
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}`;
    if (l.mlp.kind !== 'swiglu') throw new Error(`hfLlamaFiles: layer ${i} MLP is ${l.mlp.kind}, not swiglu`);
    put(`${p}.input_layernorm.weight`, l.attnNorm.scale);
    putLinear(`${p}.self_attn.q_proj`, l.attn.q, c.numHeads);
    putLinear(`${p}.self_attn.k_proj`, l.attn.k, c.numKvHeads);
    putLinear(`${p}.self_attn.v_proj`, l.attn.v);
    putLinear(`${p}.self_attn.o_proj`, l.attn.o);
    put(`${p}.post_attention_layernorm.weight`, l.mlpNorm.scale);
    putLinear(`${p}.mlp.gate_proj`, l.mlp.w1);
    putLinear(`${p}.mlp.up_proj`, l.mlp.w3);
    putLinear(`${p}.mlp.down_proj`, l.mlp.w2);
  });
  if (!w.finalNorm) throw new Error('hfLlamaFiles: LLaMA needs a final norm');
  put('model.norm.weight', w.finalNorm.scale);
  if (!w.head.tied) put('lm_head.weight', transpose2d(w.head.weight, 'head.weight'));

  const config = {
    architectures: [family === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: family,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    hidden_act: 'silu',
    max_position_embeddings: c.maxPositions,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: w.head.tied,
    ...(family === 'llama' ? { attention_bias: qkvBias, mlp_bias: false } : { use_sliding_window: false }),
    ...(c.bosTokenId !== undefined ? { bos_token_id: c.bosTokenId } : {}),
    ...(c.eosTokenId !== undefined ? { eos_token_id: c.eosTokenId } : {}),
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype],
  };
  const text = (json: unknown) => new TextEncoder().encode(JSON.stringify(json, null, 2) + '\n');
  const files: HfFolderFiles = { 'config.json': text(config) };
  const shards = options.shards ?? 1;
  const names = Object.keys(tensors);
  if (!Number.isSafeInteger(shards) || shards < 1 || shards > names.length) throw new Error(`hfLlamaFiles: shards must be 1..${names.length}, got ${shards}`);
  if (shards === 1) {
    files['model.safetensors'] = encodeSafetensors(tensors);
    return files;
  }
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part: Record<string, WritableTensor> = {};
    for (const name of names.slice(Math.floor((s * names.length) / shards), Math.floor(((s + 1) * names.length) / shards))) {
      part[name] = tensors[name];
      weightMap[name] = file;
    }
    files[file] = encodeSafetensors(part);
    totalSize += Object.values(part).reduce((a, t) => a + ('data' in t ? t.data.length : 0) * (dtype === 'F32' ? 4 : 2), 0);
  }
  files[SAFETENSORS_INDEX_FILE] = text({ metadata: { total_size: totalSize }, weight_map: weightMap });
  return files;
}
