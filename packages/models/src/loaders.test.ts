/**
 * Loaders on small checkpoints built here in the exact naming/layout of openai-community/gpt2,
 * bert-base-uncased and llama2.c legacy files. Forward passes of the loaded models are compared with plain
 * reference code written directly against the raw checkpoint tensors (Conv1D [in, out], nn.Linear [out, in]),
 * which checks every layout conversion end to end.
 */
import { describe, expect, it } from 'vitest';
import { loadBert } from './bert-loader.ts';
import { erf } from './erf.ts';
import { forwardHidden } from './forward.ts';
import { loadGpt2 } from './gpt2-loader.ts';
import { lmLogits, mlmLogits, pooledOutput } from './heads.ts';
import { loadHuggingFace } from './hf-loader.ts';
import { loadLlama2c } from './llama2c-loader.ts';
import { parseSafetensors } from './safetensors.ts';
import { encodeSafetensors, type WritableTensor } from './safetensors-writer.ts';
import {
  asWritable, TINY_BERT, TINY_GPT2, TINY_LLAMA, tinyBertConfig, tinyBertPretrainingCheckpoint, tinyGpt2Checkpoint,
  tinyGpt2Config, tinyLlama2cCheckpoint, withPrefix, type RawCheckpoint,
} from './test-fixtures.ts';
import type { Model } from './types.ts';
import { validateModel } from './validate.ts';

const file = (c: Record<string, WritableTensor>, name = 'model.safetensors') => parseSafetensors(encodeSafetensors(c), name);

function layerNormVec(x: number[], g: Float32Array, b: Float32Array, eps: number): number[] {
  const mean = x.reduce((a, v) => a + v, 0) / x.length;
  const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length;
  return x.map((v, j) => ((v - mean) / Math.sqrt(variance + eps)) * g[j] + b[j]);
}

/** Multi-head attention over rows of q/k/v vectors (head h uses columns h*hd ..), optionally causal. */
function naiveAttention(q: number[][], k: number[][], v: number[][], heads: number, causal: boolean): number[][] {
  const width = q[0].length;
  const hd = width / heads;
  return q.map((qt, t) => {
    const out = new Array(width).fill(0);
    for (let h = 0; h < heads; h++) {
      const keys = causal ? t + 1 : k.length;
      const s = Array.from({ length: keys }, (_, j) => {
        let dot = 0;
        for (let e = 0; e < hd; e++) dot += qt[h * hd + e] * k[j][h * hd + e];
        return dot / Math.sqrt(hd);
      });
      const m = Math.max(...s);
      const ex = s.map((x) => Math.exp(x - m));
      const z = ex.reduce((a, b) => a + b, 0);
      for (let j = 0; j < keys; j++) for (let e = 0; e < hd; e++) out[h * hd + e] += (ex[j] / z) * v[j][h * hd + e];
    }
    return out;
  });
}

/** GPT-2 logits straight from openai-community/gpt2-named tensors. */
function naiveGpt2Logits(c: RawCheckpoint, ids: number[]): number[][] {
  const { vocab, d, heads, layers } = TINY_GPT2;
  const w = (n: string) => c[n].data;
  const conv1d = (x: number[], name: string, out: number) => {
    const W = w(`${name}.weight`);
    const b = w(`${name}.bias`);
    return Array.from({ length: out }, (_, j) => x.reduce((a, xi, i) => a + xi * W[i * out + j], b[j]));
  };
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  let X = ids.map((id, t) => Array.from({ length: d }, (_, j) => w('wte.weight')[id * d + j] + w('wpe.weight')[t * d + j]));
  for (let l = 0; l < layers; l++) {
    const h = `h.${l}`;
    const qkv = X.map((x) => conv1d(layerNormVec(x, w(`${h}.ln_1.weight`), w(`${h}.ln_1.bias`), 1e-5), `${h}.attn.c_attn`, 3 * d));
    const att = naiveAttention(qkv.map((r) => r.slice(0, d)), qkv.map((r) => r.slice(d, 2 * d)), qkv.map((r) => r.slice(2 * d)), heads, true);
    X = X.map((x, t) => conv1d(att[t], `${h}.attn.c_proj`, d).map((v, j) => v + x[j]));
    X = X.map((x) => {
      const up = conv1d(layerNormVec(x, w(`${h}.ln_2.weight`), w(`${h}.ln_2.bias`), 1e-5), `${h}.mlp.c_fc`, 4 * d).map(gelu);
      return conv1d(up, `${h}.mlp.c_proj`, d).map((v, j) => v + x[j]);
    });
  }
  return X.map((x) => {
    const f = layerNormVec(x, w('ln_f.weight'), w('ln_f.bias'), 1e-5);
    return Array.from({ length: vocab }, (_, v) => f.reduce((a, fj, j) => a + fj * w('wte.weight')[v * d + j], 0));
  });
}

