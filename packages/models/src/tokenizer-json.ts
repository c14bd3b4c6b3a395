/**
 * Hugging Face tokenizer.json (with its tokenizer_config.json) through @huggingface/tokenizers: LLaMA's
 * SentencePiece-BPE with byte fallback, GPT-2's byte-level BPE, BERT's WordPiece and whatever else that library
 * reads. This file checks the documents' structure first, so a malformed file fails here naming the file and the
 * field, instead of deep inside the library or, worse, as silently wrong ids.
 *
 * As transformers does, added tokens written in the text (<s>, <|endoftext|>, [MASK], <|im_start|>) are
 * recognized as those tokens; `encode` adds no tokens of its own (BOS, [CLS]...), `encodeWithSpecialTokens` does
 * (the post-processor's template). `decode` leaves special tokens out.
 */
import { Tokenizer as HfLibraryTokenizer } from '@huggingface/tokenizers';
import { chatTemplateOfFile, type ChatTemplateFile } from './chat-template.ts';
import type { BertInput, ModelInputTokenizer } from './tokenizer.ts';

type Json = Record<string, unknown>;

const COMPONENTS = ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const;
/**
 * The library drops a piece a BPE model without unk_token cannot cover; given this (absent) unk token instead,
 * such a piece reaches `encode` as an id-less token, which is then refused rather than silently lost.
 */
const UNCOVERED = '\u0000uncovered\u0000';
const MODEL_TYPES = ['BPE', 'WordPiece', 'Unigram'];

