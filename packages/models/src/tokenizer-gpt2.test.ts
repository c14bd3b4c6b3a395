import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelDir } from './node.ts';
import { Gpt2Tokenizer } from './tokenizer-gpt2.ts';

function original(): Gpt2Tokenizer {
  const dir = modelDir('gpt2-tokenizer');
  return Gpt2Tokenizer.fromFiles(readFileSync(path.join(dir, 'encoder.json'), 'utf8'), readFileSync(path.join(dir, 'vocab.bpe'), 'utf8'));
}

describe('GPT-2 byte-level BPE', () => {
  const tok = original();

  it('encodes hand-checked strings (ids looked up in encoder.json)', () => {
    expect(tok.vocabSize).toBe(50257);
    expect(tok.eotId).toBe(50256);
    expect(tok.encode('Hello world')).toEqual([15496, 995]); // "Hello", "Ġworld"
    expect(tok.encode('hello world')).toEqual([31373, 995]);
    expect(tok.encode('The quick brown fox')).toEqual([464, 2068, 7586, 21831]);
    expect(tok.encode('Hello, world!')).toEqual([15496, 11, 995, 0]);
    expect(tok.encode("I'm")).toEqual([40, 1101]); // "I", "'m": contractions split off
    expect(tok.encode('Hello  world')).toEqual([15496, 220, 995]); // \s+(?!\S) leaves the last space to " world"
    expect(tok.encode('\n\n')).toEqual([628]); // "ĊĊ"
    expect(tok.encode(' 123')).toEqual([17031]); // "Ġ123"
    expect(tok.encode('é')).toEqual([2634]); // bytes C3 A9 -> "Ã©"
    expect(tok.encode(' é')).toEqual([38251]); // "ĠÃ©"
    expect(tok.encode('<|endoftext|>')).not.toContain(50256); // special tokens are text here
    expect(tok.encode('')).toEqual([]);
  });

  it('decodes back to the exact text, including multi-byte characters split across tokens', () => {
    for (const s of ['Hello, world!', '  leading and trailing  ', 'tabs\tand\nnewlines\r\n', 'héllo wörld', '😀 emoji 🎉', '世界 日本語', "it's 42 o'clock"]) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
    expect(tok.decode([8582])).toBe('\ufffd'); // "ðŁ": the first two bytes of a 4-byte emoji alone are not UTF-8
    expect(() => tok.decode([50257])).toThrow(/unknown token id 50257/);
  });

  it('tokenizes val.txt to the 36,059 tokens of SOURCE.md and round-trips it', () => {
    const val = readFileSync(path.join(modelDir('gpt2-shakespeare'), 'val.txt'), 'utf8');
    const ids = tok.encode(val);
    expect(ids.length).toBe(36059);
    expect(tok.decode(ids)).toBe(val);
  });

  it('the HF file names (vocab.json + merges.txt) give the same tokenizer', () => {
    const dir = modelDir('gpt2-shakespeare');
    const hf = Gpt2Tokenizer.fromFiles(readFileSync(path.join(dir, 'vocab.json'), 'utf8'), readFileSync(path.join(dir, 'merges.txt'), 'utf8'));
    expect(hf.encode('ROMEO:\nWhat light')).toEqual(tok.encode('ROMEO:\nWhat light'));
  });

  it('merges the lowest-ranked pair first (tiny vocabulary)', () => {
    const encoder = JSON.stringify({ a: 0, b: 1, c: 2, ab: 3, bc: 4 });
    expect(Gpt2Tokenizer.fromFiles(encoder, '#version: 0.2\na b\nb c\n').encode('abc')).toEqual([3, 2]);
    expect(Gpt2Tokenizer.fromFiles(encoder, '#version: 0.2\nb c\na b\n').encode('abc')).toEqual([0, 4]);
  });

  it('rejects malformed files', () => {
    expect(() => Gpt2Tokenizer.fromFiles('{', '')).toThrow(/encoder\.json is not valid JSON/);
    expect(() => Gpt2Tokenizer.fromFiles('{"a": "x"}', '')).toThrow(/token "a" has invalid id "x"/);
    expect(() => Gpt2Tokenizer.fromFiles('{"a": 0, "b": 0}', '')).toThrow(/id 0 is assigned twice/);
    expect(() => Gpt2Tokenizer.fromFiles('{"a": 0}', '#version: 0.2\na b c\n')).toThrow(/merges line 2 is not "a b"/);
    expect(() => Gpt2Tokenizer.fromFiles('{"a": 0}', '').encode('ab')).toThrow(/BPE produced "b", which is not in the vocabulary/);
  });
});
