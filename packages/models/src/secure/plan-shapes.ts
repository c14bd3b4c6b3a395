/**
 * Named model shapes for `puma plan --model <shape>` (no weights needed): the published base models the
 * bench and the issues compare against, from their Hugging Face configs.
 */
import { bertConfig, gpt2Config } from '../hf-config.ts';
import { llamaFamilyConfig } from '../hf-llama-config.ts';
import type { ModelConfig } from '../types.ts';

export const PLAN_SHAPES: Record<string, () => ModelConfig> = {
  'gpt2-base': () => gpt2Config({ model_type: 'gpt2', vocab_size: 50257, n_embd: 768, n_layer: 12, n_head: 12, n_positions: 1024, activation_function: 'gelu_new' }, 'GPT-2-base shape'),
  'bert-base': () => bertConfig({
    model_type: 'bert', vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072,
    max_position_embeddings: 512, type_vocab_size: 2, hidden_act: 'gelu', num_labels: 2,
  }, 'BERT-base shape'),
  // LLaMA-2-7B's config.json: 32 layers, 4096 wide, 32 heads, 11008 intermediate, vocab 32000.
  'llama2-7b': () => llamaFamilyConfig({
    model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32,
    num_attention_heads: 32, num_key_value_heads: 32, max_position_embeddings: 4096, rms_norm_eps: 1e-5, rope_theta: 10000, hidden_act: 'silu', tie_word_embeddings: false,
  }, 'LLaMA-2-7B shape').config,
};

export function planShape(name: string): ModelConfig | undefined {
  return Object.hasOwn(PLAN_SHAPES, name) ? PLAN_SHAPES[name]() : undefined;
}
