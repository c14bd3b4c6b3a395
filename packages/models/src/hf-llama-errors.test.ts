/**
 * Bad Hugging Face LLaMA-family input gets an error naming the file, the tensor or the config field: missing
 * tensors, wrong shapes, non-float and unknown dtypes, missing or mismatched shards, and config settings whose
 * computation is not implemented (RoPE scaling, MLP biases, sliding windows, other activations).
 */
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadHuggingFace } from './hf-loader.ts';
import { hfLlamaFiles, type HfFolderFiles } from './hf-llama-writer.ts';
import { loadModel } from './node.ts';
import { parseSafetensors } from './safetensors.ts';
import { encodeSafetensors, type WritableTensor } from './safetensors-writer.ts';

const { model: stories } = await loadModel('stories260K');
const single = hfLlamaFiles(stories);
const config = JSON.parse(new TextDecoder().decode(single['config.json'])) as Record<string, unknown>;
const file = parseSafetensors(single['model.safetensors'], 'model.safetensors');
const root = mkdtempSync(path.join(tmpdir(), 'puma-hf-llama-bad-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let folders = 0;
function writeFolder(files: HfFolderFiles): string {
  const dir = path.join(root, `m${folders++}`);
  mkdirSync(dir);
  for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(dir, name), bytes);
  return dir;
}

/** model.safetensors with one tensor replaced by `replacement` (or dropped when it is null). */
function edited(name: string, replacement: WritableTensor | null): Uint8Array {
  const tensors: Record<string, WritableTensor> = {};
  for (const n of file.names()) {
    if (n !== name) tensors[n] = { dtype: 'F32', shape: file.entry(n).shape, data: file.tensor(n).data };
    else if (replacement) tensors[n] = replacement;
  }
  return encodeSafetensors(tensors);
}

describe('HF LLaMA loader: bad files', () => {
  it('a missing tensor names the file and the tensor', async () => {
    const dir = writeFolder({ ...single, 'model.safetensors': edited('model.layers.2.self_attn.k_proj.weight', null) });
    await expect(loadModel(dir)).rejects.toThrow(/model\.safetensors: missing tensor "model\.layers\.2\.self_attn\.k_proj\.weight" \(expected shape \[32, 64\]\)/);
    const untied = { ...config, tie_word_embeddings: false };
    expect(() => loadHuggingFace(untied, file)).toThrow(/model\.safetensors: missing tensor "lm_head\.weight" \(expected shape \[512, 64\]\)/);
  });

  it('a wrong shape names the shard that holds the tensor, both shapes', async () => {
    const dir = writeFolder({ ...hfLlamaFiles(stories, { shards: 3 }), 'config.json': new TextEncoder().encode(JSON.stringify({ ...config, intermediate_size: 171 })) });
    await expect(loadModel(dir)).rejects.toThrow(/model-00001-of-00003\.safetensors: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[172, 64\], expected \[171, 64\]/);
  });

  it('a non-float dtype and an unknown dtype name the tensor', () => {
    const ints = parseSafetensors(edited('model.norm.weight', { dtype: 'I32', shape: [64], bytes: new Uint8Array(256) }), 'ints.safetensors');
    expect(() => loadHuggingFace(config, ints)).toThrow(/ints\.safetensors: tensor "model\.norm\.weight" has dtype I32, expected a float dtype/);
    expect(() => parseSafetensors(edited('model.norm.weight', { dtype: 'Q4_K', shape: [64], bytes: new Uint8Array(64) }), 'q.safetensors')).toThrow(/q\.safetensors: tensor "model\.norm\.weight": unknown dtype "Q4_K"/);
  });

  it('a missing shard, and an index that puts a tensor in the wrong shard, name the index, shard and tensor', async () => {
    const files = hfLlamaFiles(stories, { shards: 2 });
    const dir = writeFolder(files);
    unlinkSync(path.join(dir, 'model-00002-of-00002.safetensors'));
    await expect(loadModel(dir)).rejects.toThrow(/model\.safetensors\.index\.json: shard file .*model-00002-of-00002\.safetensors is missing \(it holds "model\.layers\.\d\./);

    const index = JSON.parse(new TextDecoder().decode(files['model.safetensors.index.json'])) as { weight_map: Record<string, string> };
    index.weight_map['model.norm.weight'] = 'model-00001-of-00002.safetensors';
    const moved = writeFolder({ ...files, 'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify(index)) });
    await expect(loadModel(moved)).rejects.toThrow(/index\.json: tensor "model\.norm\.weight" should be in shard ".*model-00001-of-00002\.safetensors", which lacks it/);

    index.weight_map['model.norm.weight'] = '../elsewhere.safetensors';
    const escaping = writeFolder({ ...files, 'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify(index)) });
    await expect(loadModel(escaping)).rejects.toThrow(/tensor "model\.norm\.weight" maps to "\.\.\/elsewhere\.safetensors", expected a \.safetensors file name in the same folder/);
  });
});

describe('HF LLaMA loader: config settings it does not implement are refused by name', () => {
  const refuse = (patch: Record<string, unknown>, message: RegExp) => expect(() => loadHuggingFace({ ...config, ...patch }, file, { configSource: 'cfg.json' })).toThrow(message);

  it('RoPE scaling types and fields that are not computed, naming them; the "default" type is plain RoPE', () => {
    refuse({ rope_scaling: { rope_type: 'longrope', factor: 2 } }, /cfg\.json: rope_scaling type "longrope" is not supported/);
    refuse({ rope_scaling: { type: 'su', factor: 2 } }, /rope_scaling type "su" is not supported/);
    refuse({ rope_scaling: { rope_type: 'yarn', factor: 4, mscale: 1 } }, /cfg\.json rope_scaling: "mscale" \(DeepSeek's YaRN variant\) is not supported/);
    refuse({ rope_scaling: { rope_type: 'yarn', factor: 4, truncate: false } }, /"truncate": false is not supported/);
    refuse({ rope_scaling: { type: 'linear' } }, /cfg\.json rope_scaling: "factor" must be a positive number, got undefined/);
    refuse({ rope_scaling: { type: 'linear', factor: 0.5 } }, /"factor" 0\.5 is below 1/);
    refuse({ rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1, original_max_position_embeddings: 64 } }, /"high_freq_factor" 1 must exceed "low_freq_factor" 4/);
    refuse({ rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4 } }, /"original_max_position_embeddings" must be a positive integer/);
    refuse({ rope_scaling: 'linear' }, /"rope_scaling" must be an object or null, got "linear"/);
    expect(loadHuggingFace({ ...config, rope_scaling: { rope_type: 'default' }, rope_theta: 500000 }, file).config.ropeTheta).toBe(500000);
    expect(loadHuggingFace({ ...config, rope_scaling: null }, file).config.ropeScaling).toBeUndefined();
  });

  it('MLP biases, sliding windows, other activations, other architectures, bad head counts', () => {
    refuse({ mlp_bias: true }, /cfg\.json: "mlp_bias": true is not supported/);
    refuse({ model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], use_sliding_window: true }, /"use_sliding_window": true is not supported/);
    refuse({ hidden_act: 'gelu' }, /"hidden_act" "gelu" is not supported/);
    refuse({ architectures: ['LlamaForSequenceClassification'] }, /do not include LlamaForCausalLM/);
    refuse({ num_key_value_heads: 3 }, /num_attention_heads 8 is not a multiple of num_key_value_heads 3/);
    refuse({ rms_norm_eps: 0 }, /"rms_norm_eps" must be a positive number, got 0/);
    refuse({ model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'] }, /missing tensor "model\.layers\.0\.self_attn\.q_proj\.bias"/);
  });
});
