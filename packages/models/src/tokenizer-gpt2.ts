/**
 * GPT-2 byte-level BPE, from the original files (encoder.json + vocab.bpe) or the identical Hugging Face ones
 * (vocab.json + merges.txt).
 *
 * Encoding: split the text with GPT-2's pre-tokenization pattern (contractions, optional-space letter runs,
 * digit runs, other symbols, whitespace); map each piece's UTF-8 bytes to printable characters (the reversible
 * byte<->unicode table: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards); then
 * repeatedly merge the adjacent pair with the lowest merge rank until none applies (see bpe.ts). Special tokens such as
 * <|endoftext|> are not recognized in text (as tiktoken's encode_ordinary); use `eotId` to add them.
 */
import { mergePairs } from './bpe.ts';
import type { Tokenizer } from './tokenizer.ts';

/** Distinct pieces whose BPE result is remembered; the cache is dropped when it grows past this. */
const CACHE_LIMIT = 100_000;

const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's byte -> character table (and its inverse). */
function byteTables(): { byteToChar: string[]; charToByte: Map<string, number> } {
  const byteToChar: string[] = new Array(256);
  const charToByte = new Map<string, number>();
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const ch = String.fromCodePoint(printable(b) ? b : 256 + extra++);
    byteToChar[b] = ch;
    charToByte.set(ch, b);
  }
  return { byteToChar, charToByte };
}

export class Gpt2Tokenizer implements Tokenizer {
  readonly #encoder: Map<string, number>;
  readonly #decoder: string[];
  readonly #ranks: Map<string, number>;
  readonly #byteToChar: string[];
  readonly #charToByte: Map<string, number>;
  readonly #cache = new Map<string, number[]>();
  readonly eotId: number | undefined;

  private constructor(encoder: Map<string, number>, ranks: Map<string, number>) {
    this.#encoder = encoder;
    this.#ranks = ranks;
    this.#decoder = [];
    for (const [tok, id] of encoder) this.#decoder[id] = tok;
    const { byteToChar, charToByte } = byteTables();
    this.#byteToChar = byteToChar;
    this.#charToByte = charToByte;
    this.eotId = encoder.get('<|endoftext|>');
  }

  /** encoderJson: the text of encoder.json / vocab.json; merges: the text of vocab.bpe / merges.txt. */
  static fromFiles(encoderJson: string, merges: string, source = 'GPT-2 tokenizer'): Gpt2Tokenizer {
    let raw: unknown;
    try {
      raw = JSON.parse(encoderJson);
    } catch (err) {
      throw new Error(`${source}: encoder.json is not valid JSON (${(err as Error).message})`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${source}: encoder.json must map token strings to ids`);
    const encoder = new Map<string, number>();
    const seen = new Set<number>();
    for (const [tok, id] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new Error(`${source}: token ${JSON.stringify(tok)} has invalid id ${JSON.stringify(id)}`);
      if (seen.has(id)) throw new Error(`${source}: id ${id} is assigned twice`);
      seen.add(id);
      encoder.set(tok, id);
    }
    const ranks = new Map<string, number>();
    const lines = merges.split('\n');
    let rank = 0;
    lines.forEach((line, i) => {
      const text = line.replace(/\r$/, '');
      if ((i === 0 && text.startsWith('#version')) || text === '') return;
      const parts = text.split(' ');
      if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error(`${source}: merges line ${i + 1} is not "a b": ${JSON.stringify(text)}`);
      const key = `${parts[0]} ${parts[1]}`;
      if (!ranks.has(key)) ranks.set(key, rank);
      rank++;
    });
    return new Gpt2Tokenizer(encoder, ranks);
  }

  get vocabSize(): number {
    return this.#decoder.length;
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    const utf8 = new TextEncoder();
    for (const m of text.matchAll(PRETOKENIZE)) {
      const piece = m[0];
      let cached = this.#cache.get(piece);
      if (!cached) {
        const chars = Array.from(utf8.encode(piece), (b) => this.#byteToChar[b]);
        cached = this.#bpe(chars).map((tok) => {
          const id = this.#encoder.get(tok);
          if (id === undefined) throw new Error(`GPT-2 tokenizer: BPE produced ${JSON.stringify(tok)}, which is not in the vocabulary`);
          return id;
        });
        if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
        this.#cache.set(piece, cached);
      }
      for (const id of cached) ids.push(id);
    }
    return ids;
  }

  /**
   * Merges the lowest-ranked adjacent pair, leftmost first, until no pair has a rank. For a merges table in which
   * every merge's parts were created by earlier merges (as BPE training produces), this equals GPT-2's loop
   * "merge every occurrence of the best pair, left to right", since no merge can create a pair ranked before it.
   */
  #bpe(symbols: string[]): string[] {
    return mergePairs(symbols, (a, b) => {
      const rank = this.#ranks.get(`${a} ${b}`);
      return rank === undefined ? undefined : { priority: rank, merged: a + b };
    });
  }

  /** Token ids -> text; byte sequences that are not valid UTF-8 become U+FFFD (as errors="replace"). */
  decode(ids: readonly number[]): string {
    const bytes: number[] = [];
    for (const id of ids) {
      const tok = this.#decoder[id];
      if (tok === undefined) throw new Error(`GPT-2 tokenizer: unknown token id ${id}`);
      for (const ch of tok) {
        const b = this.#charToByte.get(ch);
        if (b === undefined) throw new Error(`GPT-2 tokenizer: token ${id} contains ${JSON.stringify(ch)}, which is not a byte character`);
        bytes.push(b);
      }
    }
    return new TextDecoder('utf-8').decode(new Uint8Array(bytes));
  }
}
