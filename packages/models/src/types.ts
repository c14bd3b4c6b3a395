/**
 * The normalized, architecture-generic description of a transformer: a `ModelConfig` (what to compute) and
 * `TransformerWeights` (with what). Every loader produces exactly this structure, and both the plaintext
 * reference (this package) and the secure forward pass consume it, so neither needs to know file formats.
 *
 * Layout conventions, fixed for every architecture:
 * - Tensors are row-major with an explicit shape.
 * - Every linear map is stored as weight [in, out] (so y = x W + b for a row vector x). Loaders transpose
 *   nn.Linear's [out, in] explicitly; GPT-2's Conv1D already is [in, out].
 * - Embedding tables are [rows, hidden] (one-hot(ids) [T, rows] times the table gives [T, hidden]).
 */
import type { RopeScaling } from './rope.ts';

export type FloatArray = Float32Array | Float64Array;

export interface Tensor {
  readonly data: FloatArray;
  readonly shape: readonly number[];
}

/** y = x W + b with W [in, out], b [out]. */
export interface Linear {
  readonly weight: Tensor;
  readonly bias?: Tensor;
}

/**
 * LayerNorm: (x - mean) / sqrt(var + eps) * scale + bias (biased variance, as PyTorch).
 * RMSNorm (llama2.c): x / sqrt(mean(x^2) + eps) * scale, no bias.
 */
export interface Norm {
  readonly kind: 'layernorm' | 'rmsnorm';
  readonly scale: Tensor;
  readonly bias?: Tensor;
  readonly eps: number;
}

/** q [hidden, heads*headDim], k and v [hidden, kvHeads*headDim], o [heads*headDim, hidden]. */
export interface AttentionWeights {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
}

/**
 * 'dense': down(act(up(x))) with up [hidden, inter], down [inter, hidden] (GPT-2, BERT).
 * 'swiglu' (LLaMA, llama2.c names): w2(silu(w1 x) * (w3 x)) with w1, w3 [hidden, inter], w2 [inter, hidden].
 */
export type MlpWeights =
  | { readonly kind: 'dense'; readonly up: Linear; readonly down: Linear }
  | { readonly kind: 'swiglu'; readonly w1: Linear; readonly w2: Linear; readonly w3: Linear };

/**
 * One block. The norms belong to their sublayer; where they sit is `ModelConfig.normPlacement`:
 * 'pre'  (GPT-2, LLaMA): x += attn(attnNorm(x)); x += mlp(mlpNorm(x)).
 * 'post' (BERT):         x = attnNorm(x + attn(x)); x = mlpNorm(x + mlp(x)).
 */
export interface LayerWeights {
  readonly attnNorm: Norm;
  readonly attn: AttentionWeights;
  readonly mlpNorm: Norm;
  readonly mlp: MlpWeights;
}

/** token [vocab, hidden]; position [maxPositions, hidden] (learned positions only); tokenType [types, hidden]. */
export interface EmbeddingWeights {
  readonly token: Tensor;
  readonly position?: Tensor;
  readonly tokenType?: Tensor;
  /** BERT normalizes the embedding sum before the first layer. */
  readonly norm?: Norm;
}

/**
 * What turns the final hidden states into outputs.
 * - 'lm': logits = h W (+ bias), W [hidden, vocab]. When `tied`, W is the transpose of the token embedding
 *   (materialized, so every head has the same [in, out] layout; a secure pass may reuse the embedding instead).
 * - 'classifier' (BertForSequenceClassification): logits = classifier(tanh(pooler(h[0]))).
 * - 'mlm' (BertForMaskedLM): logits = decoder(norm(act(transform(h)))), act = config.activation.
 * - 'none' (BertModel): hidden states, and the pooled output when the pooler is present.
 */
export type HeadWeights =
  | { readonly kind: 'lm'; readonly weight: Tensor; readonly bias?: Tensor; readonly tied: boolean }
  | { readonly kind: 'classifier'; readonly pooler: Linear; readonly classifier: Linear }
  | { readonly kind: 'mlm'; readonly transform: Linear; readonly norm: Norm; readonly decoder: Linear; readonly tied: boolean }
  | { readonly kind: 'none'; readonly pooler?: Linear };

export interface TransformerWeights {
  readonly embeddings: EmbeddingWeights;
  readonly layers: readonly LayerWeights[];
  /** GPT-2 ln_f, LLaMA rms_final; absent for BERT (post-LN already normalizes). */
  readonly finalNorm?: Norm;
  readonly head: HeadWeights;
}

export type Arch = 'gpt2' | 'bert' | 'llama';

/** 'gelu': exact x * Phi(x) with erf (BERT "gelu"); 'gelu_new': the tanh form (GPT-2); 'silu': x * sigmoid(x). */
export type Activation = 'gelu' | 'gelu_new' | 'silu';

export interface ModelConfig {
  readonly arch: Arch;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  /** Equal to numHeads unless grouped-query attention; query head h uses kv head floor(h / (numHeads / numKvHeads)). */
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly intermediateSize: number;
  /** Longest sequence the model accepts (learned position table rows, or the RoPE model's trained length). */
  readonly maxPositions: number;
  /** Rows of the token-type table; 0 when the model has none. */
  readonly typeVocabSize: number;
  readonly norm: 'layernorm' | 'rmsnorm';
  readonly normEps: number;
  readonly normPlacement: 'pre' | 'post';
  readonly mlp: 'dense' | 'swiglu';
  readonly activation: Activation;
  readonly positions: 'learned' | 'rope';
  /** RoPE base (llama2.c: 10000, adjacent pairs of dimensions); unused for learned positions. */
  readonly ropeTheta: number;
  /** config.json's rope_scaling (see rope.ts); absent for plain RoPE. */
  readonly ropeScaling?: RopeScaling;
  readonly causal: boolean;
  /** The LM head (or MLM decoder) is the token embedding transposed. */
  readonly tiedHead: boolean;
  /** Class count for a classifier head; 0 otherwise. */
  readonly numLabels: number;
  /** Class names by id when the config gives them. */
  readonly labels?: readonly string[];
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  /**
   * Published by the model owner from its calibration (norm-windows.ts), not read from config.json: per norm of
   * the secure pass, [lo, hi] with the rows' variance plus eps (mean square plus eps for RMSNorm) in
   * [2^lo, 2^hi]. Absent (or a norm absent): the whole range the ring allows.
   */
  readonly normWindows?: NormWindows;
}

/** Norm name of the secure pass ('emb.norm', 'l<i>.attnNorm', 'l<i>.mlpNorm', 'final') -> [lo, hi] (log2). */
export type NormWindows = Readonly<Record<string, readonly [number, number]>>;

export interface Model {
  readonly config: ModelConfig;
  readonly weights: TransformerWeights;
}

/** A loader's result: the model, plus the names of file tensors it did not need (buffers, unmodelled heads). */
export interface LoadedModel extends Model {
  readonly unusedTensors: readonly string[];
}
