/**
 * The public model description the owner sends the client: config, fraction bits, tokenizer files (for hf-json
 * also the folder's separate chat template file, HF_CHAT_TEMPLATE_FILES, so the client page chats with it). Wire
 * format: u32 little-endian length of a JSON header, the header ({ modelId, config, fracBits, tokenizer?:
 * { kind, files: [{ name, bytes }] } }), then the files' bytes in header order.
 */
import { CHAT_TEMPLATE_FILES, Gpt2Tokenizer, HfTokenizer, Llama2cTokenizer, WordPieceTokenizer, type ChatTemplateFile, type ChatTemplateFileName, type Tokenizer } from '@puma/models';
import { checkFracBits } from '@puma/ring';
import type { PublicModelInfo, TokenizerSource } from './types.ts';

/** The files each tokenizer kind needs, by their fixed names. */
export const TOKENIZER_FILES: Record<TokenizerSource['kind'], readonly string[]> = {
  llama2c: ['tokenizer.bin'],
  'gpt2-bpe': ['vocab.json', 'merges.txt'],
  wordpiece: ['vocab.txt'],
  'hf-json': ['hf-tokenizer.json', 'hf-tokenizer-config.json'],
};

/**
 * hf-json's optional files: a folder's separate chat template (chat_template.jinja, or chat_template.json), carried
 * under these names beside the two required ones; the first present wins over tokenizer_config.json's template.
 */
export const HF_CHAT_TEMPLATE_FILES: Record<ChatTemplateFileName, string> = {
  'chat_template.jinja': 'hf-chat-template.jinja',
  'chat_template.json': 'hf-chat-template.json',
};

/** The files each tokenizer kind may carry besides TOKENIZER_FILES. */
export const OPTIONAL_TOKENIZER_FILES: Record<TokenizerSource['kind'], readonly string[]> = {
  llama2c: [],
  'gpt2-bpe': [],
  wordpiece: [],
  'hf-json': CHAT_TEMPLATE_FILES.map((n) => HF_CHAT_TEMPLATE_FILES[n]),
};

/** The separate chat template an hf-json source carries, if any. */
function carriedChatTemplate(files: Readonly<Record<string, Uint8Array>>): ChatTemplateFile | undefined {
  const name = CHAT_TEMPLATE_FILES.find((n) => files[HF_CHAT_TEMPLATE_FILES[n]] !== undefined);
  if (name === undefined) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(files[HF_CHAT_TEMPLATE_FILES[name]]);
  } catch {
    throw new Error(`the model's ${name} is not UTF-8 text`);
  }
  return { name, text, source: `the model's ${name}` };
}

/**
 * The hf-json source of a folder's files: tokenizer.json, tokenizer_config.json ({} when absent) and, when the
 * folder has one, its separate chat template file (pass the first present of CHAT_TEMPLATE_FILES).
 */
export function hfJsonTokenizerSource(tokenizerJson: Uint8Array, tokenizerConfig?: Uint8Array, chatTemplate?: { name: ChatTemplateFileName; bytes: Uint8Array }): TokenizerSource {
  const files: Record<string, Uint8Array> = {
    'hf-tokenizer.json': tokenizerJson,
    'hf-tokenizer-config.json': tokenizerConfig ?? new TextEncoder().encode('{}'),
  };
  if (chatTemplate) files[HF_CHAT_TEMPLATE_FILES[chatTemplate.name]] = chatTemplate.bytes;
  return { kind: 'hf-json', files };
}

interface Header {
  modelId: string;
  config: PublicModelInfo['config'];
  fracBits: number;
  tokenizer?: { kind: TokenizerSource['kind']; files: Array<{ name: string; bytes: number }> };
}

