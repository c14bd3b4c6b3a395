/**
 * @puma/models: model structure (types), weight formats and loaders, tokenizers, and the float64 plaintext
 * reference forward passes. Browser-safe; file-system helpers (findModel, loadModel, ...) are in
 * '@puma/models/node'.
 */
export type {
  Activation, Arch, AttentionWeights, EmbeddingWeights, FloatArray, HeadWeights, LayerWeights, Linear, LoadedModel,
  MlpWeights, Model, ModelConfig, Norm, NormWindows, Tensor, TransformerWeights,
} from './types.ts';
export { assertFinite, assertShape, formatShape, makeTensor, shapeEquals, sliceLast, transpose2d } from './tensor.ts';
export { namedTensors, validateModel } from './validate.ts';

export { openSafetensors, parseSafetensors, SafetensorsFile, type ByteRangeReader, type SafetensorsEntry } from './safetensors.ts';
export { parseSafetensorsIndex, SAFETENSORS_INDEX_FILE, ShardedSafetensors, shardFiles, type ShardMap } from './safetensors-sharded.ts';
export type { TensorFile } from './tensor-file.ts';
export { encodeSafetensors, type WritableTensor } from './safetensors-writer.ts';
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './half.ts';
export { bertConfig, gpt2Config } from './hf-config.ts';
export { loadGpt2 } from './gpt2-loader.ts';
export { loadBert, type BertHeadKind, type BertLoadOptions } from './bert-loader.ts';
export { loadHuggingFace, type HfLoadOptions } from './hf-loader.ts';
export { checkNotPickled, loadLlama2c } from './llama2c-loader.ts';
export { llamaFamilyConfig, type LlamaFamily, type LlamaFamilyConfig } from './hf-llama-config.ts';
export { loadHfLlama } from './hf-llama-loader.ts';
export { hfLlamaFiles, type HfFolderFiles, type HfLlamaWriteOptions } from './hf-llama-writer.ts';
export { rotaryRowsFromHf, rotaryRowsToHf } from './rotary-layout.ts';

export { buildsModelInput, type BertInput, type ModelInputTokenizer, type Tokenizer } from './tokenizer.ts';
export { Gpt2Tokenizer } from './tokenizer-gpt2.ts';
export { WordPieceTokenizer, type WordPieceOptions } from './tokenizer-wordpiece.ts';
export { LLAMA_BOS, LLAMA_EOS, Llama2cTokenizer, type Llama2cEncodeOptions } from './tokenizer-llama2c.ts';
export { HfTokenizer } from './tokenizer-json.ts';
export { bertTokenizerJson, gpt2TokenizerJson, llamaTokenizerJson, llamaTokenizerJsonFromBin, type JsonDocument, type TokenizerDocuments } from './tokenizer-json-writer.ts';
export { CHAT_TEMPLATE_FILES, ChatTemplate, chatTemplateOfFile, type ChatMessage, type ChatTemplateFile, type ChatTemplateFileName } from './chat-template.ts';

export { add, linear, matmul, mul } from './matmul.ts';
export { erf, erfc } from './erf.ts';
export { activate, geluErf, geluTanh, silu, tanh } from './activations.ts';
export { applyNorm, layerNorm, rmsNorm } from './norms.ts';
export { argmax, logSoftmaxAt, softmaxInPlace } from './softmax.ts';
export { applyRope, ropeFrequencies, type RopeFrequencies, type RopeScaling } from './rope.ts';
export { attention, type AttentionDims } from './attention.ts';
export { createCache, embed, forwardHidden, mlp, selfAttention, transformerLayer, type ForwardOptions, type ForwardProbe, type LayerCache, type LayerProbe } from './forward.ts';
export { assertDomain, calibrationIds, checkDomain, DOMAIN_CHECK_VERSION, domainVerdict, formatDomainReport, type DomainFinding, type DomainQuantity, type DomainReport } from './domain-check.ts';
export { publishCheckedModel, type CheckedModel } from './domain-publish.ts';
export { checkNormWindows, normNames, normOptions, WINDOW_MARGIN_OCTAVES, windowsFromRanges, withNormWindows } from './norm-windows.ts';
export { classifierLogits, lastRow, lmLogits, mlmLogits, pooledOutput } from './heads.ts';
export { classifySequence } from './classify.ts';
export { DecoderSession } from './decoder.ts';
export { generateGreedy, type GreedyOptions } from './generate.ts';
export { windowedPerplexity, type PerplexityResult } from './perplexity.ts';
