/**
 * Node-only helpers (import from '@puma/models/node'): reading model folders from disk and resolving `--model`
 * arguments. Everything else in the package works on bytes and strings and runs in browsers too.
 *
 * Model folders (see ../shared/models/<name>/SOURCE.md):
 * - Hugging Face: config.json + model.safetensors (or the folder's only *.safetensors, or shards listed in
 *   model.safetensors.index.json), with tokenizer.json (+ tokenizer_config.json), or where a folder has none the
 *   legacy files vocab.json + merges.txt or encoder.json + vocab.bpe (GPT-2), vocab.txt (BERT), or a llama2.c
 *   tokenizer.bin (LLaMA converted from llama2.c);
 * - llama2.c: a checkpoint *.bin with its tokenizer (tokenizer.bin or tok*.bin) beside it.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BertHeadKind } from './bert-loader.ts';
import { downloadCacheDir, downloadModel, UPSTREAM_MODELS, type DownloadOptions } from './download.ts';
import { CHAT_TEMPLATE_FILES, type ChatTemplateFileName } from './chat-template.ts';
import { loadHuggingFace } from './hf-loader.ts';
import { loadLlama2c } from './llama2c-loader.ts';
import { parseSafetensors, type SafetensorsFile } from './safetensors.ts';
import { parseSafetensorsIndex, SAFETENSORS_INDEX_FILE, ShardedSafetensors, shardFiles } from './safetensors-sharded.ts';
import type { TensorFile } from './tensor-file.ts';
import { Gpt2Tokenizer } from './tokenizer-gpt2.ts';
import { HfTokenizer } from './tokenizer-json.ts';
import { Llama2cTokenizer } from './tokenizer-llama2c.ts';
import { WordPieceTokenizer } from './tokenizer-wordpiece.ts';
import type { Tokenizer } from './tokenizer.ts';
import type { LoadedModel } from './types.ts';

/** The repository root (this file is packages/models/src/node.ts). */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where named models live: $PUMA_MODELS, else ../shared/models beside the repository. */
export function modelsRoot(): string {
  const env = process.env.PUMA_MODELS;
  return env ? path.resolve(env) : path.resolve(REPO_ROOT, '../shared/models');
}

/** The folder of a named model under modelsRoot(); a clear error if it is absent (tests must not skip silently). */
export function modelDir(name: string): string {
  const dir = path.join(modelsRoot(), name);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(
      `model folder "${name}" not found at ${dir}. Set PUMA_MODELS to the folder that holds the models ` +
        `(default: ../shared/models next to the repository root).`,
    );
  }
  return dir;
}

export async function readSafetensorsFile(file: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readFile(file), file);
}

/** A sharded checkpoint from its index file; the shards are read from the index's folder. */
export async function readShardedSafetensors(indexFile: string): Promise<ShardedSafetensors> {
  const map = parseSafetensorsIndex(await readFile(indexFile, 'utf8'), indexFile);
  const shards = new Map<string, SafetensorsFile>();
  for (const shard of shardFiles(map)) {
    const file = path.join(path.dirname(indexFile), shard);
    if (!existsSync(file)) throw new Error(`${indexFile}: shard file ${file} is missing (it holds "${[...map].find(([, s]) => s === shard)![0]}")`);
    shards.set(shard, await readSafetensorsFile(file));
  }
  return new ShardedSafetensors(indexFile, map, shards);
}

/** A single .safetensors file, or a sharded set given by its index file. */
export async function readWeights(file: string): Promise<TensorFile> {
  return file.endsWith('.index.json') ? readShardedSafetensors(file) : readSafetensorsFile(file);
}

export type ModelFormat = 'hf-safetensors' | 'llama2c';

export type TokenizerFiles =
  /** tokenizer.json, with tokenizer_config.json and a separate chat template file when the folder has them. */
  | { readonly kind: 'tokenizer-json'; readonly path: string; readonly config?: string; readonly chatTemplate?: ChatTemplatePath }
  | { readonly kind: 'gpt2-bpe'; readonly encoder: string; readonly merges: string }
  | { readonly kind: 'wordpiece'; readonly vocab: string }
  | { readonly kind: 'llama2c'; readonly path: string };

export interface ModelLocation {
  /** The folder's name (or the file's name without extension). */
  readonly name: string;
  readonly dir: string;
  readonly format: ModelFormat;
  /** The weights file (model.safetensors, model.safetensors.index.json for shards, or the llama2.c checkpoint). */
  readonly weights: string;
  /** config.json for Hugging Face models. */
  readonly config?: string;
  readonly tokenizer?: TokenizerFiles;
}

/** A folder's separate chat template file: which of CHAT_TEMPLATE_FILES, and where. */
export interface ChatTemplatePath {
  readonly name: ChatTemplateFileName;
  readonly path: string;
}

