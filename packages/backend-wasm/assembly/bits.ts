// Bit-slicing (layout in packages/backend/src/backend.ts): 64 consecutive elements form a 64x64 bit matrix
// (row = element, column = bit) and its transpose gives one word of each of the 64 planes.

// The 64 words of the block being transposed.
const T: usize = memory.data(64 * 8, 16);

// Transposes the 64x64 bit matrix in T in place: afterwards bit e of word j is what bit j of word e was.
// Recursive block swap: at width w, within every 2w x 2w block the top-right w x w quadrant (high w bits of
// the first w words) trades places with the bottom-left one (low w bits of the next w words).
function transpose64(): void {
  let w: usize = 32;
  let m: u64 = 0x00000000ffffffff;
  while (w != 0) {
    const sh = <u64>w;
    for (let k: usize = 0; k < 64; k = (k + w + 1) & ~w) {
      const px = T + (k << 3);
      const py = T + ((k + w) << 3);
      const x = load<u64>(px);
      const y = load<u64>(py);
      const t = ((x >> sh) ^ y) & m;
      store<u64>(px, x ^ (t << sh));
      store<u64>(py, y ^ t);
    }
    w >>= 1;
    m ^= m << <u64>w;
  }
}

// a: n words; out: 64 * W words, W = ceil(n / 64).
export function toBitPlanes(a: usize, n: usize, out: usize): void {
  const W = (n + 63) >> 6;
  for (let w: usize = 0; w < W; w++) {
    const base = w << 6;
    const count = n - base < 64 ? n - base : 64;
    memory.copy(T, a + (base << 3), count << 3);
    if (count < 64) memory.fill(T + (count << 3), 0, (64 - count) << 3);
    transpose64();
    for (let j: usize = 0; j < 64; j++) store<u64>(out + ((j * W + w) << 3), load<u64>(T + (j << 3)));
  }
}

// planes: at least planeCount * W words (planeCount <= 64); out: n words. Absent planes read as zero.
export function fromBitPlanes(planes: usize, n: usize, planeCount: usize, out: usize): void {
  const W = (n + 63) >> 6;
  for (let w: usize = 0; w < W; w++) {
    for (let j: usize = 0; j < planeCount; j++) store<u64>(T + (j << 3), load<u64>(planes + ((j * W + w) << 3)));
    if (planeCount < 64) memory.fill(T + (planeCount << 3), 0, (64 - planeCount) << 3);
    transpose64();
    const base = w << 6;
    const count = n - base < 64 ? n - base : 64;
    memory.copy(out + (base << 3), T, count << 3);
  }
}
