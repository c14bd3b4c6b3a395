/**
 * Converts a llama2.c checkpoint to a Hugging Face LlamaForCausalLM folder (config.json + safetensors, q/k rows
 * in HF's rotate_half order) with its tokenizer as tokenizer.json + tokenizer_config.json (SentencePiece-style
 * BPE converted from the llama2.c tokenizer.bin, see tokenizer-json-writer.ts), so that
 * `puma generate --model <out-dir>` runs it and transformers loads it:
 *   npx tsx packages/models/scripts/llama2c-to-hf.ts <model.bin | model name> <out-dir> [--dtype F32|F16|BF16] [--shards N]
 *       [--chat-template <file>]
 * --chat-template puts the file's Jinja text into tokenizer_config.json as "chat_template" (for `puma chat`).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hfLlamaFiles } from '../src/hf-llama-writer.ts';
import { findModel, loadModel } from '../src/node.ts';
import { llamaTokenizerJsonFromBin } from '../src/tokenizer-json-writer.ts';

async function main(): Promise<void> {
  const USAGE = 'usage: llama2c-to-hf.ts <model.bin | model name> <out-dir> [--dtype F32|F16|BF16] [--shards N] [--chat-template <file>]';
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { dtype: { type: 'string', default: 'F32' }, shards: { type: 'string', default: '1' }, 'chat-template': { type: 'string' } },
  });
  if (positionals.length !== 2) throw new Error(USAGE);
  const [source, out] = positionals;
  const dtype = values.dtype;
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new Error(`--dtype must be F32, F16 or BF16, got "${dtype}"`);
  const shards = Number(values.shards);
  const location = findModel(source);
  if (location.format !== 'llama2c') throw new Error(`${location.weights} is not a llama2.c checkpoint`);
  if (existsSync(out) && readdirSync(out).length > 0) throw new Error(`${out} exists and is not empty`);
  if (location.tokenizer?.kind !== 'llama2c') throw new Error(`${location.dir}: no llama2.c tokenizer (tokenizer.bin or tok*.bin) beside ${location.weights}`);
  const chatTemplate = values['chat-template'] === undefined ? undefined : readFileSync(values['chat-template'], 'utf8');
  const { model } = await loadModel(source);
  const tokenizer = llamaTokenizerJsonFromBin(readFileSync(location.tokenizer.path), model.config.vocabSize, location.tokenizer.path);
  const tokenizerConfig = { ...tokenizer.config, model_max_length: model.config.maxPositions, ...(chatTemplate === undefined ? {} : { chat_template: chatTemplate }) };
  mkdirSync(out, { recursive: true });
  for (const [name, bytes] of Object.entries(hfLlamaFiles(model, { dtype, shards }))) writeFileSync(path.join(out, name), bytes);
  writeFileSync(path.join(out, 'tokenizer.json'), JSON.stringify(tokenizer.tokenizer));
  writeFileSync(path.join(out, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfig, null, 2)}\n`);
  console.log(`wrote ${out} (${dtype}, ${shards} shard${shards === 1 ? '' : 's'}) with tokenizer.json${chatTemplate === undefined ? '' : ' and a chat template'}`);
}

// A bad argument or file ends with its message, not a stack trace.
main().catch((err: unknown) => {
  console.error(`llama2c-to-hf: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
