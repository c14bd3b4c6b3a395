/**
 * Test fixtures: small random checkpoints in the exact naming and layout of real ones (openai-community/gpt2,
 * bert-base-uncased, llama2.c legacy), built in memory, so the loaders are tested on more than the two models
 * in ../shared/models.
 */
import type { WritableTensor } from './safetensors-writer.ts';

/** Greedy output of stories260K from BOS, as given in stories260K/SOURCE.md. */
export const STORIES_REFERENCE_TOKENS = (
  '1 403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 ' +
  '433 426 385 328 432 358 394 261 370 432 352 266 268 388 426 338 391 266 267 337 335 312 432 398 312 286 267 414 270 333 ' +
  '415 426 13 438 310 439 419 357 336 432 313 438 310 432 278 316 439 419 298 414 267'
).split(' ').map(Number);

/** Deterministic uniform values in [-scale, scale) (mulberry32), so fixtures are reproducible. */
export function seededRandom(seed: number): (scale?: number) => number {
  let s = seed >>> 0;
  return (scale = 1) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return (2 * u - 1) * scale;
  };
}

export interface RawTensor {
  readonly shape: number[];
  readonly data: Float32Array;
}

export type RawCheckpoint = Record<string, RawTensor>;

function randomTensor(rand: (s?: number) => number, shape: number[], scale: number, offset = 0): RawTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float32Array.from({ length: n }, () => offset + rand(scale)) };
}

export function asWritable(ckpt: RawCheckpoint): Record<string, WritableTensor> {
  return Object.fromEntries(Object.entries(ckpt).map(([k, t]) => [k, { dtype: 'F32' as const, shape: t.shape, data: t.data }]));
}

export const TINY_GPT2 = { vocab: 23, d: 8, heads: 2, layers: 2, positions: 10 };

/** config.json as openai-community/gpt2 writes it, with tiny sizes. */
export function tinyGpt2Config(): Record<string, unknown> {
  const g = TINY_GPT2;
  return {
    activation_function: 'gelu_new', architectures: ['GPT2LMHeadModel'], attn_pdrop: 0.1, bos_token_id: g.vocab - 1,
    embd_pdrop: 0.1, eos_token_id: g.vocab - 1, initializer_range: 0.02, layer_norm_epsilon: 1e-5, model_type: 'gpt2',
    n_ctx: g.positions, n_embd: g.d, n_head: g.heads, n_layer: g.layers, n_positions: g.positions, resid_pdrop: 0.1,
    summary_activation: null, summary_first_dropout: 0.1, summary_proj_to_labels: true, summary_type: 'cls_index',
    summary_use_proj: true, task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } }, vocab_size: g.vocab,
  };
}

/**
 * GPT-2 tensors named as in openai-community/gpt2's model.safetensors (160 tensors for 12 layers): no
 * `transformer.` prefix, Conv1D weights [in, out], no lm_head (tied), plus the per-layer causal-mask buffer
 * `h.N.attn.bias` [1, 1, n_ctx, n_ctx].
 */
export function tinyGpt2Checkpoint(seed = 1): RawCheckpoint {
  const { vocab, d, layers, positions } = TINY_GPT2;
  const r = seededRandom(seed);
  const c: RawCheckpoint = {
    'wte.weight': randomTensor(r, [vocab, d], 0.5),
    'wpe.weight': randomTensor(r, [positions, d], 0.2),
  };
  const mask = new Float32Array(positions * positions);
  for (let i = 0; i < positions; i++) for (let j = 0; j <= i; j++) mask[i * positions + j] = 1;
  for (let i = 0; i < layers; i++) {
    const h = `h.${i}`;
    c[`${h}.ln_1.weight`] = randomTensor(r, [d], 0.2, 1);
    c[`${h}.ln_1.bias`] = randomTensor(r, [d], 0.1);
    c[`${h}.attn.bias`] = { shape: [1, 1, positions, positions], data: mask };
    c[`${h}.attn.c_attn.weight`] = randomTensor(r, [d, 3 * d], 0.5);
    c[`${h}.attn.c_attn.bias`] = randomTensor(r, [3 * d], 0.1);
    c[`${h}.attn.c_proj.weight`] = randomTensor(r, [d, d], 0.5);
    c[`${h}.attn.c_proj.bias`] = randomTensor(r, [d], 0.1);
    c[`${h}.ln_2.weight`] = randomTensor(r, [d], 0.2, 1);
    c[`${h}.ln_2.bias`] = randomTensor(r, [d], 0.1);
    c[`${h}.mlp.c_fc.weight`] = randomTensor(r, [d, 4 * d], 0.5);
    c[`${h}.mlp.c_fc.bias`] = randomTensor(r, [4 * d], 0.1);
    c[`${h}.mlp.c_proj.weight`] = randomTensor(r, [4 * d, d], 0.3);
    c[`${h}.mlp.c_proj.bias`] = randomTensor(r, [d], 0.1);
  }
  c['ln_f.weight'] = randomTensor(r, [d], 0.2, 1);
  c['ln_f.bias'] = randomTensor(r, [d], 0.1);
  return c;
}

/** The same tensors under GPT2LMHeadModel's `transformer.` prefix (as the gpt2-shakespeare file). */
export function withPrefix(ckpt: RawCheckpoint, prefix: string, keep: (name: string) => boolean = () => true): RawCheckpoint {
  return Object.fromEntries(Object.entries(ckpt).map(([k, v]) => [keep(k) ? `${prefix}${k}` : k, v]));
}

