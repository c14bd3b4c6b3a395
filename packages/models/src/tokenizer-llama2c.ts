/**
 * llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length, the piece's
 * bytes (sentencepiece's "▁" already replaced by a space; byte-fallback pieces spelled "<0xXX>").
 *
 * Encoding, as llama2.c's run.c (sentencepiece BPE by scores): optional BOS; a dummy-prefix space token
 * before non-empty text; each UTF-8 character becomes its piece, or, if the vocabulary lacks it, one
 * byte-fallback token per byte (id = byte + 3); then repeatedly merge the adjacent pair whose concatenation is
 * a piece with the highest score (the leftmost on ties) until none is (see bpe.ts). Decoding drops the space that follows
 * BOS and turns "<0xXX>" pieces into raw bytes; BOS and EOS themselves print nothing (run.c never prints them:
 * BOS starts the prompt and generation stops at it).
 *
 * Pieces are compared as byte strings, so pieces that are not valid UTF-8 on their own are handled exactly.
 */
import { mergePairs } from './bpe.ts';
import type { Tokenizer } from './tokenizer.ts';

export const LLAMA_BOS = 1;
export const LLAMA_EOS = 2;
/** Byte-fallback token ids start here: <0x00> is 3, <0xFF> is 258. */
const BYTE_OFFSET = 3;
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

/** Bytes as a string of U+0000..U+00FF characters: a Map key that compares byte for byte. */
function byteKey(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

export interface Llama2cEncodeOptions {
  readonly bos?: boolean;
  readonly eos?: boolean;
}

export class Llama2cTokenizer implements Tokenizer {
  readonly #pieces: Uint8Array[];
  readonly #scores: Float32Array;
  readonly #ids: Map<string, number>;
  readonly maxTokenLength: number;

  private constructor(pieces: Uint8Array[], scores: Float32Array, maxTokenLength: number) {
    this.#pieces = pieces;
    this.#scores = scores;
    this.maxTokenLength = maxTokenLength;
    this.#ids = new Map();
    pieces.forEach((p, i) => {
      const k = byteKey(p);
      if (!this.#ids.has(k)) this.#ids.set(k, i);
    });
  }

  /**
   * Parses tokenizer.bin. The format does not store the vocabulary size: give the model's `vocabSize` to check
   * the file against it; otherwise every token up to the end of the file is read.
   */
  static fromBytes(input: Uint8Array, vocabSize?: number, source = 'tokenizer.bin'): Llama2cTokenizer {
    const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
    if (input.byteLength < 4) throw new Error(`${source}: too short for a llama2.c tokenizer`);
    const maxTokenLength = view.getInt32(0, true);
    if (maxTokenLength <= 0) throw new Error(`${source}: max_token_length ${maxTokenLength} must be positive`);
    const pieces: Uint8Array[] = [];
    const scores: number[] = [];
    let off = 4;
    while (vocabSize === undefined ? off < input.byteLength : pieces.length < vocabSize) {
      const id = pieces.length;
      if (off + 8 > input.byteLength) throw new Error(`${source}: truncated at token ${id} (offset ${off})`);
      const score = view.getFloat32(off, true);
      const len = view.getInt32(off + 4, true);
      off += 8;
      if (!Number.isFinite(score)) throw new Error(`${source}: token ${id} has score ${score}`);
      if (len < 0 || len > maxTokenLength) throw new Error(`${source}: token ${id} has length ${len}, outside [0, ${maxTokenLength}]`);
      if (off + len > input.byteLength) throw new Error(`${source}: truncated inside token ${id} (offset ${off})`);
      pieces.push(input.slice(off, off + len));
      scores.push(score);
      off += len;
    }
    if (off !== input.byteLength) throw new Error(`${source}: ${input.byteLength - off} bytes after the ${pieces.length} tokens`);
    if (pieces.length < BYTE_OFFSET + 256) throw new Error(`${source}: ${pieces.length} tokens cannot hold the 256 byte-fallback tokens`);
    for (let b = 0; b < 256; b++) {
      const expected = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      if (byteKey(pieces[BYTE_OFFSET + b]) !== expected) {
        throw new Error(`${source}: token ${BYTE_OFFSET + b} should be the byte-fallback piece ${expected}`);
      }
    }
    return new Llama2cTokenizer(pieces, Float32Array.from(scores), maxTokenLength);
  }

  get vocabSize(): number {
    return this.#pieces.length;
  }

  /** The piece of a token as text (byte-fallback pieces as "<0xXX>"). */
  piece(id: number): string {
    return new TextDecoder().decode(this.#piece(id));
  }

  /** The piece's bytes as stored (a copy). */
  pieceBytes(id: number): Uint8Array {
    return this.#piece(id).slice();
  }

  score(id: number): number {
    this.#piece(id);
    return this.#scores[id];
  }

  encode(text: string, options: Llama2cEncodeOptions = {}): number[] {
    const bytes = new TextEncoder().encode(text);
    const tokens: number[] = [];
    if (options.bos) tokens.push(LLAMA_BOS);
    if (bytes.length > 0) {
      const space = this.#ids.get(' ');
      if (space === undefined) throw new Error('llama2.c tokenizer: vocabulary has no " " piece for the dummy prefix');
      tokens.push(space);
    }
    let i = 0;
    while (i < bytes.length) {
      let end = i + 1;
      while (end < bytes.length && end - i < 4 && (bytes[end] & 0xc0) === 0x80) end++;
      const id = this.#ids.get(byteKey(bytes.subarray(i, end)));
      if (id !== undefined) tokens.push(id);
      else for (let j = i; j < end; j++) tokens.push(bytes[j] + BYTE_OFFSET);
      i = end;
    }
    const merged = mergePairs(tokens, (a, b) => {
      const id = this.#ids.get(byteKey(this.#pieces[a]) + byteKey(this.#pieces[b]));
      return id === undefined ? undefined : { priority: -this.#scores[id], merged: id };
    });
    if (options.eos) merged.push(LLAMA_EOS);
    return merged;
  }

  /** Ids -> text. Invalid UTF-8 (e.g. a lone byte token) becomes U+FFFD. */
  decode(ids: readonly number[]): string {
    const out: number[] = [];
    let prev = -1;
    for (const id of ids) {
      let piece = this.#piece(id);
      if (id === LLAMA_BOS || id === LLAMA_EOS) {
        prev = id;
        continue;
      }
      if (prev === LLAMA_BOS && piece[0] === 0x20) piece = piece.subarray(1);
      const m = BYTE_PIECE.exec(byteKey(piece));
      if (m) out.push(parseInt(m[1], 16));
      else out.push(...piece);
      prev = id;
    }
    return new TextDecoder('utf-8').decode(new Uint8Array(out));
  }

  #piece(id: number): Uint8Array {
    const p = this.#pieces[id];
    if (p === undefined) throw new Error(`llama2.c tokenizer: unknown token id ${id}`);
    return p;
  }
}
