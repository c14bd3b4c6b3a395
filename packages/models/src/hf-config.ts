/**
 * Hugging Face config.json -> ModelConfig for GPT-2 (GPT2Config field names) and BERT (BertConfig names).
 * Missing optional fields take the library defaults; missing required ones, wrong types and unsupported
 * settings are errors naming the field.
 */
import type { Activation, ModelConfig } from './types.ts';
import { asObject, posInt, posNumber, type Json } from './config-fields.ts';

function optionalTokenId(cfg: Json, key: string): number | undefined {
  const v = cfg[key];
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/** Transformers' ACT2FN names for the two GeLU forms we implement. */
function activation(name: unknown, key: string, source: string): Activation {
  if (name === 'gelu') return 'gelu';
  if (name === 'gelu_new' || name === 'gelu_pytorch_tanh') return 'gelu_new';
  throw new Error(`${source}: unsupported "${key}" ${JSON.stringify(name)} (supported: gelu, gelu_new, gelu_pytorch_tanh)`);
}

function headDim(hidden: number, heads: number, source: string): number {
  if (hidden % heads !== 0) throw new Error(`${source}: hidden size ${hidden} is not divisible by ${heads} heads`);
  return hidden / heads;
}

export function gpt2Config(json: unknown, source = 'config.json'): ModelConfig {
  const cfg = asObject(json, source);
  if (cfg.model_type !== undefined && cfg.model_type !== 'gpt2') throw new Error(`${source}: model_type ${JSON.stringify(cfg.model_type)} is not gpt2`);
  const hidden = posInt(cfg, 'n_embd', source);
  const heads = posInt(cfg, 'n_head', source);
  const inner = cfg.n_inner === null || cfg.n_inner === undefined ? 4 * hidden : posInt(cfg, 'n_inner', source);
  return {
    arch: 'gpt2',
    vocabSize: posInt(cfg, 'vocab_size', source),
    hiddenSize: hidden,
    numLayers: posInt(cfg, 'n_layer', source),
    numHeads: heads,
    numKvHeads: heads,
    headDim: headDim(hidden, heads, source),
    intermediateSize: inner,
    maxPositions: posInt(cfg, 'n_positions', source, cfg.n_ctx as number | undefined),
    typeVocabSize: 0,
    norm: 'layernorm',
    normEps: posNumber(cfg, 'layer_norm_epsilon', source, 1e-5),
    normPlacement: 'pre',
    mlp: 'dense',
    activation: activation(cfg.activation_function ?? 'gelu_new', 'activation_function', source),
    positions: 'learned',
    ropeTheta: 0,
    causal: true,
    tiedHead: cfg.tie_word_embeddings !== false,
    numLabels: 0,
    bosTokenId: optionalTokenId(cfg, 'bos_token_id'),
    eosTokenId: optionalTokenId(cfg, 'eos_token_id'),
  };
}

function labelsOf(cfg: Json, source: string): string[] | undefined {
  const map = cfg.id2label;
  if (map === undefined || map === null) return undefined;
  if (typeof map !== 'object' || Array.isArray(map)) throw new Error(`${source}: "id2label" must be an object`);
  const entries = Object.entries(map as Json);
  const labels: string[] = new Array(entries.length);
  for (const [k, v] of entries) {
    const id = Number(k);
    if (!Number.isInteger(id) || id < 0 || id >= entries.length || typeof v !== 'string') {
      throw new Error(`${source}: "id2label" must map ids 0..${entries.length - 1} to names, got ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
    }
    labels[id] = v;
  }
  return labels;
}

export function bertConfig(json: unknown, source = 'config.json'): ModelConfig {
  const cfg = asObject(json, source);
  if (cfg.model_type !== undefined && cfg.model_type !== 'bert') throw new Error(`${source}: model_type ${JSON.stringify(cfg.model_type)} is not bert`);
  if (cfg.position_embedding_type !== undefined && cfg.position_embedding_type !== 'absolute') {
    throw new Error(`${source}: position_embedding_type ${JSON.stringify(cfg.position_embedding_type)} is not supported (only absolute)`);
  }
  if (cfg.is_decoder === true) throw new Error(`${source}: BERT as a decoder (is_decoder) is not supported`);
  const hidden = posInt(cfg, 'hidden_size', source);
  const heads = posInt(cfg, 'num_attention_heads', source);
  const labels = labelsOf(cfg, source);
  const numLabels = cfg.num_labels === undefined ? (labels?.length ?? 2) : posInt(cfg, 'num_labels', source);
  if (labels && labels.length !== numLabels) throw new Error(`${source}: num_labels ${numLabels} but id2label has ${labels.length} entries`);
  return {
    arch: 'bert',
    vocabSize: posInt(cfg, 'vocab_size', source),
    hiddenSize: hidden,
    numLayers: posInt(cfg, 'num_hidden_layers', source),
    numHeads: heads,
    numKvHeads: heads,
    headDim: headDim(hidden, heads, source),
    intermediateSize: posInt(cfg, 'intermediate_size', source),
    maxPositions: posInt(cfg, 'max_position_embeddings', source),
    typeVocabSize: posInt(cfg, 'type_vocab_size', source, 2),
    norm: 'layernorm',
    normEps: posNumber(cfg, 'layer_norm_eps', source, 1e-12),
    normPlacement: 'post',
    mlp: 'dense',
    activation: activation(cfg.hidden_act ?? 'gelu', 'hidden_act', source),
    positions: 'learned',
    ropeTheta: 0,
    causal: false,
    tiedHead: true,
    numLabels,
    labels,
    bosTokenId: undefined,
    eosTokenId: undefined,
  };
}