/** BERT (bert-base-uncased names) hidden states, MLM logits and pooled output from the raw [out, in] tensors. */
function naiveBert(c: RawCheckpoint, ids: number[]): { hidden: number[][]; mlm: number[][]; pooled: number[] } {
  const { d, heads, layers, vocab } = TINY_BERT;
  const w = (n: string) => c[n].data;
  const dense = (x: number[], name: string) => {
    const W = w(`${name}.weight`);
    const b = w(`${name}.bias`);
    const [out, inp] = c[`${name}.weight`].shape;
    return Array.from({ length: out }, (_, o) => x.reduce((a, xi, i) => a + W[o * inp + i] * xi, b[o]));
  };
  const ln = (x: number[], name: string) => layerNormVec(x, w(`${name}.gamma`), w(`${name}.beta`), 1e-12);
  const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
  const e = 'bert.embeddings';
  let X = ids.map((id, t) =>
    ln(Array.from({ length: d }, (_, j) => w(`${e}.word_embeddings.weight`)[id * d + j] + w(`${e}.position_embeddings.weight`)[t * d + j] + w(`${e}.token_type_embeddings.weight`)[j]), `${e}.LayerNorm`),
  );
  for (let l = 0; l < layers; l++) {
    const p = `bert.encoder.layer.${l}`;
    const att = naiveAttention(X.map((x) => dense(x, `${p}.attention.self.query`)), X.map((x) => dense(x, `${p}.attention.self.key`)), X.map((x) => dense(x, `${p}.attention.self.value`)), heads, false);
    X = X.map((x, t) => ln(dense(att[t], `${p}.attention.output.dense`).map((v, j) => v + x[j]), `${p}.attention.output.LayerNorm`));
    X = X.map((x) => ln(dense(dense(x, `${p}.intermediate.dense`).map(gelu), `${p}.output.dense`).map((v, j) => v + x[j]), `${p}.output.LayerNorm`));
  }
  const mlm = X.map((x) => {
    const t = ln(dense(x, 'cls.predictions.transform.dense').map(gelu), 'cls.predictions.transform.LayerNorm');
    return Array.from({ length: vocab }, (_, v) => t.reduce((a, tj, j) => a + tj * w('cls.predictions.decoder.weight')[v * d + j], w('cls.predictions.bias')[v]));
  });
  return { hidden: X, mlm, pooled: dense(X[0], 'bert.pooler.dense').map(Math.tanh) };
}

function expectClose(actual: ArrayLike<number>, expected: number[], tol = 1e-9): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  expect(worst).toBeLessThan(tol);
}

function gpt2LogitsOf(model: Model, ids: number[]): Float64Array {
  return lmLogits(model, forwardHidden(model, ids), ids.length);
}