export function encodePublicInfo(info: PublicModelInfo): Uint8Array {
  const files = info.tokenizer ? Object.entries(info.tokenizer.files) : [];
  const header: Header = {
    modelId: info.modelId,
    config: info.config,
    fracBits: info.fracBits,
    tokenizer: info.tokenizer && { kind: info.tokenizer.kind, files: files.map(([name, b]) => ({ name, bytes: b.byteLength })) },
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + json.byteLength + files.reduce((s, [, b]) => s + b.byteLength, 0));
  new DataView(out.buffer).setUint32(0, json.byteLength, true);
  out.set(json, 4);
  let o = 4 + json.byteLength;
  for (const [, b] of files) {
    out.set(b, o);
    o += b.byteLength;
  }
  return out;
}

export function decodePublicInfo(bytes: Uint8Array): PublicModelInfo {
  const bad = (why: string): never => {
    throw new Error(`public model info from the owner: ${why}`);
  };
  if (bytes.byteLength < 4) bad('shorter than its header');
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + n > bytes.byteLength) bad(`header of ${n} bytes exceeds the message`);
  let h: Header;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(4, 4 + n))) as Header;
  } catch (e) {
    return bad(`header is not UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof h !== 'object' || h === null) bad('header is not an object');
  if (typeof h.modelId !== 'string' || h.modelId.length === 0) bad('modelId is missing');
  if (typeof h.config !== 'object' || h.config === null || !Number.isInteger(h.config.vocabSize)) bad('config is missing or has no vocabSize');
  checkFracBits(h.fracBits);
  const info: PublicModelInfo = { modelId: h.modelId, config: h.config, fracBits: h.fracBits };
  let o = 4 + n;
  if (h.tokenizer !== undefined) {
    const kind = h.tokenizer.kind;
    if (!(kind in TOKENIZER_FILES)) bad(`unknown tokenizer kind ${JSON.stringify(kind)}`);
    if (!Array.isArray(h.tokenizer.files)) bad('tokenizer files are not a list');
    const files: Record<string, Uint8Array> = {};
    for (const f of h.tokenizer.files) {
      if (typeof f?.name !== 'string' || !Number.isInteger(f.bytes) || f.bytes < 0) bad('a tokenizer file entry is malformed');
      if (o + f.bytes > bytes.byteLength) bad(`tokenizer file ${f.name} is cut off`);
      files[f.name] = bytes.slice(o, o + f.bytes);
      o += f.bytes;
    }
    info.tokenizer = { kind, files };
  }
  if (o !== bytes.byteLength) bad(`${bytes.byteLength - o} bytes after the last file`);
  return info;
}

/** Builds the tokenizer the public info describes. */
export function tokenizerFromSource(source: TokenizerSource, vocabSize: number): Tokenizer {
  const file = (name: string): Uint8Array => {
    const f = source.files[name];
    if (!f) throw new Error(`${source.kind} tokenizer needs the file ${name}; got ${Object.keys(source.files).join(', ') || 'none'}`);
    return f;
  };
  const text = (name: string) => new TextDecoder('utf-8', { fatal: true }).decode(file(name));
  switch (source.kind) {
    case 'llama2c':
      return Llama2cTokenizer.fromBytes(file('tokenizer.bin'), vocabSize);
    case 'gpt2-bpe':
      return Gpt2Tokenizer.fromFiles(text('vocab.json'), text('merges.txt'));
    case 'wordpiece':
      return WordPieceTokenizer.fromVocab(text('vocab.txt'));
    case 'hf-json': {
      const tok = HfTokenizer.fromJson(text('hf-tokenizer.json'), text('hf-tokenizer-config.json'), 'tokenizer.json', 'tokenizer_config.json', carriedChatTemplate(source.files));
      if (tok.vocabSize > vocabSize) throw new Error(`tokenizer.json has token ids up to ${tok.vocabSize - 1}, but the model's vocabulary has only ${vocabSize} entries`);
      return tok;
    }
    default:
      throw new Error(`unknown tokenizer kind ${JSON.stringify((source as { kind: unknown }).kind)}`);
  }
}
