// Elementwise ring ops over n u64 words. Pointers are byte addresses in linear memory; `o` may equal an input.
// The bulk runs two words per v128 and unrolled four vectors deep (the loops are load/store bound, so the
// unrolling mostly saves loop overhead); an odd last word is done in scalar i64.

// Vectors per unrolled step and the words they cover.
const UNROLL_WORDS: usize = 8;

export function add(a: usize, b: usize, o: usize, n: usize): void {
  const bulk = n & ~(UNROLL_WORDS - 1);
  const end = a + (bulk << 3);
  while (a < end) {
    v128.store(o, i64x2.add(v128.load(a), v128.load(b)));
    v128.store(o, i64x2.add(v128.load(a, 16), v128.load(b, 16)), 16);
    v128.store(o, i64x2.add(v128.load(a, 32), v128.load(b, 32)), 32);
    v128.store(o, i64x2.add(v128.load(a, 48), v128.load(b, 48)), 48);
    a += 64; b += 64; o += 64;
  }
  for (let i: usize = bulk; i < n; i++) {
    store<u64>(o, load<u64>(a) + load<u64>(b));
    a += 8; b += 8; o += 8;
  }
}

export function sub(a: usize, b: usize, o: usize, n: usize): void {
  const bulk = n & ~(UNROLL_WORDS - 1);
  const end = a + (bulk << 3);
  while (a < end) {
    v128.store(o, i64x2.sub(v128.load(a), v128.load(b)));
    v128.store(o, i64x2.sub(v128.load(a, 16), v128.load(b, 16)), 16);
    v128.store(o, i64x2.sub(v128.load(a, 32), v128.load(b, 32)), 32);
    v128.store(o, i64x2.sub(v128.load(a, 48), v128.load(b, 48)), 48);
    a += 64; b += 64; o += 64;
  }
  for (let i: usize = bulk; i < n; i++) {
    store<u64>(o, load<u64>(a) - load<u64>(b));
    a += 8; b += 8; o += 8;
  }
}

// Scalar i64 multiply: x64 has no 64x64 vector multiply without AVX-512, so engines emulate i64x2.mul with
// three 32-bit multiplies plus shifts, which measured slower than two scalar imuls.
export function mul(a: usize, b: usize, o: usize, n: usize): void {
  const bulk = n & ~(<usize>3);
  const end = a + (bulk << 3);
  while (a < end) {
    store<u64>(o, load<u64>(a) * load<u64>(b));
    store<u64>(o, load<u64>(a, 8) * load<u64>(b, 8), 8);
    store<u64>(o, load<u64>(a, 16) * load<u64>(b, 16), 16);
    store<u64>(o, load<u64>(a, 24) * load<u64>(b, 24), 24);
    a += 32; b += 32; o += 32;
  }
  for (let i: usize = bulk; i < n; i++) {
    store<u64>(o, load<u64>(a) * load<u64>(b));
    a += 8; b += 8; o += 8;
  }
}

export function and(a: usize, b: usize, o: usize, n: usize): void {
  const bulk = n & ~(UNROLL_WORDS - 1);
  const end = a + (bulk << 3);
  while (a < end) {
    v128.store(o, v128.and(v128.load(a), v128.load(b)));
    v128.store(o, v128.and(v128.load(a, 16), v128.load(b, 16)), 16);
    v128.store(o, v128.and(v128.load(a, 32), v128.load(b, 32)), 32);
    v128.store(o, v128.and(v128.load(a, 48), v128.load(b, 48)), 48);
    a += 64; b += 64; o += 64;
  }
  for (let i: usize = bulk; i < n; i++) {
    store<u64>(o, load<u64>(a) & load<u64>(b));
    a += 8; b += 8; o += 8;
  }
}

export function or(a: usize, b: usize, o: usize, n: usize): void {
  const bulk = n & ~(UNROLL_WORDS - 1);
  const end = a + (bulk << 3);
  while (a < end) {
    v128.store(o, v128.or(v128.load(a), v128.load(b)));
    v128.store(o, v128.or(v128.load(a, 16), v128.load(b, 16)), 16);
    v128.store(o, v128.or(v128.load(a, 32), v128.load(b, 32)), 32);
    v128.store(o, v128.or(v128.load(a, 48), v128.load(b, 48)), 48);
    a += 64; b += 64; o += 64;
  }
  for (let i: usize = bulk; i < n; i++) {
    store<u64>(o, load<u64>(a) | load<u64>(b));
    a += 8; b += 8; o += 8;
  }
}

export function xor(a: usize, b: usize, o: usize, n: usize): void {
  const bulk = n & ~(UNROLL_WORDS - 1);
  const end = a + (bulk << 3);
  while (a < end) {
    v128.store(o, v128.xor(v128.load(a), v128.load(b)));
    v128.store(o, v128.xor(v128.load(a, 16), v128.load(b, 16)), 16);
    v128.store(o, v128.xor(v128.load(a, 32), v128.load(b, 32)), 32);
    v128.store(o, v128.xor(v128.load(a, 48), v128.load(b, 48)), 48);
    a += 64; b += 64; o += 64;
  }
  for (let i: usize = bulk; i < n; i++) {
    store<u64>(o, load<u64>(a) ^ load<u64>(b));
    a += 8; b += 8; o += 8;
  }
}

