import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelDir } from './node.ts';
import { STORIES_REFERENCE_TOKENS } from './test-fixtures.ts';
import { LLAMA_BOS, LLAMA_EOS, Llama2cTokenizer } from './tokenizer-llama2c.ts';

function valLines(): string[] {
  return readFileSync(path.join(modelDir('gpt2-shakespeare'), 'val.txt'), 'utf8').split('\n');
}

/** A minimal tokenizer.bin: BOS/EOS, 256 byte tokens, then the given (piece, score) pairs. */
function tinyTokenizerBin(pieces: Array<[string, number]>): Uint8Array {
  const all: Array<[string, number]> = [['<unk>', 0], ['\n<s>\n', 0], ['\n</s>\n', 0]];
  for (let b = 0; b < 256; b++) all.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0]);
  all.push(...pieces);
  const enc = all.map(([p, s]) => [new TextEncoder().encode(p), s] as const);
  const out = new Uint8Array(4 + enc.reduce((a, [p]) => a + 8 + p.length, 0));
  const view = new DataView(out.buffer);
  view.setInt32(0, Math.max(...enc.map(([p]) => p.length)), true);
  let off = 4;
  for (const [p, s] of enc) {
    view.setFloat32(off, s, true);
    view.setInt32(off + 4, p.length, true);
    out.set(p, off + 8);
    off += 8 + p.length;
  }
  return out;
}

describe('llama2.c tokenizer', () => {
  const tok512 = Llama2cTokenizer.fromBytes(readFileSync(path.join(modelDir('stories260K'), 'tok512.bin')), 512);
  const tok32k = Llama2cTokenizer.fromBytes(readFileSync(path.join(modelDir('llama2c-tokenizer-32k'), 'tokenizer.bin')), 32000);

  it('reads tok512.bin: 512 pieces, max length 7, byte tokens at 3..258', () => {
    expect(tok512.vocabSize).toBe(512);
    expect(tok512.maxTokenLength).toBe(7);
    expect([tok512.piece(3), tok512.piece(13), tok512.piece(258)]).toEqual(['<0x00>', '<0x0A>', '<0xFF>']);
    expect([tok512.piece(403), tok512.piece(407), tok512.piece(261), tok512.piece(378)]).toEqual([' Once', ' upon', ' a', ' time']);
  });

  it('decodes the reference generation of SOURCE.md to its text (space after BOS dropped, <0x0A> -> newline)', () => {
    const text = tok512.decode(STORIES_REFERENCE_TOKENS);
    expect(text.startsWith('Once upon a time, there was a little girl named Lily. She loved to play outside in the park.')).toBe(true);
    expect(text).toContain('too high.\nLily');
  });

  it('encodes with the dummy prefix and score-ordered merges (hand-checked ids)', () => {
    expect(tok512.encode('Once upon a time, there was a little girl named Lily.', { bos: true })).toEqual(STORIES_REFERENCE_TOKENS.slice(0, 16));
    expect(tok32k.encode('Hello world', { bos: true })).toEqual([1, 15043, 3186]); // "▁Hello", "▁world"
    expect(tok32k.encode('I believe the meaning of life is', { bos: true })).toEqual([1, 306, 4658, 278, 6593, 310, 2834, 338]);
    expect(tok32k.encode('a', { bos: true, eos: true })).toEqual([LLAMA_BOS, 263, LLAMA_EOS]);
    expect(tok32k.encode('')).toEqual([]);
  });

  it('falls back to byte tokens (byte + 3) for characters outside the vocabulary', () => {
    // 😀 = F0 9F 98 80
    expect(tok32k.encode('😀').slice(1)).toEqual([0xf0 + 3, 0x9f + 3, 0x98 + 3, 0x80 + 3]);
    expect(tok32k.decode(tok32k.encode('héllo 😀 世界', { bos: true }))).toBe('héllo 😀 世界');
    expect(tok512.decode(tok512.encode('naïve café ☃ 😀', { bos: true }))).toBe('naïve café ☃ 😀');
    expect(tok512.decode([0xf0 + 3])).toBe('\ufffd');
  });

  it('merges the highest-scoring pair first (tiny vocabulary)', () => {
    const byScore = (ab: number, bc: number) => Llama2cTokenizer.fromBytes(tinyTokenizerBin([[' ', 0], ['a', 0], ['b', 0], ['c', 0], ['ab', ab], ['bc', bc], [' ab', -9], [' a', -9]]));
    const t1 = byScore(-1, -2);
    expect(t1.encode('abc').map((i) => t1.piece(i))).toEqual([' ab', 'c']);
    const t2 = byScore(-2, -1);
    expect(t2.encode('abc').map((i) => t2.piece(i))).toEqual([' a', 'bc']);
  });

  it('round-trips every line of val.txt through both tokenizers', () => {
    for (const line of valLines()) {
      expect(tok512.decode(tok512.encode(line, { bos: true }))).toBe(line);
      expect(tok32k.decode(tok32k.encode(line, { bos: true }))).toBe(line);
    }
  });

  it('rejects truncated or inconsistent files', () => {
    const bin = readFileSync(path.join(modelDir('stories260K'), 'tok512.bin'));
    expect(() => Llama2cTokenizer.fromBytes(bin.subarray(0, bin.length - 3), 512, 'tok.bin')).toThrow(/tok\.bin: truncated inside token 511/);
    expect(() => Llama2cTokenizer.fromBytes(bin, 511, 'tok.bin')).toThrow(/tok\.bin: \d+ bytes after the 511 tokens/);
    expect(() => Llama2cTokenizer.fromBytes(bin, 513, 'tok.bin')).toThrow(/truncated at token 512/);
    const badLen = new Uint8Array(bin);
    new DataView(badLen.buffer).setInt32(8, 99, true);
    expect(() => Llama2cTokenizer.fromBytes(badLen, 512, 'tok.bin')).toThrow(/token 0 has length 99, outside \[0, 7\]/);
    expect(() => tok512.decode([512])).toThrow(/unknown token id 512/);
  });
});
