/**
 * The public model description the owner sends the client: config, fraction bits, tokenizer files. Wire
 * format: u32 little-endian length of a JSON header, the header ({ modelId, config, fracBits, tokenizer?:
 * { kind, files: [{ name, bytes }] } }), then the files' bytes in header order.
 */
import { Gpt2Tokenizer, HfTokenizer, Llama2cTokenizer, WordPieceTokenizer, type Tokenizer } from '@puma/models';
import { checkFracBits } from '@puma/ring';
import type { PublicModelInfo, TokenizerSource } from './types.ts';

/** The files each tokenizer kind needs, by their fixed names. */
export const TOKENIZER_FILES: Record<TokenizerSource['kind'], readonly string[]> = {
  llama2c: ['tokenizer.bin'],
  'gpt2-bpe': ['vocab.json', 'merges.txt'],
  wordpiece: ['vocab.txt'],
  'hf-json': ['hf-tokenizer.json', 'hf-tokenizer-config.json'],
};

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
      const tok = HfTokenizer.fromJson(text('hf-tokenizer.json'), text('hf-tokenizer-config.json'), 'tokenizer.json', 'tokenizer_config.json');
      if (tok.vocabSize > vocabSize) throw new Error(`tokenizer.json has token ids up to ${tok.vocabSize - 1}, but the model's vocabulary has only ${vocabSize} entries`);
      return tok;
    }
    default:
      throw new Error(`unknown tokenizer kind ${JSON.stringify((source as { kind: unknown }).kind)}`);
  }
}