function parseObject(text: string, source: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${source}: must be a JSON object`);
  return value as Json;
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Checks model.vocab / merges / added_tokens; returns every id -> token (holes allowed). */
function checkDocument(doc: Json, source: string): Map<number, string> {
  const model = doc.model;
  if (typeof model !== 'object' || model === null || Array.isArray(model)) throw new Error(`${source}: "model" is missing or not an object`);
  const m = model as Json;
  if (m.type !== undefined && !MODEL_TYPES.includes(m.type as string)) {
    throw new Error(`${source}: model type ${JSON.stringify(m.type)} is not supported (${MODEL_TYPES.join(', ')})`);
  }
  const tokens = new Map<number, string>();
  const claim = (id: number, token: string, where: string) => {
    const had = tokens.get(id);
    if (had !== undefined && had !== token) throw new Error(`${source}: id ${id} is both ${JSON.stringify(had)} and ${JSON.stringify(token)} (${where})`);
    tokens.set(id, token);
  };
  if (m.type === 'Unigram' || Array.isArray(m.vocab)) {
    if (!Array.isArray(m.vocab)) throw new Error(`${source}: Unigram model.vocab must be a list of [piece, score]`);
    m.vocab.forEach((entry, id) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') {
        throw new Error(`${source}: model.vocab[${id}] is not [piece, score]: ${JSON.stringify(entry)}`);
      }
      claim(id, entry[0], 'model.vocab');
    });
  } else {
    if (typeof m.vocab !== 'object' || m.vocab === null) throw new Error(`${source}: model.vocab is missing or not an object of token -> id`);
    for (const [token, id] of Object.entries(m.vocab as Json)) {
      if (!isId(id)) throw new Error(`${source}: model.vocab token ${JSON.stringify(token)} has invalid id ${JSON.stringify(id)}`);
      claim(id, token, 'model.vocab');
    }
  }
  if (m.type === 'BPE' || m.merges !== undefined) {
    if (!Array.isArray(m.merges)) throw new Error(`${source}: BPE model.merges is missing or not a list`);
    const vocab = m.vocab as Json;
    m.merges.forEach((merge, i) => {
      const parts = typeof merge === 'string' ? merge.split(' ') : merge;
      if (!Array.isArray(parts) || parts.length !== 2 || parts.some((p) => typeof p !== 'string' || p === '')) {
        throw new Error(`${source}: model.merges[${i}] is not a pair of tokens: ${JSON.stringify(merge)}`);
      }
      for (const p of parts as string[]) if (!Object.hasOwn(vocab, p)) throw new Error(`${source}: model.merges[${i}] uses ${JSON.stringify(p)}, which is not in model.vocab`);
    });
  }
  const added = doc.added_tokens ?? [];
  if (!Array.isArray(added)) throw new Error(`${source}: "added_tokens" must be a list`);
  added.forEach((t, i) => {
    const entry = t as Json;
    if (typeof t !== 'object' || t === null || !isId(entry.id) || typeof entry.content !== 'string' || entry.content === '') {
      throw new Error(`${source}: added_tokens[${i}] needs an integer "id" and a non-empty "content": ${JSON.stringify(t)}`);
    }
    claim(entry.id, entry.content, `added_tokens[${i}]`);
  });
  for (const key of COMPONENTS) {
    const v = doc[key];
    if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v))) throw new Error(`${source}: "${key}" must be an object or null`);
  }
  return tokens;
}

/** A special token's text from tokenizer_config.json: a string or an AddedToken object { content }. */
function tokenText(config: Json, key: string): string | undefined {
  const v = config[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

export class HfTokenizer implements ModelInputTokenizer {
  readonly #lib: HfLibraryTokenizer;
  readonly #tokens: Map<number, string>;
  readonly #source: string;
  /**
   * The parsed tokenizer_config.json ({} when there is none), its "chat_template" replaced by a separate
   * chat template file's when the folder has one (transformers gives that file priority).
   */
  readonly tokenizerConfig: Readonly<Json>;
  /** The separate chat template file the config's "chat_template" came from (its source), if any. */
  readonly chatTemplateFile?: string;
  readonly vocabSize: number;
  /** "BPE", "WordPiece" or "Unigram". */
  readonly modelType: string;

  private constructor(lib: HfLibraryTokenizer, tokens: Map<number, string>, config: Json, modelType: string, source: string, chatTemplateFile?: string) {
    this.#lib = lib;
    this.chatTemplateFile = chatTemplateFile;
    this.#tokens = tokens;
    this.#source = source;
    this.tokenizerConfig = config;
    this.modelType = modelType;
    this.vocabSize = Math.max(-1, ...tokens.keys()) + 1;
  }

  /**
   * tokenizerJson: the text of tokenizer.json; configJson: the text of tokenizer_config.json, if the folder has
   * one; chatTemplate: the folder's chat_template.jinja or chat_template.json, if it has one.
   */
  static fromJson(tokenizerJson: string, configJson?: string, source = 'tokenizer.json', configSource = 'tokenizer_config.json', chatTemplate?: ChatTemplateFile): HfTokenizer {
    const doc = parseObject(tokenizerJson, source);
    const tokens = checkDocument(doc, source);
    const fileConfig = configJson === undefined ? {} : parseObject(configJson, configSource);
    const config = chatTemplate ? { ...fileConfig, chat_template: chatTemplateOfFile(chatTemplate) } : fileConfig;
    // Exact round trips unless the folder asks for transformers' space clean-up (" ." -> ".") explicitly.
    const libConfig = { ...config, clean_up_tokenization_spaces: config.clean_up_tokenization_spaces === true };
    const model = doc.model as Json;
    const complete: Json = { added_tokens: [], ...doc, model: model.unk_token == null && !Array.isArray(model.vocab) ? { ...model, unk_token: UNCOVERED } : model };
    for (const key of COMPONENTS) complete[key] ??= null;
    let lib: HfLibraryTokenizer;
    try {
      lib = new HfLibraryTokenizer(complete, libConfig);
    } catch (err) {
      throw new Error(`${source}: ${(err as Error).message}`);
    }
    const modelType = typeof model.type === 'string' ? model.type : Array.isArray(model.vocab) ? 'Unigram' : model.merges ? 'BPE' : 'WordPiece';
    return new HfTokenizer(lib, tokens, config, modelType, source, chatTemplate?.source);
  }

  /** Text -> ids with no BOS/[CLS]/... added (added tokens written in the text are recognized). */
  encode(text: string): number[] {
    return this.#ids(text, false);
  }

  /** Text (and an optional second segment) -> ids with the post-processor's special tokens, as the model was trained. */
  encodeWithSpecialTokens(text: string, pair?: string): number[] {
    return this.#ids(text, true, pair);
  }

  /**
   * An encoder's input: the post-processor's template (BERT: [CLS] a [SEP] b [SEP]) with its segment ids, the
   * segments truncated so the whole fits maxLength, one token at a time from the end of the longer segment, the
   * pair's on a tie (transformers' "longest_first").
   */
  encodeForModel(text: string, textPair?: string, maxLength = 512): BertInput {
    const a = this.#lib.tokenize(text);
    const b = textPair === undefined ? null : this.#lib.tokenize(textPair);
    const template = (x: string[], y: string[] | null) => (this.#lib.post_processor ? this.#lib.post_processor(x, y, true) : { tokens: [...x, ...(y ?? [])], token_type_ids: undefined });
    const budget = maxLength - template([], b && []).tokens.length;
    if (budget < 0) throw new Error(`maxLength ${maxLength} leaves no room for the special tokens`);
    while (a.length + (b?.length ?? 0) > budget) {
      if (!b || a.length > b.length) a.pop();
      else b.pop();
    }
    const { tokens, token_type_ids } = template(a, b);
    const ids = tokens.map((t) => this.tokenToId(t));
    if (ids.some((id) => id === undefined)) throw new Error(`${this.#source}: the input has characters the vocabulary does not cover, and the model has no unk_token`);
    return { ids: ids as number[], typeIds: token_type_ids ?? ids.map(() => 0) };
  }

  /** Ids -> text, special tokens left out. */
  decode(ids: readonly number[]): string {
    for (const id of ids) {
      if (!this.#tokens.has(id)) throw new Error(`${this.#source}: unknown token id ${id}`);
    }
    if (ids.length === 0) return '';
    return this.#lib.decode([...ids], { skip_special_tokens: true });
  }

  tokenToId(token: string): number | undefined {
    return this.#lib.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.#tokens.get(id);
  }

  /** The text and id of a special token named in tokenizer_config.json ("bos_token", "eos_token", ...). */
  specialToken(key: string): { text: string; id: number } | undefined {
    const text = tokenText(this.tokenizerConfig as Json, key);
    if (text === undefined) return undefined;
    const id = this.tokenToId(text);
    if (id === undefined) throw new Error(`${this.#source}: tokenizer_config.json's ${key} ${JSON.stringify(text)} is not a token of tokenizer.json`);
    return { text, id };
  }

  #ids(text: string, special: boolean, pair?: string): number[] {
    const enc = this.#lib.encode(text, { add_special_tokens: special, text_pair: pair ?? null });
    if (enc.ids.some((id) => id === undefined)) {
      throw new Error(`${this.#source}: ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text)} has characters the vocabulary does not cover, and the model has no unk_token`);
    }
    return enc.ids;
  }
}
