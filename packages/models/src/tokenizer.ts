/** What every tokenizer of this package offers. */
export interface Tokenizer {
  /** Number of token ids (the model's vocabulary size). */
  readonly vocabSize: number;
  /** Text -> ids, without any special tokens (BOS, [CLS], ...); see each tokenizer for adding them. */
  encode(text: string): number[];
  /** Ids -> text. */
  decode(ids: readonly number[]): string;
}