describe('GPT-2 loader (openai-community/gpt2 naming)', () => {
  const raw = tinyGpt2Checkpoint();
  const ids = [3, 17, 0, 22, 9, 9, 1];

  it('loads names without prefix, ignores the mask buffers, and matches a forward pass over the raw tensors', () => {
    const m = loadGpt2(tinyGpt2Config(), file(asWritable(raw)));
    validateModel(m);
    const { d, layers } = TINY_GPT2;
    expect(m.config).toMatchObject({ arch: 'gpt2', hiddenSize: d, numLayers: layers, numHeads: 2, headDim: 4, intermediateSize: 4 * d, maxPositions: 10, activation: 'gelu_new', normPlacement: 'pre', causal: true, tiedHead: true, bosTokenId: 22 });
    expect([...m.unusedTensors].sort()).toEqual(['h.0.attn.bias', 'h.1.attn.bias']);
    // c_attn [in, 3d] splits by columns into q | k | v.
    const cAttn = raw['h.1.attn.c_attn.weight'].data;
    expect(m.weights.layers[1].attn.k.weight.data[2 * d + 5]).toBe(cAttn[2 * 3 * d + d + 5]);
    expect(m.weights.layers[1].attn.v.bias!.data[3]).toBe(raw['h.1.attn.c_attn.bias'].data[2 * d + 3]);
    expectClose(gpt2LogitsOf(m, ids), naiveGpt2Logits(raw, ids).flat());
  });

  it('loads the transformer.-prefixed GPT2LMHeadModel names to the same model', () => {
    const a = loadGpt2(tinyGpt2Config(), file(asWritable(raw)));
    const b = loadGpt2(tinyGpt2Config(), file(asWritable(withPrefix(raw, 'transformer.'))));
    expect(b.weights).toEqual(a.weights);
  });

  it('reads F16 and BF16 checkpoints (converted to float32)', () => {
    const half = Object.fromEntries(Object.entries(raw).map(([k, t]) => [k, { dtype: 'BF16' as const, shape: t.shape, data: t.data }]));
    const m = loadGpt2(tinyGpt2Config(), file(half));
    const logits = gpt2LogitsOf(m, ids);
    const exact = naiveGpt2Logits(raw, ids).flat();
    expect(Math.max(...exact.map((v, i) => Math.abs(v - logits[i])))).toBeLessThan(0.1);
  });

  it('uses an untied lm_head [vocab, hidden] when tie_word_embeddings is false', () => {
    const lm = { shape: [TINY_GPT2.vocab, TINY_GPT2.d], data: raw['wte.weight'].data.map((v) => -v) };
    const m = loadGpt2({ ...tinyGpt2Config(), tie_word_embeddings: false }, file(asWritable({ ...raw, 'lm_head.weight': lm })));
    expect(m.config.tiedHead).toBe(false);
    expectClose(gpt2LogitsOf(m, ids), naiveGpt2Logits(raw, ids).flat().map((v) => -v));
    expect(() => loadGpt2({ ...tinyGpt2Config(), tie_word_embeddings: false }, file(asWritable(raw)))).toThrow(/missing tensor "lm_head\.weight"/);
  });

  it('names the tensor that is missing, mis-shaped or not finite', () => {
    const { 'h.1.mlp.c_fc.bias': _dropped, ...missing } = raw;
    expect(() => loadGpt2(tinyGpt2Config(), file(asWritable(missing), 'g.safetensors'))).toThrow(/g\.safetensors: missing tensor "h\.1\.mlp\.c_fc\.bias" \(expected shape \[32\]\)/);
    const badShape = { ...raw, 'h.0.attn.c_proj.weight': { shape: [8, 9], data: new Float32Array(72) } };
    expect(() => loadGpt2(tinyGpt2Config(), file(asWritable(badShape)))).toThrow(/tensor "h\.0\.attn\.c_proj\.weight" has shape \[8, 9\], expected \[8, 8\]/);
    const nan = { ...raw, 'h.1.ln_2.weight': { shape: [8], data: Float32Array.from([1, 1, 1, NaN, 1, 1, 1, 1]) } };
    expect(() => loadGpt2(tinyGpt2Config(), file(asWritable(nan)))).toThrow(/tensor "h\.1\.ln_2\.weight" element 3 is NaN/);
    expect(() => loadGpt2(tinyGpt2Config(), file(asWritable(tinyBertPretrainingCheckpoint())))).toThrow(/missing tensor "transformer\.wte\.weight" \(or "wte\.weight"\)/);
  });

  it('rejects bad configs naming the field', () => {
    const cfg = tinyGpt2Config();
    const f = file(asWritable(raw));
    expect(() => loadGpt2({ ...cfg, n_head: 3 }, f)).toThrow(/hidden size 8 is not divisible by 3 heads/);
    expect(() => loadGpt2({ ...cfg, activation_function: 'relu' }, f)).toThrow(/unsupported "activation_function" "relu"/);
    expect(() => loadGpt2({ ...cfg, n_embd: undefined }, f, 'cfg.json')).toThrow(/cfg\.json: "n_embd" must be a positive integer/);
    expect(() => loadGpt2({ ...cfg, model_type: 'bert' }, f)).toThrow(/model_type "bert" is not gpt2/);
    expect(() => loadHuggingFace({ ...cfg, model_type: 'mistral' }, f)).toThrow(/model_type "mistral" is not supported \(gpt2, bert, llama, qwen2\)/);
  });
});

