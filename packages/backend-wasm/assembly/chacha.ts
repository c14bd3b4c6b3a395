// ChaCha20 keystream (RFC 8439 section 2.3), four blocks at a time: lane i of every i32x4 state vector belongs
// to block counter + i. The stream is the keystream bytes as little-endian u64 words (DESIGN.md), i.e. the
// 16 output words of block c fill u64 words 8c .. 8c + 7.

// The last, partial group of four blocks is produced here and only its needed words are copied out.
const TAIL: usize = memory.data(256, 16);

// @ts-ignore: decorator
@inline function rotl16(v: v128): v128 {
  return i8x16.shuffle(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
}
// @ts-ignore: decorator
@inline function rotl8(v: v128): v128 {
  return i8x16.shuffle(v, v, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14);
}
// @ts-ignore: decorator
@inline function rotl12(v: v128): v128 {
  return v128.or(i32x4.shl(v, 12), i32x4.shr_u(v, 20));
}
// @ts-ignore: decorator
@inline function rotl7(v: v128): v128 {
  return v128.or(i32x4.shl(v, 7), i32x4.shr_u(v, 25));
}

// Stores words 4q .. 4q + 3 (vectors w0..w3, one lane per block) of the four blocks at o (64 bytes per block).
// @ts-ignore: decorator
@inline function storeQuad(o: usize, w0: v128, w1: v128, w2: v128, w3: v128): void {
  const t0 = i32x4.shuffle(w0, w1, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(w2, w3, 0, 4, 1, 5);
  const t2 = i32x4.shuffle(w0, w1, 2, 6, 3, 7);
  const t3 = i32x4.shuffle(w2, w3, 2, 6, 3, 7);
  v128.store(o, i32x4.shuffle(t0, t1, 0, 1, 4, 5));
  v128.store(o, i32x4.shuffle(t0, t1, 2, 3, 6, 7), 64);
  v128.store(o, i32x4.shuffle(t2, t3, 0, 1, 4, 5), 128);
  v128.store(o, i32x4.shuffle(t2, t3, 2, 3, 6, 7), 192);
}

// Key words k0..k7 and nonce words n0..n2 as in RFC 8439; 256 bytes of keystream (blocks counter .. counter+3) to o.
// Exported for the dealer's split (split.ts); not a module export (index.ts does not list it).
export function blocks4(
  k0: u32, k1: u32, k2: u32, k3: u32, k4: u32, k5: u32, k6: u32, k7: u32,
  n0: u32, n1: u32, n2: u32, counter: u32, o: usize,
): void {
  const i0 = i32x4.splat(0x61707865), i1 = i32x4.splat(0x3320646e), i2 = i32x4.splat(0x79622d32), i3 = i32x4.splat(0x6b206574);
  const i4 = i32x4.splat(k0), i5 = i32x4.splat(k1), i6 = i32x4.splat(k2), i7 = i32x4.splat(k3);
  const i8 = i32x4.splat(k4), i9 = i32x4.splat(k5), i10 = i32x4.splat(k6), i11 = i32x4.splat(k7);
  const i12 = i32x4.add(i32x4.splat(counter), i32x4(0, 1, 2, 3));
  const i13 = i32x4.splat(n0), i14 = i32x4.splat(n1), i15 = i32x4.splat(n2);
  let x0 = i0, x1 = i1, x2 = i2, x3 = i3, x4 = i4, x5 = i5, x6 = i6, x7 = i7;
  let x8 = i8, x9 = i9, x10 = i10, x11 = i11, x12 = i12, x13 = i13, x14 = i14, x15 = i15;
  for (let r = 0; r < 10; r++) {
    // Column rounds: (0,4,8,12) (1,5,9,13) (2,6,10,14) (3,7,11,15).
    x0 = i32x4.add(x0, x4); x12 = rotl16(v128.xor(x12, x0)); x8 = i32x4.add(x8, x12); x4 = rotl12(v128.xor(x4, x8));
    x0 = i32x4.add(x0, x4); x12 = rotl8(v128.xor(x12, x0)); x8 = i32x4.add(x8, x12); x4 = rotl7(v128.xor(x4, x8));
    x1 = i32x4.add(x1, x5); x13 = rotl16(v128.xor(x13, x1)); x9 = i32x4.add(x9, x13); x5 = rotl12(v128.xor(x5, x9));
    x1 = i32x4.add(x1, x5); x13 = rotl8(v128.xor(x13, x1)); x9 = i32x4.add(x9, x13); x5 = rotl7(v128.xor(x5, x9));
    x2 = i32x4.add(x2, x6); x14 = rotl16(v128.xor(x14, x2)); x10 = i32x4.add(x10, x14); x6 = rotl12(v128.xor(x6, x10));
    x2 = i32x4.add(x2, x6); x14 = rotl8(v128.xor(x14, x2)); x10 = i32x4.add(x10, x14); x6 = rotl7(v128.xor(x6, x10));
    x3 = i32x4.add(x3, x7); x15 = rotl16(v128.xor(x15, x3)); x11 = i32x4.add(x11, x15); x7 = rotl12(v128.xor(x7, x11));
    x3 = i32x4.add(x3, x7); x15 = rotl8(v128.xor(x15, x3)); x11 = i32x4.add(x11, x15); x7 = rotl7(v128.xor(x7, x11));
    // Diagonal rounds: (0,5,10,15) (1,6,11,12) (2,7,8,13) (3,4,9,14).
    x0 = i32x4.add(x0, x5); x15 = rotl16(v128.xor(x15, x0)); x10 = i32x4.add(x10, x15); x5 = rotl12(v128.xor(x5, x10));
    x0 = i32x4.add(x0, x5); x15 = rotl8(v128.xor(x15, x0)); x10 = i32x4.add(x10, x15); x5 = rotl7(v128.xor(x5, x10));
    x1 = i32x4.add(x1, x6); x12 = rotl16(v128.xor(x12, x1)); x11 = i32x4.add(x11, x12); x6 = rotl12(v128.xor(x6, x11));
    x1 = i32x4.add(x1, x6); x12 = rotl8(v128.xor(x12, x1)); x11 = i32x4.add(x11, x12); x6 = rotl7(v128.xor(x6, x11));
    x2 = i32x4.add(x2, x7); x13 = rotl16(v128.xor(x13, x2)); x8 = i32x4.add(x8, x13); x7 = rotl12(v128.xor(x7, x8));
    x2 = i32x4.add(x2, x7); x13 = rotl8(v128.xor(x13, x2)); x8 = i32x4.add(x8, x13); x7 = rotl7(v128.xor(x7, x8));
    x3 = i32x4.add(x3, x4); x14 = rotl16(v128.xor(x14, x3)); x9 = i32x4.add(x9, x14); x4 = rotl12(v128.xor(x4, x9));
    x3 = i32x4.add(x3, x4); x14 = rotl8(v128.xor(x14, x3)); x9 = i32x4.add(x9, x14); x4 = rotl7(v128.xor(x4, x9));
  }
  storeQuad(o, i32x4.add(x0, i0), i32x4.add(x1, i1), i32x4.add(x2, i2), i32x4.add(x3, i3));
  storeQuad(o + 16, i32x4.add(x4, i4), i32x4.add(x5, i5), i32x4.add(x6, i6), i32x4.add(x7, i7));
  storeQuad(o + 32, i32x4.add(x8, i8), i32x4.add(x9, i9), i32x4.add(x10, i10), i32x4.add(x11, i11));
  storeQuad(o + 48, i32x4.add(x12, i12), i32x4.add(x13, i13), i32x4.add(x14, i14), i32x4.add(x15, i15));
}

// n words of the stream from block `counter` to o. The caller checks that counter + ceil(n / 8) <= 2^32.
export function chacha(
  k0: u32, k1: u32, k2: u32, k3: u32, k4: u32, k5: u32, k6: u32, k7: u32,
  n0: u32, n1: u32, n2: u32, counter: u32, n: usize, o: usize,
): void {
  const groups = n >> 5;
  for (let g: usize = 0; g < groups; g++) {
    blocks4(k0, k1, k2, k3, k4, k5, k6, k7, n0, n1, n2, counter + <u32>(g << 2), o + (g << 8));
  }
  const rest = n & 31;
  if (rest != 0) {
    blocks4(k0, k1, k2, k3, k4, k5, k6, k7, n0, n1, n2, counter + <u32>(groups << 2), TAIL);
    memory.copy(o + (groups << 8), TAIL, rest << 3);
  }
}

// x[i] -= word i of the stream from block `counter`, for n words at x (mod 2^64): the dealer's split
// x - PRG(seedA) - PRG(seedB) without materialising either stream. Same stream as chacha() above (each group
// of four blocks goes through TAIL, then is subtracted two words per v128). The caller checks the counter.
export function chachaSubFrom(
  k0: u32, k1: u32, k2: u32, k3: u32, k4: u32, k5: u32, k6: u32, k7: u32,
  n0: u32, n1: u32, n2: u32, counter: u32, n: usize, x: usize,
): void {
  const groups = n >> 5;
  for (let g: usize = 0; g < groups; g++) {
    blocks4(k0, k1, k2, k3, k4, k5, k6, k7, n0, n1, n2, counter + <u32>(g << 2), TAIL);
    const o = x + (g << 8);
    for (let b: usize = 0; b < 256; b += 16) v128.store(o + b, i64x2.sub(v128.load(o + b), v128.load(TAIL + b)));
  }
  const rest = n & 31;
  if (rest != 0) {
    blocks4(k0, k1, k2, k3, k4, k5, k6, k7, n0, n1, n2, counter + <u32>(groups << 2), TAIL);
    const o = x + (groups << 8);
    for (let i: usize = 0; i < rest; i++) store<u64>(o + (i << 3), load<u64>(o + (i << 3)) - load<u64>(TAIL + (i << 3)));
  }
}
