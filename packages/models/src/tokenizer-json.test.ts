/**
 * tokenizer.json through @huggingface/tokenizers, for documents converted from the legacy files
 * (tokenizer-json-writer.ts): LLaMA 32k against SentencePiece's own ids (testdata/llama-32k-golden.json, made by
 * scripts/sentencepiece-golden.py), GPT-2 and BERT against the independent legacy readers and hand-checked ids.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, modelDir } from './node.ts';
import { buildsModelInput } from './tokenizer.ts';
import { Gpt2Tokenizer } from './tokenizer-gpt2.ts';
import { HfTokenizer } from './tokenizer-json.ts';
import { bertTokenizerJson, gpt2TokenizerJson, llamaTokenizerJsonFromBin, type TokenizerDocuments } from './tokenizer-json-writer.ts';
import { Llama2cTokenizer } from './tokenizer-llama2c.ts';
import { WordPieceTokenizer } from './tokenizer-wordpiece.ts';

const golden = JSON.parse(readFileSync(new URL('./testdata/llama-32k-golden.json', import.meta.url), 'utf8')) as { cases: Array<{ text: string; ids: number[] }> };

function load(docs: TokenizerDocuments): HfTokenizer {
  return HfTokenizer.fromJson(JSON.stringify(docs.tokenizer), JSON.stringify(docs.config));
}

const read = (model: string, file: string) => readFileSync(path.join(modelDir(model), file));
const TEXTS = ['', 'Hello world', ' leading space', '  two leading spaces', 'trailing  ', 'line one\nline two\n', '\n\n', 'tabs\tand\r\nnewlines', 'héllo wörld', '😀 emoji 🎉', '世界 日本語', "it's 42 o'clock!"];

describe('LLaMA SentencePiece-BPE tokenizer.json (converted from tokenizer.bin)', () => {
  const bin = read('llama2c-tokenizer-32k', 'tokenizer.bin');
  const json = load(llamaTokenizerJsonFromBin(bin, 32000));
  const legacy = Llama2cTokenizer.fromBytes(bin, 32000);

  it('gives SentencePiece\'s ids for every golden text, as the legacy reader does', () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(20);
    for (const c of golden.cases) {
      expect(legacy.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
      if (c.text.includes('<s>')) continue; // an added token in text: see the next test
      expect(json.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
      expect(json.decode(c.ids)).toBe(c.text);
    }
  });

  it('recognizes <s> written in the text (as transformers does; the legacy reader spells it out) and adds BOS on request', () => {
    expect(json.encode('<s> is text here')).toEqual([1, ...json.encode(' is text here')]);
    expect(json.encodeWithSpecialTokens('Hello world')).toEqual([1, 15043, 3186]);
    expect(json.specialToken('bos_token')).toEqual({ text: '<s>', id: 1 });
    expect(json.specialToken('eos_token')).toEqual({ text: '</s>', id: 2 });
    expect(json.vocabSize).toBe(32000);
    expect(json.decode([1, 15043, 3186, 2])).toBe('Hello world'); // special tokens are left out
  });

  it('stories260K\'s 512-token vocabulary: the same ids as the legacy reader on every line of val.txt', () => {
    const tok512 = read('stories260K', 'tok512.bin');
    const small = load(llamaTokenizerJsonFromBin(tok512, 512));
    const old = Llama2cTokenizer.fromBytes(tok512, 512);
    const lines = readFileSync(path.join(modelDir('gpt2-shakespeare'), 'val.txt'), 'utf8').split('\n').slice(0, 400);
    for (const line of [...TEXTS, ...lines]) expect(small.encode(line), JSON.stringify(line)).toEqual(old.encode(line));
  });
});

describe('GPT-2 byte-level BPE tokenizer.json (converted from encoder.json + vocab.bpe)', () => {
  const encoder = read('gpt2-tokenizer', 'encoder.json').toString('utf8');
  const merges = read('gpt2-tokenizer', 'vocab.bpe').toString('utf8');
  const json = load(gpt2TokenizerJson(encoder, merges));
  const legacy = Gpt2Tokenizer.fromFiles(encoder, merges);

  it('hand-checked ids (looked up in encoder.json)', () => {
    expect(json.encode('Hello world')).toEqual([15496, 995]);
    expect(json.encode('Hello  world')).toEqual([15496, 220, 995]);
    expect(json.encode('\n\n')).toEqual([628]);
    expect(json.encode(' é')).toEqual([38251]);
    expect(json.encode('')).toEqual([]);
    expect(json.encode('<|endoftext|>')).toEqual([50256]); // an added token here; plain text for the legacy reader
    expect(json.vocabSize).toBe(50257);
  });

  it('the legacy reader\'s ids on unicode, spaces and newlines, and on all of val.txt (36,059 tokens)', () => {
    for (const t of TEXTS) {
      expect(json.encode(t), JSON.stringify(t)).toEqual(legacy.encode(t));
      expect(json.decode(json.encode(t))).toBe(t);
    }
    const val = readFileSync(path.join(modelDir('gpt2-shakespeare'), 'val.txt'), 'utf8');
    const ids = json.encode(val);
    expect(ids.length).toBe(36059);
    expect(ids).toEqual(legacy.encode(val));
    expect(json.decode(ids)).toBe(val);
  });
});

describe('BERT WordPiece tokenizer.json (converted from vocab.txt)', () => {
  const vocab = read('bert-uncased-vocab', 'vocab.txt').toString('utf8');
  const json = load(bertTokenizerJson(vocab));
  const legacy = WordPieceTokenizer.fromVocab(vocab);

  it('hand-checked ids and the [CLS] ... [SEP] template', () => {
    expect(json.encodeWithSpecialTokens('Hello, world!')).toEqual([101, 7592, 1010, 2088, 999, 102]);
    expect(json.encodeWithSpecialTokens('a', 'b')).toEqual([101, 1037, 102, 1038, 102]);
    expect(json.encode('tokenization')).toEqual([19204, 3989]);
    expect(json.encode('')).toEqual([]);
    expect(json.decode([101, 19204, 3989, 102])).toBe('tokenization');
  });

  it('encodeForModel: the legacy reader\'s [CLS] a [SEP] b [SEP] with segment ids, truncated longest-first', () => {
    expect(buildsModelInput(json)).toBe(true);
    const a = 'The quick brown fox jumps over the lazy dog';
    const b = 'A tokenization of héllo wörld';
    for (const max of [512, 12, 8, 5, 3]) {
      expect(json.encodeForModel(a, undefined, max)).toEqual(legacy.encodeForModel(a, undefined, max));
      expect(json.encodeForModel(a, b, max)).toEqual(legacy.encodeForModel(a, b, max));
    }
    expect(json.encodeForModel(a, b, 8).typeIds).toEqual([0, 0, 0, 0, 0, 1, 1, 1]); // [CLS] 3 of a [SEP], 2 of b [SEP]
    expect(() => json.encodeForModel(a, b, 2)).toThrow(/maxLength 2 leaves no room for the special tokens/);
  });

  it('the legacy reader\'s ids on unicode, accents, spaces, newlines and special tokens in the text', () => {
    for (const t of [...TEXTS, 'Héllo WÖRLD', 'a\tb\u00a0c\r\nd', 'x...y', 'the [MASK] sat', '的的', 'a'.repeat(101)]) {
      expect(json.encode(t), JSON.stringify(t)).toEqual(legacy.encode(t));
    }
  });
});

describe('malformed tokenizer.json', () => {
  const doc = (model: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ model, ...extra });
  const bpe = { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] };

  it('names the file and the problem', () => {
    expect(() => HfTokenizer.fromJson('{', undefined, 'x/tokenizer.json')).toThrow(/x\/tokenizer\.json: not valid JSON/);
    expect(() => HfTokenizer.fromJson('[]', undefined, 't.json')).toThrow(/t\.json: must be a JSON object/);
    expect(() => HfTokenizer.fromJson('{}', undefined, 't.json')).toThrow(/t\.json: "model" is missing/);
    expect(() => HfTokenizer.fromJson(doc({ type: 'WordLevel', vocab: {} }), undefined, 't.json')).toThrow(/model type "WordLevel" is not supported/);
    expect(() => HfTokenizer.fromJson(doc({ ...bpe, vocab: { a: -1 } }), undefined, 't.json')).toThrow(/token "a" has invalid id -1/);
    expect(() => HfTokenizer.fromJson(doc({ ...bpe, vocab: { a: 0, b: 0 } }), undefined, 't.json')).toThrow(/id 0 is both "a" and "b"/);
    expect(() => HfTokenizer.fromJson(doc({ ...bpe, merges: ['a c'] }), undefined, 't.json')).toThrow(/merges\[0\] uses "c", which is not in model.vocab/);
    expect(() => HfTokenizer.fromJson(doc({ ...bpe, merges: ['abc'] }), undefined, 't.json')).toThrow(/merges\[0\] is not a pair of tokens/);
    expect(() => HfTokenizer.fromJson(doc(bpe, { added_tokens: [{ id: 'x', content: '<s>' }] }), undefined, 't.json')).toThrow(/added_tokens\[0\] needs an integer "id"/);
    expect(() => HfTokenizer.fromJson(doc(bpe, { added_tokens: [{ id: 0, content: '<s>' }] }), undefined, 't.json')).toThrow(/id 0 is both "a" and "<s>"/);
    expect(() => HfTokenizer.fromJson(doc(bpe, { decoder: 'x' }), undefined, 't.json')).toThrow(/"decoder" must be an object or null/);
    expect(() => HfTokenizer.fromJson(doc(bpe, { decoder: { type: 'Nonsense' } }), undefined, 't.json')).toThrow(/^t\.json: .*Nonsense/);
    expect(() => HfTokenizer.fromJson(doc(bpe), '{"bos_token": ', 't.json', 'tc.json')).toThrow(/tc\.json: not valid JSON/);
  });

  it('refuses ids it has no token for and text the vocabulary cannot cover', () => {
    const tok = HfTokenizer.fromJson(doc(bpe), '{"bos_token": "<s>"}', 't.json');
    expect(tok.encode('abab')).toEqual([2, 2]);
    expect(() => tok.decode([3])).toThrow(/t\.json: unknown token id 3/);
    expect(() => tok.encode('bcab')).toThrow(/"bcab" has characters the vocabulary does not cover, and the model has no unk_token/);
    expect(() => tok.specialToken('bos_token')).toThrow(/bos_token "<s>" is not a token of tokenizer\.json/);
  });
});

describe('loadModel prefers tokenizer.json', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  /** gpt2-shakespeare's files linked into a temp folder, plus the given tokenizer.json. */
  function folder(tokenizerJson: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'puma-tokjson-'));
    dirs.push(dir);
    for (const f of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt', 'tokenizer_config.json']) symlinkSync(path.join(modelDir('gpt2-shakespeare'), f), path.join(dir, f));
    writeFileSync(path.join(dir, 'tokenizer.json'), tokenizerJson);
    return dir;
  }

  it('uses tokenizer.json over vocab.json + merges.txt, and names the file when it is malformed or too large for the model', async () => {
    const src = modelDir('gpt2-shakespeare');
    const docs = gpt2TokenizerJson(readFileSync(path.join(src, 'vocab.json'), 'utf8'), readFileSync(path.join(src, 'merges.txt'), 'utf8'));
    const { location, tokenizer } = await loadModel(folder(JSON.stringify(docs.tokenizer)));
    expect(location.tokenizer?.kind).toBe('tokenizer-json');
    expect(tokenizer).toBeInstanceOf(HfTokenizer);
    expect(tokenizer!.encode('ROMEO:\nWhat light')).toEqual(Gpt2Tokenizer.fromFiles(readFileSync(path.join(src, 'vocab.json'), 'utf8'), readFileSync(path.join(src, 'merges.txt'), 'utf8')).encode('ROMEO:\nWhat light'));

    const bad = folder('{"model": 3}');
    await expect(loadModel(bad)).rejects.toThrow(`${path.join(bad, 'tokenizer.json')}: "model" is missing or not an object`);
    const model = docs.tokenizer.model as { vocab: Record<string, number> };
    const big = folder(JSON.stringify({ ...docs.tokenizer, model: { ...model, vocab: { ...model.vocab, extra: 60000 } } }));
    await expect(loadModel(big)).rejects.toThrow(/has token ids up to 60000, but the model's vocabulary has only 50257 entries/);
  });
});
