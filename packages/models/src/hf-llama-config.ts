/**
 * Hugging Face config.json -> ModelConfig for the LLaMA family: LlamaForCausalLM (LlamaConfig field names and
 * defaults) and Qwen2ForCausalLM (the same network with q/k/v biases), with rope_scaling of the types real
 * configs use (linear, dynamic, llama3, yarn). Settings whose computation this project does not implement
 * (other RoPE scalings, MLP biases, sliding-window attention, activations other than SiLU) are refused naming
 * the field and value, rather than run as something else.
 */
import type { RopeScaling } from './rope.ts';
import type { ModelConfig } from './types.ts';
import { asObject, posInt, posNumber, type Json } from './config-fields.ts';

export type LlamaFamily = 'llama' | 'qwen2';

export interface LlamaFamilyConfig {
  readonly family: LlamaFamily;
  readonly config: ModelConfig;
  /** q, k and v projections carry biases (Qwen2 always; LLaMA when attention_bias). */
  readonly qkvBias: boolean;
  /** The output projection carries a bias (LLaMA when attention_bias; never Qwen2). */
  readonly oBias: boolean;
}

const CAUSAL_LM: Record<LlamaFamily, string> = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM' };

function flag(cfg: Json, key: string, source: string, fallback: boolean): boolean {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'boolean') throw new Error(`${source}: "${key}" must be true or false, got ${JSON.stringify(cfg[key])}`);
  return v;
}

