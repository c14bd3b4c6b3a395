/**
 * Replicated secret shares (ABY3). Party i holds components (x_i, x_{i+1 mod 3}) of x = x0 + x1 + x2
 * (arithmetic, mod 2^64) or x = x0 ^ x1 ^ x2 (boolean). `s0` is component i, `s1` is component i+1.
 */
import type { Buf } from '@puma/backend';
import { sizeOf } from '@puma/ring';

export interface AShare {
  readonly kind: 'A';
  readonly shape: readonly number[];
  readonly s0: Buf;
  readonly s1: Buf;
}

/**
 * Boolean shares of `n` elements in bit-sliced form: `planes` planes of W = ceil(n / 64) words each, plane j
 * holding bit j of every element (layout of Backend.toBitPlanes). A comparison result is one plane.
 */
export interface BShare {
  readonly kind: 'B';
  readonly n: number;
  readonly planes: number;
  readonly s0: Buf;
  readonly s1: Buf;
}

export function aShare(shape: readonly number[], s0: Buf, s1: Buf): AShare {
  const n = sizeOf(shape);
  if (s0.length !== n || s1.length !== n) throw new Error(`share of shape [${shape.join(', ')}] needs ${n} elements, got ${s0.length}/${s1.length}`);
  return { kind: 'A', shape: [...shape], s0, s1 };
}

export function bShare(n: number, planes: number, s0: Buf, s1: Buf): BShare {
  const words = planeWords(n) * planes;
  if (s0.length !== words || s1.length !== words) throw new Error(`boolean share of ${n} elements x ${planes} planes needs ${words} words`);
  return { kind: 'B', n, planes, s0, s1 };
}

export function planeWords(n: number): number {
  return Math.ceil(n / 64);
}

export function numel(x: AShare): number {
  return x.s0.length;
}

export function sameShape(a: AShare, b: AShare, op: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${op}: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  }
}