/** The first of CHAT_TEMPLATE_FILES in `dir` (it wins over the others and over tokenizer_config.json's template). */
function chatTemplatePath(dir: string): ChatTemplatePath | undefined {
  const name = CHAT_TEMPLATE_FILES.find((n) => existsSync(path.join(dir, n)));
  return name && { name, path: path.join(dir, name) };
}

function firstExisting(dir: string, names: readonly string[]): string | undefined {
  return names.map((n) => path.join(dir, n)).find((p) => existsSync(p));
}

function tokenizerFiles(dir: string, format: ModelFormat, weights: string): TokenizerFiles | undefined {
  const json = firstExisting(dir, ['tokenizer.json']);
  if (json) return { kind: 'tokenizer-json', path: json, config: firstExisting(dir, ['tokenizer_config.json']), chatTemplate: chatTemplatePath(dir) };
  if (format === 'llama2c') {
    const named = firstExisting(dir, ['tokenizer.bin']);
    const tok = named ?? readdirSync(dir).filter((f) => /^tok.*\.bin$/.test(f) && path.join(dir, f) !== weights).map((f) => path.join(dir, f))[0];
    return tok ? { kind: 'llama2c', path: tok } : undefined;
  }
  const encoder = firstExisting(dir, ['vocab.json', 'encoder.json']);
  const merges = firstExisting(dir, ['merges.txt', 'vocab.bpe']);
  if (encoder && merges) return { kind: 'gpt2-bpe', encoder, merges };
  const vocab = firstExisting(dir, ['vocab.txt']);
  if (vocab) return { kind: 'wordpiece', vocab };
  const llama2c = firstExisting(dir, ['tokenizer.bin']);
  return llama2c ? { kind: 'llama2c', path: llama2c } : undefined;
}

/**
 * Weights in formats this project does not read: PyTorch's pickles (torch.save; unpickling can run code, so they
 * are never opened), TensorFlow and Flax. Hugging Face folders often carry these alone or beside safetensors.
 */
const FOREIGN_WEIGHTS = /^(pytorch_model.*\.bin|pytorch_model\.bin\.index\.json|training_args\.bin|.*\.(pt|pth|ckpt|h5|msgpack|gguf|onnx))$/;

function foreignWeightsError(where: string, found: readonly string[]): Error {
  return new Error(
    `${where}: ${found.join(', ')} ${found.length > 1 ? 'are' : 'is'} not a format puma reads (PyTorch pickles are never opened: unpickling can run code). ` +
      'Save the model as safetensors (for example with transformers: model.save_pretrained(dir, safe_serialization=True)) and point --model at that folder.',
  );
}

function locateInDir(dir: string, name: string): ModelLocation {
  const files = readdirSync(dir);
  const foreign = files.filter((f) => FOREIGN_WEIGHTS.test(f));
  if (!files.includes('model.safetensors') && files.includes(SAFETENSORS_INDEX_FILE)) return locateFile(path.join(dir, SAFETENSORS_INDEX_FILE), name);
  const safetensors = files.includes('model.safetensors') ? ['model.safetensors'] : files.filter((f) => f.endsWith('.safetensors'));
  if (safetensors.length === 1) {
    const weights = path.join(dir, safetensors[0]);
    return locateFile(weights, name);
  }
  if (safetensors.length > 1) throw new Error(`${dir}: several .safetensors files (${safetensors.join(', ')}) and no model.safetensors; name the file`);
  const checkpoints = files.filter((f) => f.endsWith('.bin') && f !== 'tokenizer.bin' && !/^tok/.test(f) && !FOREIGN_WEIGHTS.test(f));
  if (checkpoints.length === 0 && foreign.length > 0) throw foreignWeightsError(dir, foreign);
  if (checkpoints.length === 1) return locateFile(path.join(dir, checkpoints[0]), name);
  if (checkpoints.length > 1) throw new Error(`${dir}: several llama2.c checkpoints (${checkpoints.join(', ')}); name the file`);
  throw new Error(`${dir}: no model weights found (expected model.safetensors + config.json, or a llama2.c *.bin checkpoint)`);
}

function locateFile(file: string, name: string): ModelLocation {
  const dir = path.dirname(file);
  if (file.endsWith('.safetensors') || file.endsWith('.safetensors.index.json')) {
    const config = path.join(dir, 'config.json');
    if (!existsSync(config)) throw new Error(`${file}: no config.json beside it`);
    return { name, dir, format: 'hf-safetensors', weights: file, config, tokenizer: tokenizerFiles(dir, 'hf-safetensors', file) };
  }
  if (FOREIGN_WEIGHTS.test(path.basename(file))) throw foreignWeightsError(file, [path.basename(file)]);
  if (file.endsWith('.bin')) {
    return { name, dir, format: 'llama2c', weights: file, tokenizer: tokenizerFiles(dir, 'llama2c', file) };
  }
  throw new Error(`${file}: unknown model file type (expected .safetensors, .safetensors.index.json or a llama2.c .bin)`);
}

/**
 * Resolves a `--model` argument: an existing folder or weights file path, else a model name under modelsRoot().
 */