/** A token id, or the first of a list (LLaMA 3 configs give several end-of-sequence ids). */
function tokenId(cfg: Json, key: string): number | undefined {
  const raw = cfg[key];
  const v = Array.isArray(raw) ? raw[0] : raw;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/**
 * rope_scaling -> RopeScaling (see rope.ts for the formulas); null, absent and the "default" type mean plain RoPE.
 * Types and fields this project does not compute are refused by name, never run as plain RoPE.
 */
function ropeScaling(cfg: Json, maxPositions: number, source: string): RopeScaling | undefined {
  const s = cfg.rope_scaling;
  if (s === undefined || s === null) return undefined;
  if (typeof s !== 'object' || Array.isArray(s)) throw new Error(`${source}: "rope_scaling" must be an object or null, got ${JSON.stringify(s)}`);
  const r = s as Json;
  const type = r.rope_type ?? r.type;
  const where = `${source} rope_scaling`;
  const factor = () => {
    const f = posNumber(r, 'factor', where, Number.NaN);
    if (f < 1) throw new Error(`${where}: "factor" ${f} is below 1 (scaling only stretches the trained context)`);
    return f;
  };
  const original = () => posInt(r, 'original_max_position_embeddings', where, maxPositions);
  switch (type) {
    case 'default':
      return undefined;
    case 'linear':
      return { type, factor: factor() };
    case 'dynamic':
      return { type, factor: factor(), originalMaxPositions: maxPositions };
    case 'llama3': {
      const low = posNumber(r, 'low_freq_factor', where, Number.NaN);
      const high = posNumber(r, 'high_freq_factor', where, Number.NaN);
      if (!(high > low)) throw new Error(`${where}: "high_freq_factor" ${high} must exceed "low_freq_factor" ${low}`);
      return { type, factor: factor(), lowFreqFactor: low, highFreqFactor: high, originalMaxPositions: posInt(r, 'original_max_position_embeddings', where) };
    }
    case 'yarn': {
      for (const key of ['mscale', 'mscale_all_dim']) {
        if (r[key] !== undefined && r[key] !== null) throw new Error(`${where}: "${key}" (DeepSeek's YaRN variant) is not supported`);
      }
      if (r.truncate === false) throw new Error(`${where}: "truncate": false is not supported (only the rounded correction range)`);
      const f = factor();
      return {
        type, factor: f, originalMaxPositions: original(),
        betaFast: posNumber(r, 'beta_fast', where, 32), betaSlow: posNumber(r, 'beta_slow', where, 1),
        attentionFactor: posNumber(r, 'attention_factor', where, 0.1 * Math.log(f) + 1),
      };
    }
    default:
      throw new Error(
        `${source}: rope_scaling type ${JSON.stringify(type)} is not supported (default, linear, dynamic, llama3 and yarn are; longrope is not)`,
      );
  }
}

export function llamaFamilyConfig(json: unknown, source = 'config.json'): LlamaFamilyConfig {
  const cfg = asObject(json, source);
  const family = cfg.model_type;
  if (family !== 'llama' && family !== 'qwen2') throw new Error(`${source}: model_type ${JSON.stringify(family)} is not llama or qwen2`);
  const archs = cfg.architectures;
  if (Array.isArray(archs) && archs.length > 0 && !archs.includes(CAUSAL_LM[family])) {
    throw new Error(`${source}: architectures ${JSON.stringify(archs)} do not include ${CAUSAL_LM[family]} (only the causal LM is supported)`);
  }
  const act = cfg.hidden_act ?? 'silu';
  if (act !== 'silu' && act !== 'swish') throw new Error(`${source}: "hidden_act" ${JSON.stringify(act)} is not supported (LLaMA's SwiGLU needs silu)`);
  if (flag(cfg, 'mlp_bias', source, false)) throw new Error(`${source}: "mlp_bias": true is not supported (the secure SwiGLU has no biases)`);
  if (family === 'qwen2' && flag(cfg, 'use_sliding_window', source, false)) {
    throw new Error(`${source}: "use_sliding_window": true is not supported (attention is always over the whole sequence)`);
  }

  const hidden = posInt(cfg, 'hidden_size', source);
  const heads = posInt(cfg, 'num_attention_heads', source);
  const kvHeads = posInt(cfg, 'num_key_value_heads', source, heads);
  if (heads % kvHeads !== 0) throw new Error(`${source}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  if (cfg.head_dim === undefined || cfg.head_dim === null) {
    if (hidden % heads !== 0) throw new Error(`${source}: hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
  }
  const headDim = cfg.head_dim === undefined || cfg.head_dim === null ? hidden / heads : posInt(cfg, 'head_dim', source);
  if (headDim % 2 !== 0) throw new Error(`${source}: head size ${headDim} must be even for RoPE`);
  const attentionBias = flag(cfg, 'attention_bias', source, false);
  const trainedPositions = posInt(cfg, 'max_position_embeddings', source);
  const scaling = ropeScaling(cfg, trainedPositions, source);
  const config: ModelConfig = {
    arch: 'llama',
    vocabSize: posInt(cfg, 'vocab_size', source),
    hiddenSize: hidden,
    numLayers: posInt(cfg, 'num_hidden_layers', source),
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    intermediateSize: posInt(cfg, 'intermediate_size', source),
    // Dynamic NTK scaling exists to run past the trained length: up to factor times it.
    maxPositions: scaling?.type === 'dynamic' ? Math.floor(scaling.factor * trainedPositions) : trainedPositions,
    typeVocabSize: 0,
    norm: 'rmsnorm',
    normEps: posNumber(cfg, 'rms_norm_eps', source, 1e-6),
    normPlacement: 'pre',
    mlp: 'swiglu',
    activation: 'silu',
    positions: 'rope',
    ropeTheta: posNumber(cfg, 'rope_theta', source, 10000),
    ...(scaling ? { ropeScaling: scaling } : {}),
    causal: true,
    tiedHead: flag(cfg, 'tie_word_embeddings', source, false),
    numLabels: 0,
    bosTokenId: tokenId(cfg, 'bos_token_id'),
    eosTokenId: tokenId(cfg, 'eos_token_id'),
  };
  return { family, config, qkvBias: family === 'qwen2' || attentionBias, oBias: family === 'llama' && attentionBias };
}
