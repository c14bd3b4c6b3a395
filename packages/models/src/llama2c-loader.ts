/**
 * llama2.c "legacy" (version 0) checkpoints, e.g. karpathy's tinyllamas stories*.bin.
 *
 * Layout (float32 little-endian after a 7 x int32 header dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, seq_len): token_embedding [vocab, dim], rms_att [L, dim], wq [L, dim, dim], wk [L, kv, dim],
 * wv [L, kv, dim], wo [L, dim, dim], rms_ffn [L, dim], w1 [L, hidden, dim], w2 [L, dim, hidden],
 * w3 [L, hidden, dim], rms_final [dim], freq_cis_real and freq_cis_imag [seq_len, head_size / 2] (skipped: we
 * compute RoPE), then wcls [vocab, dim] only when vocab_size is stored negative (unshared classifier).
 * Matrices are PyTorch [out, in] and are transposed to [in, out]. The file size must match exactly.
 */
import { transpose2d } from './tensor.ts';
import type { LayerWeights, LoadedModel, ModelConfig, Norm, Tensor } from './types.ts';

/** The magic of llama2.c's versioned export format ("ak42" read as a little-endian uint32). */
const VERSIONED_MAGIC = 0x616b3432;

/**
 * Refuses a file that opens like another format's container rather than a llama2.c header: a zip archive
 * (torch.save since PyTorch 1.6) or a bare pickle (older torch.save). Neither is opened further.
 */
export function checkNotPickled(head: Uint8Array, source: string): void {
  const zip = head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
  const pickle = head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5;
  if (zip || pickle) {
    throw new Error(
      `${source}: this is a PyTorch ${zip ? 'zip archive' : 'pickle'} (torch.save), not a llama2.c checkpoint; PyTorch pickles are never ` +
        'opened (unpickling can run code). Export it with llama2.c\'s export.py --version 0, or save a Hugging Face model as safetensors.',
    );
  }
}

export function loadLlama2c(input: Uint8Array, source = 'llama2.c checkpoint'): LoadedModel {
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  checkNotPickled(bytes.subarray(0, 4), source);
  if (bytes.byteLength < 28) throw new Error(`${source}: ${bytes.byteLength} bytes is too short for a llama2.c checkpoint header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) === VERSIONED_MAGIC) {
    throw new Error(`${source}: this is a versioned llama2.c export (magic "ak42"); only the legacy version-0 format is supported`);
  }
  const [dim, hidden, nLayers, nHeads, nKvHeads, vocabRaw, seqLen] = Array.from({ length: 7 }, (_, i) => view.getInt32(4 * i, true));
  const vocab = Math.abs(vocabRaw);
  const shared = vocabRaw > 0;
  const fields: Record<string, number> = { dim, hidden_dim: hidden, n_layers: nLayers, n_heads: nHeads, n_kv_heads: nKvHeads, vocab_size: vocab, seq_len: seqLen };
  for (const [k, v] of Object.entries(fields)) {
    if (!(v > 0)) throw new Error(`${source}: header field ${k} = ${v} must be positive`);
  }
  if (dim % nHeads !== 0) throw new Error(`${source}: dim ${dim} is not divisible by n_heads ${nHeads}`);
  if (nHeads % nKvHeads !== 0) throw new Error(`${source}: n_heads ${nHeads} is not a multiple of n_kv_heads ${nKvHeads}`);
  const headSize = dim / nHeads;
  if (headSize % 2 !== 0) throw new Error(`${source}: head size ${headSize} must be even for RoPE`);
  const kvDim = nKvHeads * headSize;

  const L = nLayers;
  const floats =
    vocab * dim + L * dim + L * dim * dim + 2 * L * kvDim * dim + L * dim * dim + L * dim +
    3 * L * hidden * dim + dim + seqLen * headSize + (shared ? 0 : vocab * dim);
  const expectedBytes = 28 + 4 * floats;
  if (bytes.byteLength !== expectedBytes) {
    throw new Error(
      `${source}: ${bytes.byteLength} bytes, but the header (dim ${dim}, hidden ${hidden}, layers ${L}, heads ${nHeads}/${nKvHeads}, ` +
        `vocab ${vocabRaw}, seq_len ${seqLen}) implies ${expectedBytes}; ${bytes.byteLength < expectedBytes ? 'file truncated' : 'trailing data'}?`,
    );
  }

  let offset = 28;
  const take = (name: string, shape: number[]): Tensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(bytes.slice(offset, offset + 4 * n).buffer);
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(data[i])) throw new Error(`${source}: tensor "${name}" element ${i} is ${data[i]} (weights must be finite)`);
    }
    offset += 4 * n;
    return { data, shape };
  };
  /** Reads a stack of L matrices [out, in] as L tensors [in, out]. */
  const stacked = (name: string, rows: number, cols: number): Tensor[] =>
    Array.from({ length: L }, (_, l) => transpose2d(take(`layers.${l}.${name}`, [rows, cols]), `layers.${l}.${name}`));
  const vectors = (name: string): Tensor[] => Array.from({ length: L }, (_, l) => take(`layers.${l}.${name}`, [dim]));

  const eps = 1e-5;
  const rms = (scale: Tensor): Norm => ({ kind: 'rmsnorm', scale, eps });
  const token = take('token_embedding', [vocab, dim]);
  const rmsAtt = vectors('rms_att');
  const wq = stacked('wq', dim, dim);
  const wk = stacked('wk', kvDim, dim);
  const wv = stacked('wv', kvDim, dim);
  const wo = stacked('wo', dim, dim);
  const rmsFfn = vectors('rms_ffn');
  const w1 = stacked('w1', hidden, dim);
  const w2 = stacked('w2', dim, hidden);
  const w3 = stacked('w3', hidden, dim);
  const rmsFinal = take('rms_final', [dim]);
  offset += 4 * seqLen * headSize; // freq_cis_real and freq_cis_imag, [seq_len, head_size / 2] each
  const head = shared
    ? transpose2d(token, 'token_embedding')
    : transpose2d(take('wcls', [vocab, dim]), 'wcls');

  const layers: LayerWeights[] = Array.from({ length: L }, (_, l) => ({
    attnNorm: rms(rmsAtt[l]),
    attn: { q: { weight: wq[l] }, k: { weight: wk[l] }, v: { weight: wv[l] }, o: { weight: wo[l] } },
    mlpNorm: rms(rmsFfn[l]),
    mlp: { kind: 'swiglu', w1: { weight: w1[l] }, w2: { weight: w2[l] }, w3: { weight: w3[l] } },
  }));
  const config: ModelConfig = {
    arch: 'llama',
    vocabSize: vocab,
    hiddenSize: dim,
    numLayers: L,
    numHeads: nHeads,
    numKvHeads: nKvHeads,
    headDim: headSize,
    intermediateSize: hidden,
    maxPositions: seqLen,
    typeVocabSize: 0,
    norm: 'rmsnorm',
    normEps: eps,
    normPlacement: 'pre',
    mlp: 'swiglu',
    activation: 'silu',
    positions: 'rope',
    ropeTheta: 10000,
    causal: true,
    tiedHead: shared,
    numLabels: 0,
    bosTokenId: 1,
    eosTokenId: 2,
  };
  return {
    config,
    weights: { embeddings: { token }, layers, finalNorm: rms(rmsFinal), head: { kind: 'lm', weight: head, tied: shared } },
    unusedTensors: ['freq_cis_real', 'freq_cis_imag'],
  };
}