export function findModel(nameOrPath: string): ModelLocation {
  if (existsSync(nameOrPath)) {
    const p = path.resolve(nameOrPath);
    return statSync(p).isDirectory() ? locateInDir(p, path.basename(p)) : locateFile(p, path.basename(p).replace(/\.[^.]+$/, ''));
  }
  const root = modelsRoot();
  const dir = path.join(root, nameOrPath);
  if (!path.isAbsolute(nameOrPath) && existsSync(dir) && statSync(dir).isDirectory()) return locateInDir(dir, nameOrPath);
  // Only a complete download counts: a folder left by a download that failed (no network) is not the model, and
  // ensureModel then fetches what it lacks.
  const downloaded = path.join(downloadCacheDir(), nameOrPath);
  const upstream = path.isAbsolute(nameOrPath) ? undefined : UPSTREAM_MODELS[nameOrPath];
  if (upstream && upstream.files.every((f) => existsSync(path.join(downloaded, f.name)))) return locateInDir(downloaded, nameOrPath);
  const available = existsSync(root) ? readdirSync(root).filter((f) => statSync(path.join(root, f)).isDirectory()) : [];
  throw new Error(
    `model "${nameOrPath}" not found: it is not a path, and ${dir} does not exist` +
      (available.length ? ` (models in ${root}: ${available.join(', ')})` : ` (models folder ${root} is ${existsSync(root) ? 'empty' : 'missing'}; set PUMA_MODELS)`),
  );
}

/**
 * findModel, except that a known upstream model (stories260K) missing locally is downloaded into
 * downloadCacheDir() first, with its checksums verified.
 */
export async function ensureModel(nameOrPath: string, o: Omit<DownloadOptions, 'dir'> = {}): Promise<ModelLocation> {
  try {
    return findModel(nameOrPath);
  } catch (notFound) {
    if (!UPSTREAM_MODELS[nameOrPath] || existsSync(nameOrPath)) throw notFound;
  }
  await downloadModel(nameOrPath, { ...o, dir: downloadCacheDir() });
  return findModel(nameOrPath);
}

export { downloadCacheDir, downloadModel, UPSTREAM_MODELS, type DownloadOptions, type UpstreamFile, type UpstreamModel } from './download.ts';

/**
 * Reads a tokenizer. With `vocabSize` (the model's), a tokenizer with ids the model's embedding has no row for is
 * refused (a model's vocabulary may be padded beyond its tokenizer's, not the other way round).
 */
export async function loadTokenizer(files: TokenizerFiles, vocabSize?: number): Promise<Tokenizer> {
  switch (files.kind) {
    case 'tokenizer-json': {
      const tok = HfTokenizer.fromJson(
        await readFile(files.path, 'utf8'), files.config === undefined ? undefined : await readFile(files.config, 'utf8'), files.path, files.config,
        files.chatTemplate && { name: files.chatTemplate.name, text: await readFile(files.chatTemplate.path, 'utf8'), source: files.chatTemplate.path },
      );
      if (vocabSize !== undefined && tok.vocabSize > vocabSize) {
        throw new Error(`${files.path}: has token ids up to ${tok.vocabSize - 1}, but the model's vocabulary has only ${vocabSize} entries`);
      }
      return tok;
    }
    case 'gpt2-bpe':
      return Gpt2Tokenizer.fromFiles(await readFile(files.encoder, 'utf8'), await readFile(files.merges, 'utf8'), files.encoder);
    case 'wordpiece':
      return WordPieceTokenizer.fromVocab(await readFile(files.vocab, 'utf8'), {}, files.vocab);
    case 'llama2c':
      return Llama2cTokenizer.fromBytes(await readFile(files.path), vocabSize, files.path);
  }
}

export interface LoadModelOptions {
  /** BERT only: which head to build (default: from the tensor names). */
  readonly bertHead?: BertHeadKind;
}

export interface ModelOnDisk {
  readonly location: ModelLocation;
  readonly model: LoadedModel;
  /** Absent when the folder has no tokenizer files. */
  readonly tokenizer?: Tokenizer;
}

/** findModel + the loader for its format + its tokenizer. */
export async function loadModel(nameOrPath: string, options: LoadModelOptions = {}): Promise<ModelOnDisk> {
  const location = findModel(nameOrPath);
  let model: LoadedModel;
  if (location.format === 'llama2c') {
    model = loadLlama2c(await readFile(location.weights), location.weights);
  } else {
    const configPath = location.config!;
    let json: unknown;
    try {
      json = JSON.parse(await readFile(configPath, 'utf8'));
    } catch (err) {
      throw new Error(`${configPath}: not valid JSON (${(err as Error).message})`);
    }
    model = loadHuggingFace(json, await readWeights(location.weights), { bertHead: options.bertHead, configSource: configPath });
  }
  const tokenizer = location.tokenizer ? await loadTokenizer(location.tokenizer, model.config.vocabSize) : undefined;
  return { location, model, tokenizer };
}
