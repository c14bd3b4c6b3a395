/**
 * GPT-2-base and BERT-base shaped models with deterministic pseudo-random weights, for the model bench.
 * The secure cost depends on the shapes only, but the values must keep activations in fixed-point range, so
 * the weights follow the models' own initialisation: linear and embedding weights N(0, 0.02) (GPT-2's output
 * projections N(0, 0.02 / sqrt(2 layers)), as in its paper; GPT-2's positions N(0, 0.01)), biases 0, norm
 * scale 1 and bias 0. Tensors are Float32Array, generated in place (GPT-2-base: 124 M parameters, 0.5 GB).
 */
import { bertConfig, gpt2Config, transpose2d, validateModel, type LayerWeights, type Linear, type Model, type ModelConfig, type Norm, type Tensor } from '@puma/models';

/** Seeded normal samples: xorshift128 uniform bits, Box-Muller pairs. */
export class NormalSource {
  private s: Uint32Array;
  private spare: number | null = null;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed <= 0) throw new Error(`seed must be a positive integer, got ${seed}`);
    this.s = new Uint32Array([seed, 0x6c078965 ^ seed, 0x9908b0df, 0x12345678 + seed]);
  }

  /** Uniform in (0, 1): never 0, so the logarithm below is finite. */
  private uniform(): number {
    const s = this.s;
    let t = s[3];
    t ^= t << 11;
    t ^= t >>> 8;
    s[3] = s[2];
    s[2] = s[1];
    s[1] = s[0];
    t ^= s[0] ^ (s[0] >>> 19);
    s[0] = t;
    return ((t >>> 0) + 0.5) / 2 ** 32;
  }

  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const a = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }

  tensor(shape: number[], std: number): Tensor {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = std * this.normal();
    return { data, shape };
  }
}

const INIT_STD = 0.02;

const filled = (shape: number[], v: number): Tensor => ({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v), shape });

function layerNorm(d: number, eps: number): Norm {
  return { kind: 'layernorm', scale: filled([d], 1), bias: filled([d], 0), eps };
}

function linear(g: NormalSource, inDim: number, outDim: number, std = INIT_STD): Linear {
  return { weight: g.tensor([inDim, outDim], std), bias: filled([outDim], 0) };
}

function layers(g: NormalSource, c: ModelConfig, outStd: number): LayerWeights[] {
  const d = c.hiddenSize;
  return Array.from({ length: c.numLayers }, () => ({
    attnNorm: layerNorm(d, c.normEps),
    attn: { q: linear(g, d, d), k: linear(g, d, d), v: linear(g, d, d), o: linear(g, d, d, outStd) },
    mlpNorm: layerNorm(d, c.normEps),
    mlp: { kind: 'dense', up: linear(g, d, c.intermediateSize), down: linear(g, c.intermediateSize, d, outStd) },
  }));
}

/** GPT-2 (124M) shape: 12 layers, 768 wide, 12 heads, vocab 50257, 1024 positions, gelu_new, pre-LN, tied head. */
export function gpt2BaseShape(seed = 1): Model {
  const config = gpt2Config({ model_type: 'gpt2', vocab_size: 50257, n_embd: 768, n_layer: 12, n_head: 12, n_positions: 1024, activation_function: 'gelu_new' }, 'GPT-2-base shape');
  const g = new NormalSource(seed);
  const token = g.tensor([config.vocabSize, config.hiddenSize], INIT_STD);
  const position = g.tensor([config.maxPositions, config.hiddenSize], 0.01);
  const model: Model = {
    config,
    weights: {
      embeddings: { token, position },
      layers: layers(g, config, INIT_STD / Math.sqrt(2 * config.numLayers)),
      finalNorm: layerNorm(config.hiddenSize, config.normEps),
      head: { kind: 'lm', weight: transpose2d(token, 'wte'), tied: true },
    },
  };
  validateModel(model);
  return model;
}

/** BERT-base shape: 12 layers, 768 wide, 12 heads, vocab 30522, 512 positions, erf GeLU, post-LN, 2 labels. */
export function bertBaseShape(seed = 2): Model {
  const config = bertConfig({ model_type: 'bert', vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, max_position_embeddings: 512, type_vocab_size: 2, hidden_act: 'gelu', num_labels: 2 }, 'BERT-base shape');
  const g = new NormalSource(seed);
  const d = config.hiddenSize;
  const model: Model = {
    config,
    weights: {
      embeddings: {
        token: g.tensor([config.vocabSize, d], INIT_STD),
        position: g.tensor([config.maxPositions, d], INIT_STD),
        tokenType: g.tensor([config.typeVocabSize, d], INIT_STD),
        norm: layerNorm(d, config.normEps),
      },
      layers: layers(g, config, INIT_STD),
      head: { kind: 'classifier', pooler: linear(g, d, d), classifier: linear(g, d, config.numLabels) },
    },
  };
  validateModel(model);
  return model;
}
