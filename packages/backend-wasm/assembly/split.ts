// The dealer's split of one window (protocol/ops/input.ts; host side: src/dealer-split.ts):
// o[i] = encodeFixed(a[i]) - A[i] - B[i] mod 2^64, A and B the ChaCha20 streams of two seeds from block
// `counter` (chacha.ts's stream), in one pass over the data: per 32 words, four blocks of each stream into two
// 256-byte scratch areas, then two values per v128 are encoded and both words subtracted. One pass instead of
// three (encode, then one subtraction per stream) keeps the words in registers and the streams in L1.
// The encoding is fixed.ts's bit for bit: the same f64 operations (scale, ceil, minus 0.5, compare) in f64x2
// lanes, then to i64 by adding 1.5 * 2^52 and subtracting its bit pattern, exact for integers below 2^51 in
// magnitude; a pair with a value beyond that (saturating), infinite or NaN takes fixed.ts's scalar path.
// Values are f64, or f32 (wide = 0) promoted exactly as the host's Float64Array copy would.
// Returns the index of the first NaN or infinity (nothing from that value's pair on is written), or -1.
import { blocks4 } from './chacha';
import { fixedWord } from './fixed';

const STREAM_A: usize = memory.data(256, 16);
const STREAM_B: usize = memory.data(256, 16);
const MAGIC: f64 = 6755399441055744.0; // 1.5 * 2^52
const MAGIC_BITS: i64 = 0x4338000000000000;
const EXACT: f64 = 2251799813685248.0; // 2^51

// @ts-ignore: decorator
@inline function loadValue(a: usize, wide: bool, i: usize): f64 {
  return wide ? load<f64>(a + (i << 3)) : <f64>load<f32>(a + (i << 2));
}

// Words i and i + 1 to o, minus the stream words at byte s of the scratch areas; -1, or the bad value's index.
// @ts-ignore: decorator
@inline function splitPair(a: usize, wide: bool, i: usize, scale: f64, o: usize, s: usize): isize {
  const x = wide ? v128.load(a + (i << 3)) : f64x2.promote_low_f32x4(v128.load64_zero(a + (i << 2)));
  const v = f64x2.mul(x, f64x2.splat(scale));
  const c = f64x2.ceil(v);
  const r = v128.bitselect(f64x2.sub(c, f64x2.splat(1.0)), c, f64x2.gt(f64x2.sub(c, f64x2.splat(0.5)), v));
  let w: v128;
  if (i64x2.all_true(f64x2.lt(f64x2.abs(r), f64x2.splat(EXACT)))) {
    w = i64x2.sub(f64x2.add(r, f64x2.splat(MAGIC)), i64x2.splat(MAGIC_BITS));
  } else {
    const x0 = f64x2.extract_lane(x, 0);
    const x1 = f64x2.extract_lane(x, 1);
    if (!isFinite<f64>(x0)) return <isize>i;
    if (!isFinite<f64>(x1)) return <isize>(i + 1);
    w = i64x2.replace_lane(i64x2.splat(fixedWord(x0, scale)), 1, fixedWord(x1, scale));
  }
  v128.store(o + (i << 3), i64x2.sub(i64x2.sub(w, v128.load(STREAM_A + s)), v128.load(STREAM_B + s)));
  return -1;
}

// n values at a (f64 when wide != 0, else f32) to n words at o. keys: seed A's 8 words, seed B's 8 words,
// then the 3 nonce words (u32 each). The caller checks that counter + ceil(n / 8) <= 2^32.
export function splitEncode(a: usize, wide: u32, n: usize, scale: f64, keys: usize, counter: u32, o: usize): isize {
  const a0 = load<u32>(keys), a1 = load<u32>(keys, 4), a2 = load<u32>(keys, 8), a3 = load<u32>(keys, 12);
  const a4 = load<u32>(keys, 16), a5 = load<u32>(keys, 20), a6 = load<u32>(keys, 24), a7 = load<u32>(keys, 28);
  const b0 = load<u32>(keys, 32), b1 = load<u32>(keys, 36), b2 = load<u32>(keys, 40), b3 = load<u32>(keys, 44);
  const b4 = load<u32>(keys, 48), b5 = load<u32>(keys, 52), b6 = load<u32>(keys, 56), b7 = load<u32>(keys, 60);
  const n0 = load<u32>(keys, 64), n1 = load<u32>(keys, 68), n2 = load<u32>(keys, 72);
  const isWide = wide != 0;
  const groups = n >> 5;
  for (let g: usize = 0; g < groups; g++) {
    const c = counter + <u32>(g << 2);
    blocks4(a0, a1, a2, a3, a4, a5, a6, a7, n0, n1, n2, c, STREAM_A);
    blocks4(b0, b1, b2, b3, b4, b5, b6, b7, n0, n1, n2, c, STREAM_B);
    const base = g << 5;
    for (let j: usize = 0; j < 32; j += 2) {
      const bad = splitPair(a, isWide, base + j, scale, o, j << 3);
      if (bad >= 0) return bad;
    }
  }
  const rest = n & 31;
  if (rest != 0) {
    const c = counter + <u32>(groups << 2);
    blocks4(a0, a1, a2, a3, a4, a5, a6, a7, n0, n1, n2, c, STREAM_A);
    blocks4(b0, b1, b2, b3, b4, b5, b6, b7, n0, n1, n2, c, STREAM_B);
    const base = groups << 5;
    for (let j: usize = 0; j < rest; j++) {
      const x = loadValue(a, isWide, base + j);
      if (!isFinite<f64>(x)) return <isize>(base + j);
      store<i64>(o + ((base + j) << 3), fixedWord(x, scale) - load<i64>(STREAM_A + (j << 3)) - load<i64>(STREAM_B + (j << 3)));
    }
  }
  return -1;
}
