/**
 * Incremental decoding for causal LMs (GPT-2, LLaMA) with a KV cache: `prefill` runs a prompt (or any chunk)
 * through the model, `step` one token; both append to the cache and return the logits of the last position.
 */
import { createCache, forwardHidden, type LayerCache } from './forward.ts';
import { lastRow, lmLogits } from './heads.ts';
import type { Model } from './types.ts';

export class DecoderSession {
  readonly #model: Model;
  readonly #cache: LayerCache[];
  readonly #capacity: number;
  #length = 0;

  /** `maxLength` bounds the cache (default: the model's maxPositions). */
  constructor(model: Model, maxLength = model.config.maxPositions) {
    if (!model.config.causal || model.weights.head.kind !== 'lm') {
      throw new Error(`DecoderSession needs a causal LM; got ${model.config.arch} with a ${model.weights.head.kind} head`);
    }
    if (!Number.isInteger(maxLength) || maxLength <= 0 || maxLength > model.config.maxPositions) {
      throw new Error(`maxLength ${maxLength} must be an integer in [1, ${model.config.maxPositions}]`);
    }
    this.#model = model;
    this.#capacity = maxLength;
    this.#cache = createCache(model.config, maxLength);
  }

  get model(): Model {
    return this.#model;
  }

  /** Tokens processed so far (= the position of the next token). */
  get length(): number {
    return this.#length;
  }

  /** Appends tokens and returns the final hidden states of those positions [ids.length, hidden]. */
  append(ids: readonly number[]): Float64Array {
    if (this.#length + ids.length > this.#capacity) {
      throw new Error(`sequence of ${this.#length + ids.length} tokens exceeds this session's ${this.#capacity} positions`);
    }
    const hidden = forwardHidden(this.#model, ids, { startPos: this.#length, cache: this.#cache });
    this.#length += ids.length;
    return hidden;
  }

  /** Appends the tokens; logits [vocab] of the last one. */
  prefill(ids: readonly number[]): Float64Array {
    return lmLogits(this.#model, lastRow(this.append(ids), ids.length), 1);
  }

  step(id: number): Float64Array {
    return this.prefill([id]);
  }

  /** Forgets the sequence (the cache is overwritten from position 0). */
  reset(): void {
    this.#length = 0;
  }
}