export const TINY_BERT = { vocab: 31, d: 8, heads: 2, layers: 2, inter: 16, positions: 12, types: 2 };

/** config.json as bert-base-uncased's, with tiny sizes. */
export function tinyBertConfig(): Record<string, unknown> {
  const b = TINY_BERT;
  return {
    architectures: ['BertForMaskedLM'], attention_probs_dropout_prob: 0.1, gradient_checkpointing: false, hidden_act: 'gelu',
    hidden_dropout_prob: 0.1, hidden_size: b.d, initializer_range: 0.02, intermediate_size: b.inter, layer_norm_eps: 1e-12,
    max_position_embeddings: b.positions, model_type: 'bert', num_attention_heads: b.heads, num_hidden_layers: b.layers,
    pad_token_id: 0, position_embedding_type: 'absolute', transformers_version: '4.6.0.dev0', type_vocab_size: b.types,
    use_cache: true, vocab_size: b.vocab,
  };
}

/**
 * BERT tensors named as in bert-base-uncased (BertForPreTraining, TF-converted): `bert.` prefix, LayerNorm
 * gamma/beta, nn.Linear weights [out, in], pooler, MLM head with a stored decoder weight, NSP head.
 */
export function tinyBertPretrainingCheckpoint(seed = 2): RawCheckpoint {
  const { vocab, d, layers, inter, positions, types } = TINY_BERT;
  const r = seededRandom(seed);
  const c: RawCheckpoint = {};
  const lin = (name: string, out: number, inp: number) => {
    c[`${name}.weight`] = randomTensor(r, [out, inp], 0.5);
    c[`${name}.bias`] = randomTensor(r, [out], 0.1);
  };
  const ln = (name: string) => {
    c[`${name}.gamma`] = randomTensor(r, [d], 0.2, 1);
    c[`${name}.beta`] = randomTensor(r, [d], 0.1);
  };
  c['bert.embeddings.word_embeddings.weight'] = randomTensor(r, [vocab, d], 0.5);
  c['bert.embeddings.position_embeddings.weight'] = randomTensor(r, [positions, d], 0.2);
  c['bert.embeddings.token_type_embeddings.weight'] = randomTensor(r, [types, d], 0.2);
  ln('bert.embeddings.LayerNorm');
  for (let i = 0; i < layers; i++) {
    const l = `bert.encoder.layer.${i}`;
    lin(`${l}.attention.self.query`, d, d);
    lin(`${l}.attention.self.key`, d, d);
    lin(`${l}.attention.self.value`, d, d);
    lin(`${l}.attention.output.dense`, d, d);
    ln(`${l}.attention.output.LayerNorm`);
    lin(`${l}.intermediate.dense`, inter, d);
    lin(`${l}.output.dense`, d, inter);
    ln(`${l}.output.LayerNorm`);
  }
  lin('bert.pooler.dense', d, d);
  c['cls.predictions.bias'] = randomTensor(r, [vocab], 0.1);
  lin('cls.predictions.transform.dense', d, d);
  ln('cls.predictions.transform.LayerNorm');
  c['cls.predictions.decoder.weight'] = randomTensor(r, [vocab, d], 0.5);
  lin('cls.seq_relationship', 2, d);
  return c;
}

export const TINY_LLAMA = { dim: 16, hidden: 24, layers: 2, heads: 4, kvHeads: 2, vocab: 300, seqLen: 12 };

/**
 * A llama2.c legacy checkpoint (header, weights in file order, RoPE tables) with random weights. `shared`
 * false stores vocab_size negative and appends wcls. Returns the bytes and the raw [out, in] matrices.
 */
export function tinyLlama2cCheckpoint(shared: boolean, seed = 3): { bytes: Uint8Array; raw: RawCheckpoint } {
  const { dim, hidden, layers: L, heads, kvHeads, vocab, seqLen } = TINY_LLAMA;
  const headSize = dim / heads;
  const kv = kvHeads * headSize;
  const r = seededRandom(seed);
  const raw: RawCheckpoint = {
    token_embedding: randomTensor(r, [vocab, dim], 0.5),
    rms_att: randomTensor(r, [L, dim], 0.2, 1),
    wq: randomTensor(r, [L, dim, dim], 0.5),
    wk: randomTensor(r, [L, kv, dim], 0.5),
    wv: randomTensor(r, [L, kv, dim], 0.5),
    wo: randomTensor(r, [L, dim, dim], 0.5),
    rms_ffn: randomTensor(r, [L, dim], 0.2, 1),
    w1: randomTensor(r, [L, hidden, dim], 0.5),
    w2: randomTensor(r, [L, dim, hidden], 0.5),
    w3: randomTensor(r, [L, hidden, dim], 0.5),
    rms_final: randomTensor(r, [dim], 0.2, 1),
    freq_cis_real: randomTensor(r, [seqLen, headSize / 2], 1),
    freq_cis_imag: randomTensor(r, [seqLen, headSize / 2], 1),
  };
  if (!shared) raw.wcls = randomTensor(r, [vocab, dim], 0.5);
  const floats = Object.values(raw).reduce((a, t) => a + t.data.length, 0);
  const bytes = new Uint8Array(28 + 4 * floats);
  const view = new DataView(bytes.buffer);
  [dim, hidden, L, heads, kvHeads, shared ? vocab : -vocab, seqLen].forEach((v, i) => view.setInt32(4 * i, v, true));
  let off = 28;
  for (const t of Object.values(raw)) {
    bytes.set(new Uint8Array(t.data.buffer), off);
    off += 4 * t.data.length;
  }
  return { bytes, raw };
}
