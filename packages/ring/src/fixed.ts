/**
 * Fixed-point encoding into Z_2^64: a real x becomes round(x * 2^f) as a two's-complement u64.
 * Encoding saturates to [-2^62, 2^62 - 1] so that sums of a few saturated values cannot wrap, and
 * rejects NaN and infinities with an error naming the position.
 */
export const DEFAULT_FRAC_BITS = 18;
const LIMIT = 2 ** 62;
const TWO32 = 2 ** 32;
/** 2^62 - 1, which float64 cannot hold, so saturation writes it directly. */
const MAX_RAW = (1n << 62n) - 1n;

export function checkFracBits(f: number): void {
  if (!Number.isInteger(f) || f < 0 || f > 40) throw new Error(`fraction bits must be an integer in [0, 40], got ${f}`);
}

export function encodeFixedScalar(x: number, f = DEFAULT_FRAC_BITS): bigint {
  checkFracBits(f);
  if (!Number.isFinite(x)) throw new Error(`cannot encode ${x} as fixed point`);
  const v = Math.round(x * 2 ** f);
  if (v >= LIMIT) return MAX_RAW;
  return BigInt.asUintN(64, BigInt(Math.max(v, -LIMIT)));
}

export function decodeFixedScalar(v: bigint, f = DEFAULT_FRAC_BITS): number {
  return Number(BigInt.asIntN(64, v)) / 2 ** f;
}

/** Encodes a float array; avoids BigInt per element by writing the two 32-bit halves. */
export function encodeFixed(xs: ArrayLike<number>, f = DEFAULT_FRAC_BITS, what = 'value'): BigUint64Array {
  checkFracBits(f);
  const out = new BigUint64Array(xs.length);
  const words = new Uint32Array(out.buffer);
  const scale = 2 ** f;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    if (!Number.isFinite(x)) throw new Error(`cannot encode ${what}[${i}] = ${x} as fixed point`);
    let v = Math.round(x * scale);
    if (v >= LIMIT) {
      words[2 * i] = 0xffffffff;
      words[2 * i + 1] = 0x3fffffff;
      continue;
    }
    if (v < -LIMIT) v = -LIMIT;
    const hi = Math.floor(v / TWO32);
    words[2 * i] = (v - hi * TWO32) >>> 0;
    words[2 * i + 1] = hi >>> 0;
  }
  return out;
}

export function decodeFixed(vs: BigUint64Array, f = DEFAULT_FRAC_BITS): Float64Array {
  const out = new Float64Array(vs.length);
  const words = new Uint32Array(vs.buffer, vs.byteOffset, vs.length * 2);
  const scale = 2 ** -f;
  for (let i = 0; i < vs.length; i++) {
    const lo = words[2 * i];
    const hi = words[2 * i + 1] | 0;
    out[i] = (hi * TWO32 + lo) * scale;
  }
  return out;
}

/** Integers (token ids, counts) as ring elements, no scaling. */
export function encodeInts(xs: ArrayLike<number>): BigUint64Array {
  const out = new BigUint64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isSafeInteger(xs[i])) throw new Error(`element ${i} = ${xs[i]} is not a safe integer`);
    out[i] = BigInt.asUintN(64, BigInt(xs[i]));
  }
  return out;
}

export function decodeInts(vs: BigUint64Array): number[] {
  return Array.from(vs, (v) => Number(BigInt.asIntN(64, v)));
}
