// Z_2^64 arithmetic over vec2<u32> (x = low word, y = high word), the byte layout of a BigUint64Array.
// Every kernel file is compiled with this library prepended. WGSL has no 64-bit integers, so each operation
// is built from u32 pieces; all results are exact mod 2^64.

alias u64 = vec2<u32>;

fn u64_add(a: u64, b: u64) -> u64 {
  let lo = a.x + b.x;
  // The low word wrapped iff the sum is smaller than an addend.
  let carry = select(0u, 1u, lo < a.x);
  return vec2<u32>(lo, a.y + b.y + carry);
}

fn u64_sub(a: u64, b: u64) -> u64 {
  let borrow = select(0u, 1u, a.x < b.x);
  return vec2<u32>(a.x - b.x, a.y - b.y - borrow);
}

fn u64_neg(a: u64) -> u64 {
  return u64_sub(vec2<u32>(0u, 0u), a);
}

// High 32 bits of the 64-bit product of two u32, from 16-bit halves. Each partial sum below stays under
// 2^32: p01 <= (2^16 - 1)^2 and the two added terms are each below 2^16.
fn mul_hi32(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let mid = p01 + (p00 >> 16u) + (p10 & 0xffffu);
  return p11 + (p10 >> 16u) + (mid >> 16u);
}

// Low 64 bits of a * b. The cross terms only reach the high word, so their own high halves drop out and
// wrapping u32 multiplication is exact for them.
fn u64_mul(a: u64, b: u64) -> u64 {
  return vec2<u32>(a.x * b.x, mul_hi32(a.x, b.x) + a.x * b.y + a.y * b.x);
}

// acc + a * b, the matmul inner step.
fn u64_mul_add(acc: u64, a: u64, b: u64) -> u64 {
  return u64_add(acc, u64_mul(a, b));
}

// WGSL takes u32 shift amounts modulo 32, so shifts by 0 and by 32 or more need their own branches.
fn u64_shl(a: u64, k: u32) -> u64 {
  if (k == 0u) {
    return a;
  }
  if (k < 32u) {
    return vec2<u32>(a.x << k, (a.y << k) | (a.x >> (32u - k)));
  }
  return vec2<u32>(0u, a.x << (k - 32u));
}

fn u64_shr_logical(a: u64, k: u32) -> u64 {
  if (k == 0u) {
    return a;
  }
  if (k < 32u) {
    return vec2<u32>((a.x >> k) | (a.y << (32u - k)), a.y >> k);
  }
  return vec2<u32>(a.y >> (k - 32u), 0u);
}

fn u64_shr_arith(a: u64, k: u32) -> u64 {
  if (k == 0u) {
    return a;
  }
  let hi = bitcast<i32>(a.y);
  if (k < 32u) {
    return vec2<u32>((a.x >> k) | (a.y << (32u - k)), bitcast<u32>(hi >> k));
  }
  return vec2<u32>(bitcast<u32>(hi >> (k - 32u)), bitcast<u32>(hi >> 31u));
}

fn u64_eq(a: u64, b: u64) -> bool {
  return a.x == b.x && a.y == b.y;
}

fn u64_lt(a: u64, b: u64) -> bool {
  return a.y < b.y || (a.y == b.y && a.x < b.x);
}

// Two's-complement order: only the high words compare as signed.
fn i64_lt(a: u64, b: u64) -> bool {
  let ah = bitcast<i32>(a.y);
  let bh = bitcast<i32>(b.y);
  return ah < bh || (ah == bh && a.x < b.x);
}

// Linear index of an invocation in a dispatch that may be spread over x and y to stay within
// maxComputeWorkgroupsPerDimension; `wg_size` is the flat workgroup size.
fn linear_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32, wg_size: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * wg_size + lid;
}
