/**
 * What a loader needs from a weights file: named tensors with their header entries, converted to float32 on
 * demand. A single safetensors file (SafetensorsFile) and a sharded checkpoint (ShardedSafetensors) both
 * provide it, so every Hugging Face loader reads either.
 */
import type { SafetensorsEntry } from './safetensors.ts';
import type { Tensor } from './types.ts';

export interface TensorFile {
  /** Names the file (or the index of a sharded checkpoint) in error messages. */
  readonly source: string;
  names(): string[];
  has(name: string): boolean;
  entry(name: string): SafetensorsEntry;
  tensor(name: string): Tensor;
  /** The file that holds `name` (the shard, for a sharded checkpoint), for error messages. */
  sourceOf?(name: string): string;
}