export function addScalar(a: usize, s: u64, o: usize, n: usize): void {
  const v = i64x2.splat(s);
  const bulk = n & ~(UNROLL_WORDS - 1);
  const end = a + (bulk << 3);
  while (a < end) {
    v128.store(o, i64x2.add(v128.load(a), v));
    v128.store(o, i64x2.add(v128.load(a, 16), v), 16);
    v128.store(o, i64x2.add(v128.load(a, 32), v), 32);
    v128.store(o, i64x2.add(v128.load(a, 48), v), 48);
    a += 64; o += 64;
  }
  for (let i: usize = bulk; i < n; i++) {
    store<u64>(o, load<u64>(a) + s);
    a += 8; o += 8;
  }
}

export function mulScalar(a: usize, s: u64, o: usize, n: usize): void {
  const bulk = n & ~(<usize>3);
  const end = a + (bulk << 3);
  while (a < end) {
    store<u64>(o, load<u64>(a) * s);
    store<u64>(o, load<u64>(a, 8) * s, 8);
    store<u64>(o, load<u64>(a, 16) * s, 16);
    store<u64>(o, load<u64>(a, 24) * s, 24);
    a += 32; o += 32;
  }
  for (let i: usize = bulk; i < n; i++) {
    store<u64>(o, load<u64>(a) * s);
    a += 8; o += 8;
  }
}

export function neg(a: usize, o: usize, n: usize): void {
  const z = i64x2.splat(0);
  const bulk = n & ~(UNROLL_WORDS - 1);
  const end = a + (bulk << 3);
  while (a < end) {
    v128.store(o, i64x2.sub(z, v128.load(a)));
    v128.store(o, i64x2.sub(z, v128.load(a, 16)), 16);
    v128.store(o, i64x2.sub(z, v128.load(a, 32)), 32);
    v128.store(o, i64x2.sub(z, v128.load(a, 48)), 48);
    a += 64; o += 64;
  }
  for (let i: usize = bulk; i < n; i++) {
    store<u64>(o, 0 - load<u64>(a));
    a += 8; o += 8;
  }
}

export function not(a: usize, o: usize, n: usize): void {
  const bulk = n & ~(UNROLL_WORDS - 1);
  const end = a + (bulk << 3);
  while (a < end) {
    v128.store(o, v128.not(v128.load(a)));
    v128.store(o, v128.not(v128.load(a, 16)), 16);
    v128.store(o, v128.not(v128.load(a, 32)), 32);
    v128.store(o, v128.not(v128.load(a, 48)), 48);
    a += 64; o += 64;
  }
  for (let i: usize = bulk; i < n; i++) {
    store<u64>(o, ~load<u64>(a));
    a += 8; o += 8;
  }
}

// Shifts take k in [0, 63] (checked by the caller); wasm masks the count mod 64 in any case.
export function shl(a: usize, k: i32, o: usize, n: usize): void {
  const bulk = n & ~(UNROLL_WORDS - 1);
  const end = a + (bulk << 3);
  while (a < end) {
    v128.store(o, i64x2.shl(v128.load(a), k));
    v128.store(o, i64x2.shl(v128.load(a, 16), k), 16);
    v128.store(o, i64x2.shl(v128.load(a, 32), k), 32);
    v128.store(o, i64x2.shl(v128.load(a, 48), k), 48);
    a += 64; o += 64;
  }
  const s = <u64>k;
  for (let i: usize = bulk; i < n; i++) {
    store<u64>(o, load<u64>(a) << s);
    a += 8; o += 8;
  }
}

export function shrLogical(a: usize, k: i32, o: usize, n: usize): void {
  const bulk = n & ~(UNROLL_WORDS - 1);
  const end = a + (bulk << 3);
  while (a < end) {
    v128.store(o, i64x2.shr_u(v128.load(a), k));
    v128.store(o, i64x2.shr_u(v128.load(a, 16), k), 16);
    v128.store(o, i64x2.shr_u(v128.load(a, 32), k), 32);
    v128.store(o, i64x2.shr_u(v128.load(a, 48), k), 48);
    a += 64; o += 64;
  }
  const s = <u64>k;
  for (let i: usize = bulk; i < n; i++) {
    store<u64>(o, load<u64>(a) >> s);
    a += 8; o += 8;
  }
}

export function shrArith(a: usize, k: i32, o: usize, n: usize): void {
  const bulk = n & ~(UNROLL_WORDS - 1);
  const end = a + (bulk << 3);
  while (a < end) {
    v128.store(o, i64x2.shr_s(v128.load(a), k));
    v128.store(o, i64x2.shr_s(v128.load(a, 16), k), 16);
    v128.store(o, i64x2.shr_s(v128.load(a, 32), k), 32);
    v128.store(o, i64x2.shr_s(v128.load(a, 48), k), 48);
    a += 64; o += 64;
  }
  const s = <i64>k;
  for (let i: usize = bulk; i < n; i++) {
    store<i64>(o, load<i64>(a) >> s);
    a += 8; o += 8;
  }
}
