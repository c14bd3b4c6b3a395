// Fixed-point encoding of n float64 values at a into u64 words at o (ring/src/fixed.ts encodeFixed, bit for
// bit): round(x * scale) with ties toward +infinity (JavaScript's Math.round), saturated to
// [-2^62, 2^62 - 1]. Returns the index of the first NaN or infinity (its word is left unwritten and nothing
// after it is encoded), or -1 when every value is finite.

// @ts-ignore: decorator
@inline export function roundHalfUp(v: f64): f64 {
  // ceil is exact, and so is r - 0.5 wherever v can have a fraction (|v| < 2^52); above that v is integral.
  const r = Math.ceil(v);
  return r - 0.5 > v ? r - 1 : r;
}

// The word of one finite value: round(x * scale), saturated to [-2^62, 2^62 - 1].
// @ts-ignore: decorator
@inline export function fixedWord(x: f64, scale: f64): i64 {
  const limit: f64 = 4611686018427387904.0; // 2^62
  const v = roundHalfUp(x * scale);
  if (v >= limit) return 0x3fffffffffffffff;
  if (v < -limit) return -0x4000000000000000;
  return <i64>v;
}

export function encodeFixed(a: usize, n: usize, scale: f64, o: usize): isize {
  for (let i: usize = 0; i < n; i++) {
    const x = load<f64>(a + (i << 3));
    if (!isFinite<f64>(x)) return <isize>i;
    store<i64>(o + (i << 3), fixedWord(x, scale));
  }
  return -1;
}
