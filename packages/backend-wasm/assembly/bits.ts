// Bit-slicing (layout in packages/backend/src/backend.ts): 64 consecutive elements form a 64x64 bit matrix
// (row = element, column = bit) and its transpose gives one word of each of the 64 planes.

// Blocks are transposed GROUP at a time in T, so each plane is written (or read) GROUP consecutive words,
// one 64-byte cache line, at a time instead of single scattered words (measured 3x faster for large n).
const GROUP: usize = 8;
const T: usize = memory.data(<i32>(GROUP * 64 * 8), 64);

// Transposes the 64x64 bit matrix at T + base in place: afterwards bit e of word j is what bit j of word e was.
// Recursive block swap: at width w, within every 2w x 2w block the top-right w x w quadrant (high w bits of
// the first w words) trades places with the bottom-left one (low w bits of the next w words).
// For w >= 2 the words k and k + 1 have partners k + w and k + w + 1, so one v128 does two swaps; at w = 1
// the partners are neighbours, so even and odd words are first gathered into separate vectors.
// @ts-ignore: decorator
@inline function transpose64(base: usize): void {
  let w: usize = 32;
  let m: u64 = 0x00000000ffffffff;
  while (w >= 2) {
    const mv = i64x2.splat(m);
    const sh = <i32>w;
    for (let k: usize = 0; k < 64; k = (k + 2 + w) & ~w) {
      const px = base + (k << 3);
      const py = base + ((k + w) << 3);
      const x = v128.load(px);
      const y = v128.load(py);
      const t = v128.and(v128.xor(i64x2.shr_u(x, sh), y), mv);
      v128.store(px, v128.xor(x, i64x2.shl(t, sh)));
      v128.store(py, v128.xor(y, t));
    }
    w >>= 1;
    m ^= m << <u64>w;
  }
  const m1 = i64x2.splat(0x5555555555555555);
  for (let k: usize = 0; k < 64; k += 4) {
    const p = base + (k << 3);
    const v0 = v128.load(p);
    const v1 = v128.load(p, 16);
    const x = i64x2.shuffle(v0, v1, 0, 2);
    const y = i64x2.shuffle(v0, v1, 1, 3);
    const t = v128.and(v128.xor(i64x2.shr_u(x, 1), y), m1);
    const x2 = v128.xor(x, i64x2.shl(t, 1));
    const y2 = v128.xor(y, t);
    v128.store(p, i64x2.shuffle(x2, y2, 0, 2));
    v128.store(p, i64x2.shuffle(x2, y2, 1, 3), 16);
  }
}

// a: n words; out: 64 * W words, W = ceil(n / 64).
export function toBitPlanes(a: usize, n: usize, out: usize): void {
  const W = (n + 63) >> 6;
  for (let w0: usize = 0; w0 < W; w0 += GROUP) {
    const blocks = W - w0 < GROUP ? W - w0 : GROUP;
    const base = w0 << 6;
    const count = n - base < blocks << 6 ? n - base : blocks << 6;
    memory.copy(T, a + (base << 3), count << 3);
    if (count < blocks << 6) memory.fill(T + (count << 3), 0, ((blocks << 6) - count) << 3);
    for (let b: usize = 0; b < blocks; b++) transpose64(T + (b << 9));
    for (let j: usize = 0; j < 64; j++) {
      const d = out + ((j * W + w0) << 3);
      for (let b: usize = 0; b < blocks; b++) store<u64>(d + (b << 3), load<u64>(T + (b << 9) + (j << 3)));
    }
  }
}

// planes: at least planeCount * W words (planeCount <= 64); out: n words. Absent planes read as zero.
export function fromBitPlanes(planes: usize, n: usize, planeCount: usize, out: usize): void {
  const W = (n + 63) >> 6;
  for (let w0: usize = 0; w0 < W; w0 += GROUP) {
    const blocks = W - w0 < GROUP ? W - w0 : GROUP;
    for (let j: usize = 0; j < 64; j++) {
      const s = planes + ((j * W + w0) << 3);
      const d = T + (j << 3);
      for (let b: usize = 0; b < blocks; b++) store<u64>(d + (b << 9), j < planeCount ? load<u64>(s + (b << 3)) : 0);
    }
    for (let b: usize = 0; b < blocks; b++) transpose64(T + (b << 9));
    const base = w0 << 6;
    const count = n - base < blocks << 6 ? n - base : blocks << 6;
    memory.copy(out + (base << 3), T, count << 3);
  }
}
