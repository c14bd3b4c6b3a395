/**
 * Writes tokenizer.json + tokenizer_config.json converted from a model's legacy tokenizer files (llama2.c
 * tokenizer.bin, GPT-2 vocab.json + merges.txt, BERT vocab.txt; see src/tokenizer-json-writer.ts):
 *   npx tsx packages/models/scripts/tokenizer-json.ts <model dir | name> <out-dir> [--cased]
 * --cased: a BERT vocabulary of a cased model (no lowercasing); the default follows tokenizer_config.json's
 * do_lower_case where the folder has one, else uncased.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { findModel } from '../src/node.ts';
import { bertTokenizerJson, gpt2TokenizerJson, llamaTokenizerJsonFromBin, type TokenizerDocuments } from '../src/tokenizer-json-writer.ts';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { cased: { type: 'boolean', default: false } } });
  if (positionals.length !== 2) throw new Error('usage: tokenizer-json.ts <model dir | name> <out-dir> [--cased]');
  const [source, out] = positionals;
  const location = findModel(source);
  const files = location.tokenizer;
  if (!files) throw new Error(`${location.dir}: no tokenizer files`);
  let docs: TokenizerDocuments;
  switch (files.kind) {
    case 'tokenizer-json':
      throw new Error(`${files.path} already exists; nothing to convert`);
    case 'llama2c':
      docs = llamaTokenizerJsonFromBin(readFileSync(files.path), undefined, files.path);
      break;
    case 'gpt2-bpe':
      docs = gpt2TokenizerJson(readFileSync(files.encoder, 'utf8'), readFileSync(files.merges, 'utf8'), files.encoder);
      break;
    case 'wordpiece': {
      const configFile = path.join(location.dir, 'tokenizer_config.json');
      const declared = existsSync(configFile) ? (JSON.parse(readFileSync(configFile, 'utf8')) as { do_lower_case?: unknown }).do_lower_case : undefined;
      docs = bertTokenizerJson(readFileSync(files.vocab, 'utf8'), values.cased ? false : declared !== false, files.vocab);
      break;
    }
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'tokenizer.json'), JSON.stringify(docs.tokenizer));
  writeFileSync(path.join(out, 'tokenizer_config.json'), `${JSON.stringify(docs.config, null, 2)}\n`);
  console.log(`wrote ${path.join(out, 'tokenizer.json')} and tokenizer_config.json (${files.kind})`);
}

// A bad argument or file ends with its message, not a stack trace.
main().catch((err: unknown) => {
  console.error(`tokenizer-json: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
