/**
 * The owner page's model input: picked files or URLs to the same files, recognized the way the CLI recognizes a
 * model folder (a llama2.c checkpoint + tokenizer.bin / tok*.bin, or a Hugging Face config.json +
 * *.safetensors + tokenizer files), loaded with @puma/models' browser-safe loaders.
 */
import { CHAT_TEMPLATE_FILES, loadHuggingFace, loadLlama2c, parseSafetensors, type Model } from '@puma/models';
import { hfJsonTokenizerSource, type TokenizerSource } from '@puma/worker/session';

export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

export interface OwnerModel {
  model: Model;
  /**
   * Public model id, which the parties and the client see: the file or folder name only. Nothing in it is
   * derived from the weights, or a party could confirm a guess of which model it computes on.
   */
  modelId: string;
  /**
   * sha256 of the weight file (hex; plus config.json's for Hugging Face models), for this page only: the key of the kept sharing, so a changed file under the
   * same name gets a fresh sharing. Never sent anywhere.
   */
  weightsHash: string;
  tokenizer?: TokenizerSource;
  description: string;
}

const isLlamaTokenizer = (name: string) => name === 'tokenizer.bin' || /^tok.*\.bin$/.test(name);

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Ids become store keys and must not contain "/"; anything unusual in a file name becomes "_". */
function idPart(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120) || 'model';
}

function only(files: NamedBytes[], pick: (name: string) => boolean, what: string): NamedBytes | undefined {
  const found = files.filter((f) => pick(f.name));
  if (found.length > 1) throw new Error(`several ${what} files (${found.map((f) => f.name).join(', ')}); pick one`);
  return found[0];
}

/** Loads a model from its files; `folderName` names Hugging Face models (their weights file is just model.safetensors). */
export async function loadOwnerModel(files: NamedBytes[], folderName?: string): Promise<OwnerModel> {
  if (files.length === 0) throw new Error('no model files given');
  const safetensors = only(files, (n) => n.endsWith('.safetensors'), '.safetensors');
  if (safetensors) {
    const config = files.find((f) => f.name === 'config.json');
    if (!config) throw new Error(`${safetensors.name} needs the config.json beside it`);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(config.bytes));
    } catch (e) {
      throw new Error(`config.json is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    const model = loadHuggingFace(json, parseSafetensors(safetensors.bytes, safetensors.name));
    const byName = (n: string) => files.find((f) => f.name === n)?.bytes;
    const vocabJson = byName('vocab.json');
    const merges = byName('merges.txt');
    const vocabTxt = byName('vocab.txt');
    const tokenizerJson = byName('tokenizer.json');
    // tokenizer.json first, as the CLI reads folders; its config (special tokens, chat template) and a separate
    // chat_template.jinja / .json (which wins over the config's) travel with it.
    const templateName = CHAT_TEMPLATE_FILES.find((n) => byName(n) !== undefined);
    const tokenizer: TokenizerSource | undefined =
      tokenizerJson ? hfJsonTokenizerSource(tokenizerJson, byName('tokenizer_config.json'), templateName && { name: templateName, bytes: byName(templateName)! })
      : vocabJson && merges ? { kind: 'gpt2-bpe', files: { 'vocab.json': vocabJson, 'merges.txt': merges } }
      : vocabTxt ? { kind: 'wordpiece', files: { 'vocab.txt': vocabTxt } }
      : undefined;
    const name = folderName ?? safetensors.name.replace(/\.safetensors$/, '');
    return {
      model,
      tokenizer,
      modelId: idPart(name),
      // config.json shapes how the tensors are read, so a changed one is a changed model too.
      weightsHash: `${await sha256Hex(safetensors.bytes)}+${await sha256Hex(config.bytes)}`,
      description: `${name} (${model.config.arch}, Hugging Face safetensors)`,
    };
  }
  const checkpoint = only(files, (n) => n.endsWith('.bin') && !isLlamaTokenizer(n), 'llama2.c checkpoint (.bin)');
  if (!checkpoint) {
    throw new Error(`no model weights among ${files.map((f) => f.name).join(', ')}: expected a llama2.c .bin checkpoint, or config.json + a .safetensors file`);
  }
  const model = loadLlama2c(checkpoint.bytes, checkpoint.name);
  const tok = only(files, isLlamaTokenizer, 'llama2.c tokenizer');
  const name = checkpoint.name.replace(/\.bin$/, '');
  return {
    model,
    tokenizer: tok && { kind: 'llama2c', files: { 'tokenizer.bin': tok.bytes } },
    modelId: idPart(name),
    weightsHash: await sha256Hex(checkpoint.bytes),
    description: `${name} (${model.config.arch}, llama2.c checkpoint)`,
  };
}

const FETCH_TIMEOUT_MS = 120_000;

async function fetchBytes(url: URL): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (e) {
    throw new Error(`cannot fetch ${url.href}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!res.ok) throw new Error(`cannot fetch ${url.href}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * `?model=<url>`: a llama2.c .bin (its tokenizer from `tokenizerUrl`), or a Hugging Face folder URL ending in "/"
 * (config.json, model.safetensors and whichever tokenizer files it has).
 */
export async function fetchOwnerModel(modelUrl: string, tokenizerUrl: string | null): Promise<OwnerModel> {
  const url = new URL(modelUrl, location.href);
  const base = (p: string) => p.split('/').filter(Boolean).pop() ?? 'model';
  if (url.pathname.endsWith('/')) {
    const get = (name: string) => fetchBytes(new URL(name, url)).then((bytes) => ({ name, bytes }));
    const optional = (name: string) => get(name).catch(() => null);
    const files = [await get('config.json'), await get('model.safetensors')];
    for (const f of await Promise.all(['tokenizer.json', 'tokenizer_config.json', ...CHAT_TEMPLATE_FILES, 'vocab.json', 'merges.txt', 'vocab.txt'].map(optional))) if (f) files.push(f);
    return loadOwnerModel(files, base(url.pathname));
  }
  const files = [{ name: base(url.pathname), bytes: await fetchBytes(url) }];
  if (tokenizerUrl) files.push({ name: 'tokenizer.bin', bytes: await fetchBytes(new URL(tokenizerUrl, location.href)) });
  return loadOwnerModel(files);
}
