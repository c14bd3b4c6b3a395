/**
 * Local operations on replicated shares: no communication (0 rounds, 0 bytes).
 * Linear maps apply to both components. A public constant is added to component 0 only, which party 0
 * holds as s0 and party 2 holds as s1, so the sum gains the constant exactly once.
 */
import type { Buf } from '@puma/backend';
import { encodeFixed, encodeFixedScalar, sizeOf } from '@puma/ring';
import type { Party } from '../party.ts';
import { aShare, sameShape, type AShare } from '../share.ts';
import { cost, type Cost } from '../cost.ts';

export const linearCost = (): Cost => cost(0, 0, 0, 0);

function both(x: AShare, shape: readonly number[], f: (b: Buf) => Buf): AShare {
  return aShare(shape, f(x.s0), f(x.s1));
}

export function add(p: Party, x: AShare, y: AShare): AShare {
  sameShape(x, y, 'add');
  return aShare(x.shape, p.backend.add(x.s0, y.s0), p.backend.add(x.s1, y.s1));
}

export function sub(p: Party, x: AShare, y: AShare): AShare {
  sameShape(x, y, 'sub');
  return aShare(x.shape, p.backend.sub(x.s0, y.s0), p.backend.sub(x.s1, y.s1));
}

export function neg(p: Party, x: AShare): AShare {
  return both(x, x.shape, (b) => p.backend.neg(b));
}

/** x + c for a public ring vector c (raw ring elements, same length) or a public ring scalar. */
export function addPublicRaw(p: Party, x: AShare, c: BigUint64Array | bigint): AShare {
  const be = p.backend;
  const apply = (b: Buf): Buf => (typeof c === 'bigint' ? be.addScalar(b, c) : be.add(b, be.upload(c)));
  if (typeof c !== 'bigint' && c.length !== x.s0.length) throw new Error(`addPublic: constant has ${c.length} elements, share has ${x.s0.length}`);
  if (p.id === 0) return aShare(x.shape, apply(x.s0), x.s1);
  if (p.id === 2) return aShare(x.shape, x.s0, apply(x.s1));
  return x;
}

/** x + c for public reals c (encoded with the session's fraction bits). */
export function addPublic(p: Party, x: AShare, c: number | ArrayLike<number>): AShare {
  return addPublicRaw(p, x, typeof c === 'number' ? encodeFixedScalar(c, p.fracBits) : encodeFixed(c, p.fracBits, 'public constant'));
}

/** x - c for public reals c (negated in a typed loop: Array.from with a map took about 0.4 s of each party's GPT-2-base prompt pass). */
export function subPublic(p: Party, x: AShare, c: number | ArrayLike<number>): AShare {
  if (typeof c === 'number') return addPublic(p, x, -c);
  const negC = new Float64Array(c.length);
  for (let i = 0; i < negC.length; i++) negC[i] = -c[i];
  return addPublic(p, x, negC);
}

/** c - x for public reals c. */
export function rsubPublic(p: Party, c: number | ArrayLike<number>, x: AShare): AShare {
  return addPublic(p, neg(p, x), c);
}

/** x * k for a public integer (ring) scalar: exact, no truncation needed. */
export function mulPublicInt(p: Party, x: AShare, k: bigint | number): AShare {
  const s = BigInt.asUintN(64, BigInt(k));
  return both(x, x.shape, (b) => p.backend.mulScalar(b, s));
}

/** x * c elementwise for a public ring vector c, no truncation (for integer c such as 0/1 masks). */
export function mulPublicRawVec(p: Party, x: AShare, c: BigUint64Array): AShare {
  if (c.length !== x.s0.length) throw new Error(`mulPublicRawVec: constant has ${c.length} elements, share has ${x.s0.length}`);
  const cb = p.backend.upload(c);
  return both(x, x.shape, (b) => p.backend.mul(b, cb));
}

/** A public value as a share: only component 0 holds it. */
export function publicShare(p: Party, shape: readonly number[], raw: BigUint64Array | bigint): AShare {
  const n = sizeOf(shape);
  const zero = p.backend.zeros(n);
  return addPublicRaw(p, aShare(shape, zero, zero), raw);
}

export function reshape(x: AShare, shape: readonly number[]): AShare {
  if (sizeOf(shape) !== x.s0.length) throw new Error(`reshape: [${x.shape.join(', ')}] cannot become [${shape.join(', ')}]`);
  return aShare(shape, x.s0, x.s1);
}

function rowsCols(x: AShare, op: string): [number, number] {
  if (x.shape.length < 1) throw new Error(`${op}: needs at least one axis`);
  const cols = x.shape[x.shape.length - 1];
  return [cols === 0 ? 0 : x.s0.length / cols, cols];
}

/** Sum over the last axis. */
export function sumLast(p: Party, x: AShare): AShare {
  const [rows, cols] = rowsCols(x, 'sumLast');
  return both(x, x.shape.slice(0, -1), (b) => p.backend.sumRows(b, rows, cols));
}

/** Columns [start, start + count) of the last axis. */
export function sliceLast(p: Party, x: AShare, start: number, count: number): AShare {
  const [rows, cols] = rowsCols(x, 'sliceLast');
  return both(x, [...x.shape.slice(0, -1), count], (b) => p.backend.sliceCols(b, rows, cols, start, count));
}

/** Concatenation along the last axis. */
export function concatLast(p: Party, x: AShare, y: AShare): AShare {
  const [rows, cx] = rowsCols(x, 'concatLast');
  const [rowsY, cy] = rowsCols(y, 'concatLast');
  if (rows !== rowsY) throw new Error(`concatLast: ${rows} rows vs ${rowsY} rows`);
  const be = p.backend;
  return aShare([...x.shape.slice(0, -1), cx + cy], be.concatCols(x.s0, cx, y.s0, cy, rows), be.concatCols(x.s1, cx, y.s1, cy, rows));
}

/** Flat concatenation of several shares into one vector (to batch independent work into one round). */
export function concatFlat(p: Party, xs: AShare[]): AShare {
  const n = xs.reduce((s, x) => s + x.s0.length, 0);
  return aShare([n], p.backend.concat(xs.map((x) => x.s0)), p.backend.concat(xs.map((x) => x.s1)));
}

/** Splits a flat share back into pieces of the given shapes (inverse of concatFlat). */
export function splitFlat(p: Party, x: AShare, shapes: ReadonlyArray<readonly number[]>): AShare[] {
  let o = 0;
  return shapes.map((shape) => {
    const n = sizeOf(shape);
    const part = aShare(shape, p.backend.slice(x.s0, o, n), p.backend.slice(x.s1, o, n));
    o += n;
    return part;
  });
}

/** Each element repeated `times` along a new last axis: [..] -> [.., times]. */
export function broadcastLast(p: Party, x: AShare, times: number): AShare {
  return both(x, [...x.shape, times], (b) => p.backend.repeatEach(b, times));
}

/** The whole tensor repeated `times` along a new leading axis: [..] -> [times, ..]. */
export function tileLeading(p: Party, x: AShare, times: number): AShare {
  return both(x, [times, ...x.shape], (b) => p.backend.tile(b, times));
}

export function transpose(p: Party, x: AShare, perm: readonly number[]): AShare {
  return both(x, perm.map((i) => x.shape[i]), (b) => p.backend.transpose(b, x.shape, perm));
}

export function sliceFlat(p: Party, x: AShare, start: number, shape: readonly number[]): AShare {
  const n = sizeOf(shape);
  return aShare(shape, p.backend.slice(x.s0, start, n), p.backend.slice(x.s1, start, n));
}
