/**
 * The models the browsers bench feeds to the owner page: stories260K from the shared models folder, a
 * GPT-2-base-shaped model written as a Hugging Face folder (config.json, model.safetensors in F32 with
 * openai-community/gpt2's tensor names, and the GPT-2 tokenizer files under the names the owner page reads) in a
 * temporary folder that `dispose` removes, or any model folder the owner page can read.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSafetensors, type Model, type Tensor, type WritableTensor } from '@puma/models';
import { gpt2BaseShape } from './models-synthetic.ts';

export interface BenchModel {
  /** Row label and the session's model name. */
  name: string;
  files: string[];
  prompt: string;
  /** Bytes of the files fed to the owner page. */
  bytes: number;
  dispose(): void;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MODELS_DIR = process.env.PUMA_MODELS ?? path.join(ROOT, '../shared/models');

/** Files of a model folder that the owner page reads (model-files.ts): weights, config and tokenizer files. */
export function ownerPageFiles(names: readonly string[]): string[] {
  const wanted = (n: string) => n === 'config.json' || n.endsWith('.safetensors') || n.endsWith('.bin') || ['vocab.json', 'merges.txt', 'vocab.txt'].includes(n);
  return names.filter(wanted).sort();
}

function sizeOf(files: readonly string[]): number {
  return files.reduce((s, f) => s + statSync(f).size, 0);
}

function fromFolder(dir: string, name: string, prompt: string): BenchModel {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`model folder ${dir} does not exist (set PUMA_MODELS or pass --model <dir>)`);
  const files = ownerPageFiles(readdirSync(dir)).map((n) => path.join(dir, n));
  if (files.length === 0) throw new Error(`${dir} holds no file the owner page reads (config.json + *.safetensors, or a llama2.c .bin)`);
  return { name, files, prompt, bytes: sizeOf(files), dispose: () => {} };
}

/** `--model`: stories260k (default), gpt2-base, or a folder. */
export function resolveModel(spec: string): BenchModel {
  const s = spec.toLowerCase();
  if (s === 'stories260k') return fromFolder(path.join(MODELS_DIR, 'stories260K'), 'stories260K', 'Once upon a time');
  if (s === 'gpt2-base') return writeGpt2Base();
  const dir = path.resolve(spec);
  if (!existsSync(dir)) throw new Error(`--model ${spec}: not stories260k, gpt2-base or an existing folder`);
  return fromFolder(dir, path.basename(dir), 'Once upon a time');
}

/** F32 without a copy when the values already are float32 (the synthetic model's are). */
const f32 = (t: Tensor): WritableTensor =>
  t.data instanceof Float32Array ? { dtype: 'F32', shape: t.shape, bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) } : { dtype: 'F32', shape: t.shape, data: t.data };

/** GPT-2's fused c_attn [d, 3d]: each row is q's row, then k's, then v's (its bias: q's, k's, v's). */
function fuseColumns(parts: readonly Tensor[]): Tensor {
  if (parts[0].shape.length === 1) {
    const data = new Float32Array(parts.reduce((s, p) => s + p.data.length, 0));
    let at = 0;
    for (const p of parts) {
      data.set(p.data, at);
      at += p.data.length;
    }
    return { data, shape: [data.length] };
  }
  const rows = parts[0].shape[0];
  const widths = parts.map((p) => p.shape[1]);
  const width = widths.reduce((a, b) => a + b, 0);
  const data = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let at = r * width;
    parts.forEach((p, i) => {
      data.set(p.data.subarray(r * widths[i], (r + 1) * widths[i]), at);
      at += widths[i];
    });
  }
  return { data, shape: [rows, width] };
}

/** openai-community/gpt2's tensor names and Conv1D [in, out] layout for a GPT-2 Model (tied head: no lm_head). */
export function gpt2HfTensors(model: Model): Record<string, WritableTensor> {
  const w = model.weights;
  if (model.config.arch !== 'gpt2' || !w.finalNorm || !w.embeddings.position) throw new Error(`expected a GPT-2 model, got ${model.config.arch}`);
  const out: Record<string, WritableTensor> = { 'wte.weight': f32(w.embeddings.token), 'wpe.weight': f32(w.embeddings.position) };
  const norm = (name: string, n: Model['weights']['finalNorm']) => {
    if (!n || n.kind !== 'layernorm' || !n.bias) throw new Error(`${name}: expected a LayerNorm with bias`);
    out[`${name}.weight`] = f32(n.scale);
    out[`${name}.bias`] = f32(n.bias);
  };
  w.layers.forEach((l, i) => {
    const h = `h.${i}`;
    const { q, k, v, o } = l.attn;
    if (l.mlp.kind !== 'dense' || !q.bias || !k.bias || !v.bias || !o.bias || !l.mlp.up.bias || !l.mlp.down.bias) throw new Error(`${h}: expected GPT-2's dense layers with biases`);
    norm(`${h}.ln_1`, l.attnNorm);
    out[`${h}.attn.c_attn.weight`] = f32(fuseColumns([q.weight, k.weight, v.weight]));
    out[`${h}.attn.c_attn.bias`] = f32(fuseColumns([q.bias, k.bias, v.bias]));
    out[`${h}.attn.c_proj.weight`] = f32(o.weight);
    out[`${h}.attn.c_proj.bias`] = f32(o.bias);
    norm(`${h}.ln_2`, l.mlpNorm);
    out[`${h}.mlp.c_fc.weight`] = f32(l.mlp.up.weight);
    out[`${h}.mlp.c_fc.bias`] = f32(l.mlp.up.bias);
    out[`${h}.mlp.c_proj.weight`] = f32(l.mlp.down.weight);
    out[`${h}.mlp.c_proj.bias`] = f32(l.mlp.down.bias);
  });
  norm('ln_f', w.finalNorm);
  return out;
}

/** config.json as openai-community/gpt2 ships it (the fields the loader reads). */
export function gpt2ConfigJson(model: Model): Record<string, unknown> {
  const c = model.config;
  if (!c.tiedHead) throw new Error('the GPT-2 writer writes tied heads only (no lm_head.weight)');
  return {
    architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', activation_function: c.activation, layer_norm_epsilon: c.normEps,
    n_ctx: c.maxPositions, n_positions: c.maxPositions, n_embd: c.hiddenSize, n_head: c.numHeads, n_layer: c.numLayers,
    vocab_size: c.vocabSize, bos_token_id: c.bosTokenId ?? 50256, eos_token_id: c.eosTokenId ?? 50256,
  };
}

function writeGpt2Base(): BenchModel {
  const tokenizerDir = path.join(MODELS_DIR, 'gpt2-tokenizer');
  if (!existsSync(path.join(tokenizerDir, 'encoder.json'))) throw new Error(`the GPT-2 tokenizer is not in ${tokenizerDir} (set PUMA_MODELS)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'puma-bench-gpt2-base-'));
  try {
    const model = gpt2BaseShape();
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(gpt2ConfigJson(model), null, 2));
    writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(gpt2HfTensors(model)));
    copyFileSync(path.join(tokenizerDir, 'encoder.json'), path.join(dir, 'vocab.json'));
    copyFileSync(path.join(tokenizerDir, 'vocab.bpe'), path.join(dir, 'merges.txt'));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const files = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'].map((n) => path.join(dir, n));
  return {
    name: 'gpt2-base',
    files,
    prompt: 'The quick brown fox jumps over the lazy dog',
    bytes: sizeOf(files),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
