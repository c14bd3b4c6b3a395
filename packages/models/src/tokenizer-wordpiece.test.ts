import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelDir } from './node.ts';
import { WordPieceTokenizer } from './tokenizer-wordpiece.ts';

describe('BERT WordPiece (bert-base-uncased vocab)', () => {
  const tok = WordPieceTokenizer.fromVocab(readFileSync(path.join(modelDir('bert-uncased-vocab'), 'vocab.txt'), 'utf8'));

  it('encodes hand-checked inputs (ids = line numbers in vocab.txt)', () => {
    expect(tok.vocabSize).toBe(30522);
    expect([tok.padId, tok.unkId, tok.clsId, tok.sepId, tok.maskId]).toEqual([0, 100, 101, 102, 103]);
    expect(tok.encodeForModel('Hello, world!')).toEqual({ ids: [101, 7592, 1010, 2088, 999, 102], typeIds: [0, 0, 0, 0, 0, 0] });
    expect(tok.tokenize('tokenization')).toEqual(['token', '##ization']);
    expect(tok.encode('tokenization')).toEqual([19204, 3989]);
    expect(tok.tokenize("I'm playing")).toEqual(['i', "'", 'm', 'playing']);
  });

  it('lowercases, strips accents, drops control characters and splits on whitespace, punctuation and CJK', () => {
    expect(tok.tokenize('Héllo WÖRLD')).toEqual(['hello', 'world']);
    expect(tok.tokenize('hel\u200blo\u0000 wor\ufffdld')).toEqual(['hello', 'world']); // U+200B is a format (C) char
    expect(tok.tokenize('a\tb\u00a0c\r\nd')).toEqual(['a', 'b', 'c', 'd']);
    expect(tok.tokenize('x...y')).toEqual(['x', '.', '.', '.', 'y']);
    expect(tok.tokenize('a¿b')).toEqual(['a', '¿', 'b']); // Unicode punctuation (Po) splits too
    expect(tok.encode('的的')).toEqual([1916, 1916]);
  });

  it('maps over-long or uncoverable words to [UNK] and keeps special tokens written in the text', () => {
    expect(tok.tokenize('a'.repeat(101))).toEqual(['[UNK]']);
    expect(tok.tokenize('😀')).toEqual(['[UNK]']);
    expect(tok.encode('to be [MASK] [SEP]')).toEqual([2000, 2022, 103, 102]);
  });

  it('builds pairs with token types and truncates the longer segment first', () => {
    const { ids, typeIds } = tok.encodeForModel('hello world', 'hello', 10);
    expect(ids).toEqual([101, 7592, 2088, 102, 7592, 102]);
    expect(typeIds).toEqual([0, 0, 0, 0, 1, 1]);
    // budget 6 - 3 = 3: drop from the 4-token first segment until it ties, then from the pair.
    const t = tok.encodeForModel('a b c d', 'e f', 6);
    expect(t.ids).toEqual([101, tok.idOf('a'), tok.idOf('b'), 102, tok.idOf('e'), 102]);
    expect(tok.encodeForModel('a b c d e', undefined, 4).ids).toEqual([101, tok.idOf('a'), tok.idOf('b'), 102]);
  });

  it('decodes word pieces back to words', () => {
    expect(tok.decode([101, 19204, 3989, 2003, 4569, 102])).toBe('tokenization is fun');
    expect(() => tok.decode([40000])).toThrow(/unknown token id 40000/);
  });

  it('greedy longest match on a tiny vocabulary, and vocabularies without the special tokens are rejected', () => {
    const tiny = WordPieceTokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'un', 'una', '##ff', '##able', '##aff'].join('\n'));
    expect(tiny.tokenize('unaffable')).toEqual(['una', '##ff', '##able']);
    expect(tiny.tokenize('unx')).toEqual(['[UNK]']);
    expect(() => WordPieceTokenizer.fromVocab('a\nb\n', {}, 'v.txt')).toThrow(/v\.txt: vocabulary has no \[CLS\] token/);
  });
});
