/**
 * Loader-side access to a safetensors file: every read checks the expected shape and is recorded, so a loader
 * can report which tensors of the file it did not use (buffers such as GPT-2's causal masks, or heads it does
 * not model).
 */
import type { TensorFile } from './tensor-file.ts';
import { formatShape, shapeEquals, transpose2d } from './tensor.ts';
import type { Linear, Norm, Tensor } from './types.ts';

export class TensorSource {
  readonly #file: TensorFile;
  readonly #used = new Set<string>();

  constructor(file: TensorFile) {
    this.#file = file;
  }

  get source(): string {
    return this.#file.source;
  }

  has(name: string): boolean {
    return this.#file.has(name);
  }

  /** The tensor, which must exist and have exactly `shape`. */
  get(name: string, shape: readonly number[]): Tensor {
    if (!this.#file.has(name)) throw new Error(`${this.source}: missing tensor "${name}" (expected shape ${formatShape(shape)})`);
    const e = this.#file.entry(name);
    if (!shapeEquals(e.shape, shape)) {
      throw new Error(`${this.#file.sourceOf?.(name) ?? this.source}: tensor "${name}" has shape ${formatShape(e.shape)}, expected ${formatShape(shape)}`);
    }
    this.#used.add(name);
    return this.#file.tensor(name);
  }

  optional(name: string, shape: readonly number[]): Tensor | undefined {
    return this.#file.has(name) ? this.get(name, shape) : undefined;
  }

  /** The first of `names` that exists (for aliases such as LayerNorm weight/gamma). */
  firstOf(names: readonly string[], shape: readonly number[]): Tensor {
    const name = names.find((n) => this.#file.has(n));
    if (name === undefined) {
      throw new Error(`${this.source}: missing tensor "${names[0]}" (expected shape ${formatShape(shape)}; also tried ${names.slice(1).map((n) => `"${n}"`).join(', ')})`);
    }
    return this.get(name, shape);
  }

  /** A PyTorch nn.Linear ([out, in] weight), returned in the [in, out] layout. */
  torchLinear(prefix: string, inDim: number, outDim: number, bias = true): Linear {
    const w = this.get(`${prefix}.weight`, [outDim, inDim]);
    return {
      weight: transpose2d(w, `${prefix}.weight`),
      bias: bias ? this.get(`${prefix}.bias`, [outDim]) : undefined,
    };
  }

  /** A LayerNorm under either naming: .weight/.bias (current) or .gamma/.beta (TF-converted checkpoints). */
  layerNorm(prefix: string, dim: number, eps: number): Norm {
    return {
      kind: 'layernorm',
      scale: this.firstOf([`${prefix}.weight`, `${prefix}.gamma`], [dim]),
      bias: this.firstOf([`${prefix}.bias`, `${prefix}.beta`], [dim]),
      eps,
    };
  }

  unused(): string[] {
    return this.#file.names().filter((n) => !this.#used.has(n));
  }
}
