/**
 * BERT WordPiece tokenizer from vocab.txt (one token per line, id = line index), following BERT's
 * BasicTokenizer + WordpieceTokenizer:
 * 1. special tokens written in the text ([MASK], [SEP], ...) are kept whole;
 * 2. clean: drop NUL, U+FFFD and control characters (category C except \t \n \r); whitespace -> ' ';
 * 3. put spaces around CJK ideographs;
 * 4. split on whitespace; if uncased, lowercase and strip accents (NFD, drop combining marks Mn);
 * 5. split off every punctuation character (ASCII symbols 33-47, 58-64, 91-96, 123-126, and category P);
 * 6. greedy longest-match-first word pieces, continuations prefixed "##"; a word longer than
 *    maxInputCharsPerWord characters, or one that cannot be covered, becomes [UNK].
 */
import type { BertInput, ModelInputTokenizer } from './tokenizer.ts';

export interface WordPieceOptions {
  /** Lowercase and strip accents (uncased models). Default true. */
  readonly lowercase?: boolean;
  /** Longer words become [UNK]. Default 100, as BERT. */
  readonly maxInputCharsPerWord?: number;
}

export type { BertInput };

const SPECIAL = ['[CLS]', '[SEP]', '[MASK]', '[PAD]', '[UNK]'];
const CONTROL = /^\p{C}$/u;
const SPACE_SEPARATOR = /^\p{Zs}$/u;
const PUNCTUATION = /^\p{P}$/u;
const COMBINING_MARK = /\p{Mn}/gu;

function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || SPACE_SEPARATOR.test(ch);
}

function isControl(ch: string): boolean {
  return ch !== '\t' && ch !== '\n' && ch !== '\r' && CONTROL.test(ch);
}

function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return PUNCTUATION.test(ch);
}

/** The CJK Unified Ideographs blocks BERT surrounds with spaces. */
function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

export class WordPieceTokenizer implements ModelInputTokenizer {
  readonly #vocab: Map<string, number>;
  readonly #tokens: string[];
  readonly #lowercase: boolean;
  readonly #maxChars: number;
  readonly #specialIds: Map<string, number>;
  readonly clsId: number;
  readonly sepId: number;
  readonly unkId: number;
  readonly padId: number | undefined;
  readonly maskId: number | undefined;

  private constructor(tokens: string[], options: WordPieceOptions, source: string) {
    this.#tokens = tokens;
    this.#vocab = new Map();
    tokens.forEach((t, i) => {
      if (!this.#vocab.has(t)) this.#vocab.set(t, i);
    });
    this.#lowercase = options.lowercase ?? true;
    this.#maxChars = options.maxInputCharsPerWord ?? 100;
    this.#specialIds = new Map(SPECIAL.filter((s) => this.#vocab.has(s)).map((s) => [s, this.#vocab.get(s)!]));
    const required = (name: string) => {
      const id = this.#vocab.get(name);
      if (id === undefined) throw new Error(`${source}: vocabulary has no ${name} token`);
      return id;
    };
    this.clsId = required('[CLS]');
    this.sepId = required('[SEP]');
    this.unkId = required('[UNK]');
    this.padId = this.#vocab.get('[PAD]');
    this.maskId = this.#vocab.get('[MASK]');
  }

  /** vocabText: the contents of vocab.txt. */
  static fromVocab(vocabText: string, options: WordPieceOptions = {}, source = 'vocab.txt'): WordPieceTokenizer {
    const lines = vocabText.split('\n').map((l) => l.replace(/\r$/, ''));
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    if (lines.length === 0) throw new Error(`${source}: empty vocabulary`);
    return new WordPieceTokenizer(lines, options, source);
  }

  get vocabSize(): number {
    return this.#tokens.length;
  }

  idOf(token: string): number | undefined {
    return this.#vocab.get(token);
  }

  tokenOf(id: number): string {
    const t = this.#tokens[id];
    if (t === undefined) throw new Error(`WordPiece: unknown token id ${id}`);
    return t;
  }

  /** Text -> word pieces (strings), special tokens written in the text kept whole. */
  tokenize(text: string): string[] {
    const out: string[] = [];
    for (const part of this.#splitSpecial(text)) {
      if (this.#specialIds.has(part)) out.push(part);
      else for (const word of this.#basic(part)) out.push(...this.#wordPieces(word));
    }
    return out;
  }

  encode(text: string): number[] {
    return this.tokenize(text).map((t) => this.#vocab.get(t)!);
  }

  /**
   * Model input: [CLS] text [SEP] (+ textPair [SEP]), truncated to maxLength one token at a time from the end
   * of the longer segment, the pair's on a tie (transformers' "longest_first").
   */
  encodeForModel(text: string, textPair?: string, maxLength = 512): BertInput {
    const a = this.encode(text);
    const b = textPair === undefined ? undefined : this.encode(textPair);
    const budget = maxLength - (b ? 3 : 2);
    if (budget < 0) throw new Error(`maxLength ${maxLength} leaves no room for the special tokens`);
    while (a.length + (b?.length ?? 0) > budget) {
      if (!b || a.length > b.length) a.pop();
      else b.pop();
    }
    const ids = [this.clsId, ...a, this.sepId];
    const typeIds = ids.map(() => 0);
    if (b) {
      ids.push(...b, this.sepId);
      typeIds.push(...b.map(() => 1), 1);
    }
    return { ids, typeIds };
  }

  /** Ids -> text: pieces joined by spaces, "##" continuations glued on, [CLS]/[SEP]/[PAD] dropped. */
  decode(ids: readonly number[]): string {
    const skip = new Set([this.clsId, this.sepId, this.padId]);
    return ids
      .filter((id) => !skip.has(id))
      .map((id) => this.tokenOf(id))
      .join(' ')
      .replace(/ ##/g, '');
  }

  #splitSpecial(text: string): string[] {
    if (this.#specialIds.size === 0) return [text];
    const pattern = new RegExp(`(${[...this.#specialIds.keys()].map((s) => s.replace(/[[\]]/g, '\\$&')).join('|')})`);
    return text.split(pattern).filter((p) => p !== '');
  }

  /** BasicTokenizer: clean, CJK spacing, whitespace split, lowercase + strip accents, punctuation split. */
  #basic(text: string): string[] {
    let cleaned = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
      if (isWhitespace(ch)) cleaned += ' ';
      else if (isCjk(cp)) cleaned += ` ${ch} `;
      else cleaned += ch;
    }
    const words: string[] = [];
    for (let word of cleaned.split(' ')) {
      if (word === '') continue;
      if (this.#lowercase) word = word.toLowerCase().normalize('NFD').replace(COMBINING_MARK, '');
      let current = '';
      for (const ch of word) {
        if (isPunctuation(ch)) {
          if (current) words.push(current);
          words.push(ch);
          current = '';
        } else {
          current += ch;
        }
      }
      if (current) words.push(current);
    }
    return words;
  }

  #wordPieces(word: string): string[] {
    const chars = Array.from(word);
    if (chars.length > this.#maxChars) return ['[UNK]'];
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: string | undefined;
      while (start < end) {
        const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
        if (this.#vocab.has(sub)) {
          found = sub;
          break;
        }
        end--;
      }
      if (found === undefined) return ['[UNK]'];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }
}
