/** What every tokenizer of this package offers. */
export interface Tokenizer {
  /** Number of token ids (the model's vocabulary size). */
  readonly vocabSize: number;
  /** Text -> ids, without any special tokens (BOS, [CLS], ...); see each tokenizer for adding them. */
  encode(text: string): number[];
  /** Ids -> text. */
  decode(ids: readonly number[]): string;
}

/** An encoder's input: [CLS] a [SEP] (b [SEP]) for BERT. */
export interface BertInput {
  /** [CLS] a [SEP] (b [SEP]) */
  readonly ids: number[];
  /** 0 for [CLS], a and its [SEP]; 1 for b and its [SEP]. */
  readonly typeIds: number[];
}

/** Tokenizers that build an encoder's full input (special tokens, segment ids, truncation). */
export interface ModelInputTokenizer extends Tokenizer {
  /** Truncated to maxLength one token at a time from the end of the longer segment, the pair's on a tie. */
  encodeForModel(text: string, textPair?: string, maxLength?: number): BertInput;
}

/** True for tokenizers that can build a classifier's input: WordPiece vocab.txt and tokenizer.json ones. */
export function buildsModelInput(t: Tokenizer | null | undefined): t is ModelInputTokenizer {
  return typeof (t as Partial<ModelInputTokenizer> | null | undefined)?.encodeForModel === 'function';
}
