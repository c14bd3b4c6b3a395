/**
 * The model owner's model input, read where the sharing runs (the owner page's worker, not its main thread):
 * files recognized the way the CLI recognizes a model folder (a llama2.c checkpoint + tokenizer.bin / tok*.bin,
 * or a Hugging Face config.json + *.safetensors + tokenizer files), each read through a byte-range reader. A
 * safetensors file is never held whole: its header is read, then each tensor's bytes as the loader converts
 * it, so the owner holds the model's float32 tensors and one tensor's file bytes, not the file besides the
 * model (GPT-2-base: 498 MB that the page used to hold next to the 650 MB model). A llama2.c checkpoint is
 * read whole (its loader takes one buffer) and dropped once loaded.
 * The weights hash (the kept sharing's key) is read in HASH_CHUNK_BYTES chunks: sha256 of the chunks' sha256
 * digests in order, so hashing holds one chunk, not the file.
 */
import { CHAT_TEMPLATE_FILES, checkNotPickled, loadHuggingFace, loadLlama2c, openSafetensors, type Model } from '@puma/models';
import { hfJsonTokenizerSource } from './public-info.ts';
import { sha256Hex } from './shares.ts';
import type { TokenizerSource } from './types.ts';

/** One picked or fetched file: its name, size and a reader of byte ranges (fresh buffers). */
export interface ModelFileReader {
  name: string;
  size: number;
  read(begin: number, end: number): Uint8Array;
}

/** What the owner page shows and keys its kept sharing by; no weight is in it. */
export interface OwnerModelInfo {
  /**
   * Public model id, which the parties and the client see: the file or folder name only. Nothing in it is
   * derived from the weights, or a party could confirm a guess of which model it computes on.
   */
  modelId: string;
  /**
   * Hash of the weight file's bytes (chunked, see the header; plus config.json's for Hugging Face models), for
   * the owner only: the key of the kept sharing, so a changed file under the same name gets a fresh sharing.
   * Never sent anywhere.
   */
  weightsHash: string;
  tokenizer?: TokenizerSource;
  description: string;
}

export interface OwnerModel extends OwnerModelInfo {
  model: Model;
}

/** Chunk of the weights hash: bounds what hashing holds, and is large enough that WebCrypto calls are few. */
export const HASH_CHUNK_BYTES = 64 * 1024 * 1024;

const isLlamaTokenizer = (name: string) => name === 'tokenizer.bin' || /^tok.*\.bin$/.test(name);

/** sha256 (hex) of the file's HASH_CHUNK_BYTES chunks' sha256 digests (hex, in order); one chunk held at a time. */
export async function chunkedSha256(file: ModelFileReader): Promise<string> {
  const digests: string[] = [];
  for (let begin = 0; begin < file.size || digests.length === 0; begin += HASH_CHUNK_BYTES) {
    digests.push(await sha256Hex(file.read(begin, Math.min(file.size, begin + HASH_CHUNK_BYTES))));
  }
  return sha256Hex(new TextEncoder().encode(digests.join('')));
}

const readAll = (f: ModelFileReader) => f.read(0, f.size);

/** Ids become store keys and must not contain "/"; anything unusual in a file name becomes "_". */
function idPart(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120) || 'model';
}

function only(files: ModelFileReader[], pick: (name: string) => boolean, what: string): ModelFileReader | undefined {
  const found = files.filter((f) => pick(f.name));
  if (found.length > 1) throw new Error(`several ${what} files (${found.map((f) => f.name).join(', ')}); pick one`);
  return found[0];
}

/** The tokenizer among Hugging Face folder files: tokenizer.json first, as the CLI reads folders. */
function hfTokenizer(files: ModelFileReader[]): TokenizerSource | undefined {
  const byName = (n: string) => {
    const f = files.find((x) => x.name === n);
    return f && readAll(f);
  };
  const tokenizerJson = byName('tokenizer.json');
  if (tokenizerJson) {
    // Its config (special tokens, chat template) and a separate chat_template.jinja / .json (which wins over the
    // config's) travel with it.
    const templateName = CHAT_TEMPLATE_FILES.find((n) => files.some((f) => f.name === n));
    return hfJsonTokenizerSource(tokenizerJson, byName('tokenizer_config.json'), templateName && { name: templateName, bytes: byName(templateName)! });
  }
  const vocabJson = byName('vocab.json');
  const merges = byName('merges.txt');
  if (vocabJson && merges) return { kind: 'gpt2-bpe', files: { 'vocab.json': vocabJson, 'merges.txt': merges } };
  const vocabTxt = byName('vocab.txt');
  return vocabTxt && { kind: 'wordpiece', files: { 'vocab.txt': vocabTxt } };
}

/** Loads a model from its files; `folderName` names Hugging Face models (their weights file is just model.safetensors). */
export async function loadOwnerModel(files: ModelFileReader[], folderName?: string): Promise<OwnerModel> {
  if (files.length === 0) throw new Error('no model files given');
  const safetensors = only(files, (n) => n.endsWith('.safetensors'), '.safetensors');
  if (safetensors) {
    const config = files.find((f) => f.name === 'config.json');
    if (!config) throw new Error(`${safetensors.name} needs the config.json beside it`);
    const configBytes = readAll(config);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(configBytes));
    } catch (e) {
      throw new Error(`config.json is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    const model = loadHuggingFace(json, openSafetensors((b, e) => safetensors.read(b, e), safetensors.size, safetensors.name));
    const name = folderName ?? safetensors.name.replace(/\.safetensors$/, '');
    return {
      model,
      tokenizer: hfTokenizer(files),
      modelId: idPart(name),
      // config.json shapes how the tensors are read, so a changed one is a changed model too.
      weightsHash: `${await chunkedSha256(safetensors)}+${await sha256Hex(configBytes)}`,
      description: `${name} (${model.config.arch}, Hugging Face safetensors)`,
    };
  }
  const checkpoint = only(files, (n) => n.endsWith('.bin') && !isLlamaTokenizer(n), 'llama2.c checkpoint (.bin)');
  if (!checkpoint) {
    throw new Error(`no model weights among ${files.map((f) => f.name).join(', ')}: expected a llama2.c .bin checkpoint, or config.json + a .safetensors file`);
  }
  // A picked PyTorch file is refused by its first bytes, before the whole of it is read.
  checkNotPickled(checkpoint.read(0, Math.min(4, checkpoint.size)), checkpoint.name);
  const model = loadLlama2c(readAll(checkpoint), checkpoint.name);
  const tok = only(files, isLlamaTokenizer, 'llama2.c tokenizer');
  const name = checkpoint.name.replace(/\.bin$/, '');
  return {
    model,
    tokenizer: tok && { kind: 'llama2c', files: { 'tokenizer.bin': readAll(tok) } },
    modelId: idPart(name),
    weightsHash: await chunkedSha256(checkpoint),
    description: `${name} (${model.config.arch}, llama2.c checkpoint)`,
  };
}

/** The page's part of a loaded model: everything but the weights. */
export function ownerModelInfo(m: OwnerModel): OwnerModelInfo {
  return { modelId: m.modelId, weightsHash: m.weightsHash, tokenizer: m.tokenizer, description: m.description };
}
