/**
 * Converts a llama2.c checkpoint to a Hugging Face LlamaForCausalLM folder (config.json + safetensors, q/k rows
 * in HF's rotate_half order), copying its llama2.c tokenizer beside it as tokenizer.bin so that
 * `puma generate --model <out-dir>` runs it:
 *   npx tsx packages/models/scripts/llama2c-to-hf.ts <model.bin | model name> <out-dir> [--dtype F32|F16|BF16] [--shards N]
 * The folder is what transformers loads too (its tokenizer aside: tokenizer.bin is this project's reader).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hfLlamaFiles } from '../src/hf-llama-writer.ts';
import { findModel, loadModel } from '../src/node.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { dtype: { type: 'string', default: 'F32' }, shards: { type: 'string', default: '1' } } });
if (positionals.length !== 2) throw new Error('usage: llama2c-to-hf.ts <model.bin | model name> <out-dir> [--dtype F32|F16|BF16] [--shards N]');
const [source, out] = positionals;
const dtype = values.dtype;
if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new Error(`--dtype must be F32, F16 or BF16, got "${dtype}"`);
const shards = Number(values.shards);
const location = findModel(source);
if (location.format !== 'llama2c') throw new Error(`${location.weights} is not a llama2.c checkpoint`);
if (existsSync(out) && readdirSync(out).length > 0) throw new Error(`${out} exists and is not empty`);
const { model } = await loadModel(source);
mkdirSync(out, { recursive: true });
for (const [name, bytes] of Object.entries(hfLlamaFiles(model, { dtype, shards }))) writeFileSync(path.join(out, name), bytes);
if (location.tokenizer?.kind === 'llama2c') copyFileSync(location.tokenizer.path, path.join(out, 'tokenizer.bin'));
console.log(`wrote ${out} (${dtype}, ${shards} shard${shards === 1 ? '' : 's'})${location.tokenizer ? ' with tokenizer.bin' : ', no tokenizer found'}`);
