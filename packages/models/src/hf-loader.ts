/** Hugging Face checkpoints (one safetensors file or a sharded set): picks the loader from config.json's model_type. */
import { loadBert, type BertHeadKind } from './bert-loader.ts';
import { loadGpt2 } from './gpt2-loader.ts';
import { loadHfLlama } from './hf-llama-loader.ts';
import type { TensorFile } from './tensor-file.ts';
import type { LoadedModel } from './types.ts';

export interface HfLoadOptions {
  /** BERT only: which head to build (default: from the tensor names). */
  readonly bertHead?: BertHeadKind;
  /** Names config.json in error messages. */
  readonly configSource?: string;
}

export function loadHuggingFace(configJson: unknown, file: TensorFile, options: HfLoadOptions = {}): LoadedModel {
  const source = options.configSource ?? 'config.json';
  const type = typeof configJson === 'object' && configJson !== null ? (configJson as { model_type?: unknown }).model_type : undefined;
  if (type === 'gpt2') return loadGpt2(configJson, file, source);
  if (type === 'bert') return loadBert(configJson, file, { head: options.bertHead, configSource: source });
  if (type === 'llama' || type === 'qwen2') return loadHfLlama(configJson, file, source);
  throw new Error(`${source}: model_type ${JSON.stringify(type)} is not supported (gpt2, bert, llama, qwen2)`);
}