describe('BERT loader (bert-base-uncased and BertModel naming)', () => {
  const raw = tinyBertPretrainingCheckpoint();
  const ids = [1, 5, 30, 7, 2, 2, 11];

  it('loads BertForPreTraining names (gamma/beta, stored decoder) as an MLM model matching the raw tensors', () => {
    const m = loadBert(tinyBertConfig(), file(asWritable(raw)));
    validateModel(m);
    expect(m.weights.head.kind).toBe('mlm');
    expect(m.config).toMatchObject({ arch: 'bert', activation: 'gelu', normPlacement: 'post', causal: false, normEps: 1e-12, tiedHead: false, numLabels: 0 });
    expect([...m.unusedTensors].sort()).toEqual(['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'cls.seq_relationship.bias', 'cls.seq_relationship.weight']);
    // nn.Linear [out, in] -> [in, out]
    expect(m.weights.layers[0].mlp.kind === 'dense' && m.weights.layers[0].mlp.up.weight.data[3 * TINY_BERT.inter + 11]).toBe(raw['bert.encoder.layer.0.intermediate.dense.weight'].data[11 * TINY_BERT.d + 3]);
    const ref = naiveBert(raw, ids);
    const hidden = forwardHidden(m, ids);
    expectClose(hidden, ref.hidden.flat());
    expectClose(mlmLogits(m, hidden, ids.length), ref.mlm.flat());
  });

  it('builds the encoder with its pooler on request, and BertModel names load to the same encoder', () => {
    const enc = loadBert(tinyBertConfig(), file(asWritable(raw)), { head: 'none' });
    expect(enc.weights.head.kind).toBe('none');
    const ref = naiveBert(raw, ids);
    expectClose(pooledOutput(enc, forwardHidden(enc, ids)), ref.pooled);

    const bertModel: Record<string, WritableTensor> = {
      'embeddings.position_ids': { dtype: 'I64', shape: [1, TINY_BERT.positions], bytes: new Uint8Array(new BigInt64Array(TINY_BERT.positions).map((_, i) => BigInt(i)).buffer) },
    };
    for (const [k, t] of Object.entries(raw)) {
      if (!k.startsWith('bert.')) continue;
      bertModel[k.slice(5).replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias')] = { dtype: 'F32', shape: t.shape, data: t.data };
    }
    const plain = loadBert({ ...tinyBertConfig(), architectures: ['BertModel'] }, file(bertModel));
    expect(plain.unusedTensors).toEqual(['embeddings.position_ids']);
    expect(plain.weights).toEqual(enc.weights);
  });

  it('ties the MLM decoder to the word embeddings when its weight is absent (BertForMaskedLM as saved by transformers)', () => {
    const { 'cls.predictions.decoder.weight': _d, ...rest } = raw;
    const m = loadBert(tinyBertConfig(), file(asWritable(rest)));
    expect(m.config.tiedHead).toBe(true);
    const head = m.weights.head;
    expect(head.kind === 'mlm' && head.tied).toBe(true);
    expect(head.kind === 'mlm' && head.decoder.weight.data[4 * TINY_BERT.vocab + 9]).toBe(raw['bert.embeddings.word_embeddings.weight'].data[9 * TINY_BERT.d + 4]);
  });

  it('names missing or mis-shaped tensors and bad configs', () => {
    const { 'bert.encoder.layer.1.output.LayerNorm.beta': _b, ...missing } = raw;
    expect(() => loadBert(tinyBertConfig(), file(asWritable(missing)))).toThrow(/missing tensor "bert\.encoder\.layer\.1\.output\.LayerNorm\.bias" \(expected shape \[8\]; also tried "bert\.encoder\.layer\.1\.output\.LayerNorm\.beta"\)/);
    const bad = { ...raw, 'bert.encoder.layer.0.attention.self.key.weight': { shape: [4, 16], data: new Float32Array(64) } };
    expect(() => loadBert(tinyBertConfig(), file(asWritable(bad)))).toThrow(/tensor "bert\.encoder\.layer\.0\.attention\.self\.key\.weight" has shape \[4, 16\], expected \[8, 8\]/);
    expect(() => loadBert(tinyBertConfig(), file(asWritable(raw)), { head: 'classifier' })).toThrow(/missing tensor "classifier\.weight"/);
    expect(() => loadBert({ ...tinyBertConfig(), position_embedding_type: 'relative_key' }, file(asWritable(raw)))).toThrow(/position_embedding_type "relative_key" is not supported/);
    expect(() => loadBert({ ...tinyBertConfig(), hidden_act: 'swish' }, file(asWritable(raw)))).toThrow(/unsupported "hidden_act" "swish"/);
  });
});

describe('llama2.c legacy checkpoint loader', () => {
  const { dim, hidden, kvHeads, heads, vocab, layers, seqLen } = TINY_LLAMA;
  const hs = dim / heads;

  it('reads the header, transposes [out, in] matrices and ties the classifier when vocab_size > 0', () => {
    const { bytes, raw } = tinyLlama2cCheckpoint(true);
    const m = loadLlama2c(bytes, 'tiny.bin');
    validateModel(m);
    expect(m.config).toMatchObject({ arch: 'llama', hiddenSize: dim, intermediateSize: hidden, numLayers: layers, numHeads: heads, numKvHeads: kvHeads, headDim: hs, vocabSize: vocab, maxPositions: seqLen, norm: 'rmsnorm', normEps: 1e-5, mlp: 'swiglu', activation: 'silu', positions: 'rope', ropeTheta: 10000, tiedHead: true, bosTokenId: 1, eosTokenId: 2 });
    // wk [L, kv, dim]: layer 1, out row 5, in column 11 -> [in, out] element (11, 5)
    expect(m.weights.layers[1].attn.k.weight.data[11 * kvHeads * hs + 5]).toBe(raw.wk.data[1 * kvHeads * hs * dim + 5 * dim + 11]);
    expect(m.weights.layers[0].mlp.kind === 'swiglu' && m.weights.layers[0].mlp.w2.weight.data[7 * dim + 3]).toBe(raw.w2.data[3 * hidden + 7]);
    expect(m.weights.layers[1].mlpNorm.scale.data[4]).toBe(raw.rms_ffn.data[dim + 4]);
    const head = m.weights.head;
    expect(head.kind === 'lm' && head.tied && head.weight.data[2 * vocab + 250]).toBe(raw.token_embedding.data[250 * dim + 2]);
    expect(m.weights.finalNorm!.scale.data).toEqual(raw.rms_final.data);
  });

  it('reads the separate classifier when vocab_size is negative', () => {
    const { bytes, raw } = tinyLlama2cCheckpoint(false);
    const m = loadLlama2c(bytes);
    expect(m.config.vocabSize).toBe(vocab);
    expect(m.config.tiedHead).toBe(false);
    const head = m.weights.head;
    expect(head.kind === 'lm' && !head.tied && head.weight.data[2 * vocab + 250]).toBe(raw.wcls.data[250 * dim + 2]);
  });

  it('rejects truncated or padded files, non-finite weights, bad headers and the versioned format', () => {
    const { bytes } = tinyLlama2cCheckpoint(true);
    expect(() => loadLlama2c(bytes.subarray(0, bytes.length - 4), 'tiny.bin')).toThrow(/tiny\.bin: \d+ bytes, but the header .* implies \d+; file truncated\?/);
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    expect(() => loadLlama2c(longer, 'tiny.bin')).toThrow(/trailing data\?/);
    expect(() => loadLlama2c(bytes.subarray(0, 20), 'tiny.bin')).toThrow(/too short/);

    const nan = bytes.slice();
    // First element of layer 1's w2: after embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1 and layer 0's w2.
    const kv = kvHeads * hs;
    const floatsBefore = vocab * dim + layers * dim + layers * dim * dim + 2 * layers * kv * dim + layers * dim * dim + layers * dim + layers * hidden * dim + dim * hidden;
    new DataView(nan.buffer).setFloat32(28 + 4 * floatsBefore, NaN, true);
    expect(() => loadLlama2c(nan, 'tiny.bin')).toThrow(/tiny\.bin: tensor "layers\.1\.w2" element 0 is NaN/);

    const badHeads = bytes.slice();
    new DataView(badHeads.buffer).setInt32(12, 3, true);
    expect(() => loadLlama2c(badHeads)).toThrow(/dim 16 is not divisible by n_heads 3/);
    const zero = bytes.slice();
    new DataView(zero.buffer).setInt32(8, 0, true);
    expect(() => loadLlama2c(zero)).toThrow(/header field n_layers = 0 must be positive/);
    const versioned = bytes.slice();
    new DataView(versioned.buffer).setUint32(0, 0x616b3432, true);
    expect(() => loadLlama2c(versioned)).toThrow(/versioned llama2\.c export/);
    // torch.save output under a .bin name: a zip archive (PyTorch >= 1.6) or a bare pickle (protocol 2).
    const zip = bytes.slice();
    zip.set([0x50, 0x4b, 0x03, 0x04]);
    expect(() => loadLlama2c(zip, 'model.bin')).toThrow(/model\.bin: this is a PyTorch zip archive \(torch\.save\), not a llama2\.c checkpoint/);
    expect(() => loadLlama2c(new Uint8Array([0x80, 0x02, 0x8a, 0x0a]), 'old.bin')).toThrow(/old\.bin: this is a PyTorch pickle/);
  });
});

describe('validateModel', () => {
  it('names a tensor whose shape disagrees with the config', () => {
    const m = loadGpt2(tinyGpt2Config(), file(asWritable(tinyGpt2Checkpoint())));
    const layers = [...m.weights.layers];
    layers[1] = { ...layers[1], attn: { ...layers[1].attn, q: { weight: { data: new Float32Array(8 * 7), shape: [8, 7] } } } };
    expect(() => validateModel({ config: m.config, weights: { ...m.weights, layers } })).toThrow(/model: layers\.1\.attn\.q\.weight: expected shape \[8, 8\], got \[8, 7\]/);
    expect(() => validateModel({ config: { ...m.config, numLayers: 3 }, weights: m.weights })).toThrow(/config has 3 layers, weights have 2/);
  });
});
