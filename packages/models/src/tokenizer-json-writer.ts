/**
 * Writes Hugging Face tokenizer.json (+ tokenizer_config.json) documents from the legacy tokenizer files, so that
 * folders this project produces (and test fixtures) carry the ecosystem's format:
 * - llama2.c tokenizer.bin -> SentencePiece-style BPE with byte fallback: "▁" for spaces, a "▁" prepended to the
 *   text, merges derived from the scores (every split of a piece into two vocabulary pieces is a merge, ranked by
 *   the merged piece's score, highest first, so that lowest-rank-first BPE merges exactly the pairs SentencePiece's
 *   score-ordered BPE merges), "<0xXX>" byte tokens, and <s> added in front by the post-processor;
 * - GPT-2 vocab.json + merges.txt -> byte-level BPE (GPT-2's pre-tokenization regex and byte table);
 * - BERT vocab.txt -> WordPiece with BERT's normalizer, pre-tokenizer and [CLS] ... [SEP] template.
 * The documents follow the layout the `tokenizers` library serializes (model, normalizer, pre_tokenizer,
 * post_processor, decoder, added_tokens), so other readers load them too.
 */
import { Gpt2Tokenizer } from './tokenizer-gpt2.ts';
import { LLAMA_BOS, LLAMA_EOS, Llama2cTokenizer } from './tokenizer-llama2c.ts';
import { WordPieceTokenizer } from './tokenizer-wordpiece.ts';

export type JsonDocument = Record<string, unknown>;

/** tokenizer.json and tokenizer_config.json as objects (write them with JSON.stringify). */
export interface TokenizerDocuments {
  readonly tokenizer: JsonDocument;
  readonly config: JsonDocument;
}

const METASPACE = '\u2581';
const BYTE_TOKENS = 256;
/** llama2.c's ids for <unk>, <s>, </s> and its spellings of them in tokenizer.bin. */
const LLAMA_SPECIALS: ReadonlyArray<[id: number, legacy: string, content: string]> = [
  [0, '<unk>', '<unk>'],
  [LLAMA_BOS, '\n<s>\n', '<s>'],
  [LLAMA_EOS, '\n</s>\n', '</s>'],
];

function addedToken(id: number, content: string, normalized: boolean): JsonDocument {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized, special: true };
}

function specialTemplate(token: string, id: number): JsonDocument {
  return { id: token, ids: [id], tokens: [token] };
}

/** llama2.c tokenizer.bin -> SentencePiece-BPE tokenizer.json with byte fallback (as LLaMA's own). */
export function llamaTokenizerJson(tok: Llama2cTokenizer, source = 'tokenizer.bin'): TokenizerDocuments {
  const strict = new TextDecoder('utf-8', { fatal: true });
  const vocab = new Map<string, number>();
  const normal: boolean[] = [];
  for (let id = 0; id < tok.vocabSize; id++) {
    const raw = tok.pieceBytes(id);
    const special = LLAMA_SPECIALS.find(([sid]) => sid === id);
    let content: string;
    if (special) {
      if (strict.decode(raw) !== special[1]) throw new Error(`${source}: token ${id} is ${JSON.stringify(strict.decode(raw))}, expected llama2.c's ${JSON.stringify(special[1])}`);
      content = special[2];
    } else {
      try {
        content = strict.decode(raw).replaceAll(' ', METASPACE);
      } catch {
        throw new Error(`${source}: token ${id} is not valid UTF-8, so it cannot be a tokenizer.json vocabulary entry`);
      }
    }
    if (vocab.has(content)) throw new Error(`${source}: tokens ${vocab.get(content)} and ${id} are both ${JSON.stringify(content)}`);
    vocab.set(content, id);
    normal.push(id >= LLAMA_SPECIALS.length + BYTE_TOKENS);
  }
  const isNormal = (piece: string) => {
    const id = vocab.get(piece);
    return id !== undefined && normal[id];
  };
  const merges: Array<{ left: string; right: string; score: number; leftId: number; rightId: number }> = [];
  for (const [piece, id] of vocab) {
    if (!normal[id]) continue;
    const chars = Array.from(piece);
    for (let k = 1; k < chars.length; k++) {
      const left = chars.slice(0, k).join('');
      const right = chars.slice(k).join('');
      if (isNormal(left) && isNormal(right)) merges.push({ left, right, score: tok.score(id), leftId: vocab.get(left)!, rightId: vocab.get(right)! });
    }
  }
  merges.sort((a, b) => b.score - a.score || a.leftId - b.leftId || a.rightId - b.rightId);

  const tokenizer: JsonDocument = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: LLAMA_SPECIALS.map(([id, , content]) => addedToken(id, content, false)),
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: METASPACE },
        { type: 'Replace', pattern: { String: ' ' }, content: METASPACE },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': specialTemplate('<s>', LLAMA_BOS) },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: METASPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges: merges.map((m) => [m.left, m.right]),
    },
  };
  const config: JsonDocument = {
    tokenizer_class: 'LlamaTokenizer',
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
  };
  return { tokenizer, config };
}

/** GPT-2 vocab.json (encoder.json) + merges.txt (vocab.bpe) texts -> byte-level BPE tokenizer.json. */
export function gpt2TokenizerJson(encoderJson: string, mergesText: string, source = 'vocab.json'): TokenizerDocuments {
  const checked = Gpt2Tokenizer.fromFiles(encoderJson, mergesText, source);
  const vocab = JSON.parse(encoderJson) as Record<string, number>;
  const merges = mergesText
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l, i) => l !== '' && !(i === 0 && l.startsWith('#version')))
    .map((l) => l.split(' '));
  const eot = checked.eotId;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer: JsonDocument = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: eot === undefined ? [] : [addedToken(eot, '<|endoftext|>', true)],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  const special = eot === undefined ? {} : { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' };
  const config: JsonDocument = { tokenizer_class: 'GPT2Tokenizer', ...special, add_prefix_space: false, clean_up_tokenization_spaces: false };
  return { tokenizer, config };
}

/** BERT vocab.txt text -> WordPiece tokenizer.json; `lowercase` as the model was trained (uncased: true). */
export function bertTokenizerJson(vocabText: string, lowercase = true, source = 'vocab.txt'): TokenizerDocuments {
  const checked = WordPieceTokenizer.fromVocab(vocabText, { lowercase }, source);
  const vocab: Record<string, number> = {};
  for (let id = 0; id < checked.vocabSize; id++) {
    const token = checked.tokenOf(id);
    if (!(token in vocab)) vocab[token] = id;
  }
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter((t) => t in vocab);
  const [cls, sep] = [checked.clsId, checked.sepId];
  const tokenizer: JsonDocument = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((t) => addedToken(vocab[t], t, false)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: { '[CLS]': specialTemplate('[CLS]', cls), '[SEP]': specialTemplate('[SEP]', sep) },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  const config: JsonDocument = {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: lowercase,
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    unk_token: '[UNK]',
    ...(checked.padId === undefined ? {} : { pad_token: '[PAD]' }),
    ...(checked.maskId === undefined ? {} : { mask_token: '[MASK]' }),
    clean_up_tokenization_spaces: true,
  };
  return { tokenizer, config };
}

/** Parses llama2.c tokenizer.bin bytes and converts them (a convenience for scripts and tests). */
export function llamaTokenizerJsonFromBin(bin: Uint8Array, vocabSize?: number, source = 'tokenizer.bin'): TokenizerDocuments {
  return llamaTokenizerJson(Llama2cTokenizer.fromBytes(bin, vocabSize, source), source);
}
