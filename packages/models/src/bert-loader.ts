/**
 * BERT from Hugging Face safetensors: BertModel names (`embeddings.*`, `encoder.*`, `pooler.*`) or the task
 * models' `bert.`-prefixed names, with LayerNorm parameters as weight/bias or the TF-converted gamma/beta
 * (bert-base-uncased). nn.Linear weights are [out, in] and are transposed to [in, out].
 *
 * The head follows the tensors present unless forced: `classifier.*` -> sequence classification (needs the
 * pooler), `cls.predictions.*` -> masked LM (decoder tied to the word embeddings when its weight is absent),
 * otherwise the bare encoder. NSP (`cls.seq_relationship.*`) and the `position_ids` buffer are left unused.
 */
import { bertConfig } from './hf-config.ts';
import type { TensorFile } from './tensor-file.ts';
import { transpose2d } from './tensor.ts';
import { TensorSource } from './tensor-source.ts';
import type { HeadWeights, LayerWeights, LoadedModel, ModelConfig } from './types.ts';

export type BertHeadKind = 'classifier' | 'mlm' | 'none';

export interface BertLoadOptions {
  /** Which head to build; default: detected from the tensor names. */
  readonly head?: BertHeadKind;
  readonly configSource?: string;
}

export function loadBert(configJson: unknown, file: TensorFile, options: BertLoadOptions = {}): LoadedModel {
  const base = bertConfig(configJson, options.configSource);
  const src = new TensorSource(file);
  let p: string;
  if (src.has('bert.embeddings.word_embeddings.weight')) p = 'bert.';
  else if (src.has('embeddings.word_embeddings.weight')) p = '';
  else throw new Error(`${file.source}: missing tensor "bert.embeddings.word_embeddings.weight" (or "embeddings.word_embeddings.weight"); is this a BERT checkpoint?`);

  const d = base.hiddenSize;
  const inter = base.intermediateSize;
  const eps = base.normEps;

  const token = src.get(`${p}embeddings.word_embeddings.weight`, [base.vocabSize, d]);
  const embeddings = {
    token,
    position: src.get(`${p}embeddings.position_embeddings.weight`, [base.maxPositions, d]),
    tokenType: src.get(`${p}embeddings.token_type_embeddings.weight`, [base.typeVocabSize, d]),
    norm: src.layerNorm(`${p}embeddings.LayerNorm`, d, eps),
  };
  const layers: LayerWeights[] = [];
  for (let i = 0; i < base.numLayers; i++) {
    const l = `${p}encoder.layer.${i}`;
    layers.push({
      attn: {
        q: src.torchLinear(`${l}.attention.self.query`, d, d),
        k: src.torchLinear(`${l}.attention.self.key`, d, d),
        v: src.torchLinear(`${l}.attention.self.value`, d, d),
        o: src.torchLinear(`${l}.attention.output.dense`, d, d),
      },
      attnNorm: src.layerNorm(`${l}.attention.output.LayerNorm`, d, eps),
      mlp: { kind: 'dense', up: src.torchLinear(`${l}.intermediate.dense`, d, inter), down: src.torchLinear(`${l}.output.dense`, inter, d) },
      mlpNorm: src.layerNorm(`${l}.output.LayerNorm`, d, eps),
    });
  }

  const detected: BertHeadKind = src.has('classifier.weight') ? 'classifier' : src.has('cls.predictions.transform.dense.weight') ? 'mlm' : 'none';
  const kind = options.head ?? detected;
  const pooler = `${p}pooler.dense`;
  let head: HeadWeights;
  let config: ModelConfig;
  if (kind === 'classifier') {
    head = {
      kind: 'classifier',
      pooler: src.torchLinear(pooler, d, d),
      classifier: src.torchLinear('classifier', d, base.numLabels),
    };
    config = { ...base, tiedHead: false };
  } else if (kind === 'mlm') {
    const decoderWeight = src.optional('cls.predictions.decoder.weight', [base.vocabSize, d]);
    head = {
      kind: 'mlm',
      transform: src.torchLinear('cls.predictions.transform.dense', d, d),
      norm: src.layerNorm('cls.predictions.transform.LayerNorm', d, eps),
      decoder: {
        weight: transpose2d(decoderWeight ?? token, decoderWeight ? 'cls.predictions.decoder.weight' : `${p}embeddings.word_embeddings.weight`),
        bias: src.firstOf(['cls.predictions.bias', 'cls.predictions.decoder.bias'], [base.vocabSize]),
      },
      tied: decoderWeight === undefined,
    };
    config = { ...base, tiedHead: decoderWeight === undefined, numLabels: 0, labels: undefined };
  } else {
    head = { kind: 'none', pooler: src.has(`${pooler}.weight`) ? src.torchLinear(pooler, d, d) : undefined };
    config = { ...base, tiedHead: false, numLabels: 0, labels: undefined };
  }
  return { config, weights: { embeddings, layers, head }, unusedTensors: src.unused() };
}
