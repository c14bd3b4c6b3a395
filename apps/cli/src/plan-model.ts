/**
 * The model shape `puma plan` estimates for, read without loading weights: a named shape (plan-shapes.ts), or
 * a model folder/file found as every other command finds it, of which only config.json (Hugging Face) or the
 * 28-byte header (llama2.c) is read.
 */
import { open, readFile } from 'node:fs/promises';
import { bertConfig, checkNotPickled, gpt2Config, llamaFamilyConfig, type ModelConfig } from '@puma/models';
import { findModel } from '@puma/models/node';
import { PLAN_SHAPES, planShape } from '@puma/models/secure';

export interface PlanModel {
  name: string;
  /** 'shape' for a named shape, else the weights file the shape was read beside. */
  source: string;
  config: ModelConfig;
}

/** llama2.c's legacy header: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative: untied head), seq_len. */
async function llama2cHeader(file: string): Promise<ModelConfig> {
  const handle = await open(file, 'r');
  let header: Int32Array;
  try {
    const buf = Buffer.alloc(28);
    const { bytesRead } = await handle.read(buf, 0, 28, 0);
    checkNotPickled(buf.subarray(0, Math.min(bytesRead, 4)), file);
    if (bytesRead < 28) throw new Error(`${file}: ${bytesRead} bytes is too short for a llama2.c checkpoint header`);
    header = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 28));
  } finally {
    await handle.close();
  }
  const [dim, hidden, layers, heads, kvHeads, vocabRaw, seqLen] = header;
  for (const [k, v] of Object.entries({ dim, hidden_dim: hidden, n_layers: layers, n_heads: heads, n_kv_heads: kvHeads, vocab_size: Math.abs(vocabRaw), seq_len: seqLen })) {
    if (!(v > 0)) throw new Error(`${file}: header field ${k} = ${v} must be positive (not a llama2.c legacy checkpoint?)`);
  }
  if (dim % heads !== 0 || heads % kvHeads !== 0) throw new Error(`${file}: dim ${dim}, n_heads ${heads}, n_kv_heads ${kvHeads} do not divide`);
  return {
    arch: 'llama', vocabSize: Math.abs(vocabRaw), hiddenSize: dim, numLayers: layers, numHeads: heads, numKvHeads: kvHeads, headDim: dim / heads,
    intermediateSize: hidden, maxPositions: seqLen, typeVocabSize: 0, norm: 'rmsnorm', normEps: 1e-5, normPlacement: 'pre', mlp: 'swiglu',
    activation: 'silu', positions: 'rope', ropeTheta: 10000, causal: true, tiedHead: vocabRaw > 0, numLabels: 0,
  };
}

function hfConfig(json: unknown, source: string): ModelConfig {
  const type = typeof json === 'object' && json !== null ? (json as { model_type?: unknown }).model_type : undefined;
  if (type === 'gpt2') return gpt2Config(json, source);
  if (type === 'bert') return bertConfig(json, source);
  if (type === 'llama' || type === 'qwen2') return llamaFamilyConfig(json, source).config;
  throw new Error(`${source}: model_type ${JSON.stringify(type)} is not supported (gpt2, bert, llama, qwen2)`);
}

export async function resolvePlanModel(nameOrPath: string): Promise<PlanModel> {
  const shape = planShape(nameOrPath);
  if (shape) return { name: nameOrPath, source: 'shape', config: shape };
  let location;
  try {
    location = findModel(nameOrPath);
  } catch (e) {
    throw new Error(`${(e as Error).message}; or name a shape: ${Object.keys(PLAN_SHAPES).join(', ')}`);
  }
  if (location.format === 'llama2c') return { name: location.name, source: location.weights, config: await llama2cHeader(location.weights) };
  const configFile = location.config!;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(configFile, 'utf8'));
  } catch (e) {
    throw new Error(`${configFile}: ${(e as Error).message}`);
  }
  return { name: location.name, source: location.weights, config: hfConfig(json, configFile) };
}
