// Data movement and reductions whose inner loops are too fine-grained to drive from JS (one call per row or
// per element would dominate). Strides and counts are in u64 elements, pointers in bytes.

// rows x cols block from src (row stride srcStride) to dst (row stride dstStride).
export function copy2d(src: usize, srcStride: usize, dst: usize, dstStride: usize, rows: usize, cols: usize): void {
  const bytes = cols << 3;
  for (let r: usize = 0; r < rows; r++) {
    memory.copy(dst, src, bytes);
    src += srcStride << 3;
    dst += dstStride << 3;
  }
}

export function repeatEach(a: usize, n: usize, times: usize, o: usize): void {
  for (let i: usize = 0; i < n; i++) {
    const v = load<u64>(a + (i << 3));
    const end = o + (times << 3);
    while (o < end) {
      store<u64>(o, v);
      o += 8;
    }
  }
}

export function tile(a: usize, n: usize, times: usize, o: usize): void {
  const bytes = n << 3;
  for (let t: usize = 0; t < times; t++) {
    memory.copy(o, a, bytes);
    o += bytes;
  }
}

export function sumRows(a: usize, rows: usize, cols: usize, o: usize): void {
  const pairs = cols >> 1;
  for (let r: usize = 0; r < rows; r++) {
    let acc = i64x2.splat(0);
    let p = a;
    const end = a + (pairs << 4);
    while (p < end) {
      acc = i64x2.add(acc, v128.load(p));
      p += 16;
    }
    let s = i64x2.extract_lane(acc, 0) + i64x2.extract_lane(acc, 1);
    if (cols & 1) s += load<i64>(end);
    store<i64>(o + (r << 3), s);
    a += cols << 3;
  }
}

// Edge of the square tiles a strided 2-D copy walks, so both the rows it reads and the rows it writes stay
// in cache while the tile is copied.
const TILE: usize = 16;

// General axis permutation. The output is walked in row-major order; axis i of the output has extent
// shape[i] and advances the source by stride[i] elements (both i32 arrays of `rank` entries, rank >= 2; idx
// is `rank` i32 of scratch). The two innermost output axes are copied as one tiled 2-D block per position of
// the outer axes.
export function transpose(src: usize, o: usize, rank: usize, shape: usize, stride: usize, idx: usize): void {
  const outer = rank - 2;
  const rows = <usize>load<i32>(shape + (outer << 2));
  const cols = <usize>load<i32>(shape + ((outer + 1) << 2));
  const rs = <usize>load<i32>(stride + (outer << 2)) << 3;
  const cs = <usize>load<i32>(stride + ((outer + 1) << 2)) << 3;
  let blocks: usize = 1;
  for (let i: usize = 0; i < outer; i++) {
    blocks *= <usize>load<i32>(shape + (i << 2));
    store<i32>(idx + (i << 2), 0);
  }
  let base = src;
  for (let blk: usize = 0; blk < blocks; blk++) {
    if (cs == 8) {
      for (let r: usize = 0; r < rows; r++) memory.copy(o + ((r * cols) << 3), base + r * rs, cols << 3);
    } else {
      for (let r0: usize = 0; r0 < rows; r0 += TILE) {
        const r1 = r0 + TILE < rows ? r0 + TILE : rows;
        for (let c0: usize = 0; c0 < cols; c0 += TILE) {
          const c1 = c0 + TILE < cols ? c0 + TILE : cols;
          for (let r = r0; r < r1; r++) {
            let s = base + r * rs + c0 * cs;
            let d = o + ((r * cols + c0) << 3);
            const dEnd = o + ((r * cols + c1) << 3);
            while (d < dEnd) {
              store<u64>(d, load<u64>(s));
              s += cs;
              d += 8;
            }
          }
        }
      }
    }
    o += (rows * cols) << 3;
    // Odometer step over the outer axes, moving the source base along with it.
    for (let i = <isize>outer - 1; i >= 0; i--) {
      const ip = idx + (<usize>i << 2);
      const v = load<i32>(ip) + 1;
      const st = <usize>load<i32>(stride + (<usize>i << 2)) << 3;
      if (v < load<i32>(shape + (<usize>i << 2))) {
        store<i32>(ip, v);
        base += st;
        break;
      }
      store<i32>(ip, 0);
      base -= <usize>(v - 1) * st;
    }
  }
}
