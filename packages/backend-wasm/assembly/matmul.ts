// Matrix product mod 2^64.
//
// Register tile: MR = 2 rows by NR = 6 columns of C. Columns 0-3 accumulate in SIMD lanes and columns 4-5 in
// scalar i64 registers, so the vector multipliers and the scalar imul unit work side by side (measured on
// x64: 2x6 hybrid ~5.4 G MAC/s, best pure SIMD tile ~4.3, best pure scalar tile ~3.6).
//
// x64 has no 64x64-bit vector multiply, so the SIMD columns split each product mod 2^64:
//   a * b = lo(a) * lo(b) + 2^32 * (lo(a) * hi(b) + hi(a) * lo(b))   (mod 2^64)
// lo*lo is a full 32x32->64 product (i64x2.extmul_*_i32x4_u) and is summed in 64 bits; the cross terms only
// matter mod 2^32, so they are summed in i32x4 lanes with plain i32x4.mul and shifted up once per tile.
// This needs the four B columns as a vector of low halves and a vector of high halves.
//
// The kernels are inlined into their drivers: V8 compiled the same loop as a small standalone function
// markedly slower (measured 4.3 vs 5.6 G MAC/s packed, 0.85 vs 1.5 for the row path).
//
// Three paths:
// - packed (the general one): B is packed, one KC x NC block at a time (see KC), into 6-column panels of
//   [lo0..lo3 | hi0..hi3 | b4 b5] rows (48 bytes each); A is packed two rows at a time as [p][2]. Any
//   transA/transB is absorbed by the packing. Packing costs one pass over B, a loss for very short A:
// - row (m = 1, B not transposed): the kernel reads 6-column strips of B in place and splits them with two
//   shuffles per row (for m >= 2 the strided reads cost as much as packing, measured).
// - dot (m <= DOT_MAX_M, B transposed): rows of B^T are contiguous in p, so each output is a dot product of an
//   A row (pre-split into low/high halves, 4 p per chunk) with a B^T row split on the fly.

const MR: usize = 2;
const NR: usize = 6;
const PANEL_ROW: usize = NR * 8;
// Largest m (after folding) for the dot path: beyond it packing B^T pays off (measured).
const DOT_MAX_M: usize = 4;
// Cache blocking of the packed path: a KC x NC block of packed B (~0.5 MiB) stays in L2 while every row
// pair of A streams past it, and one KC-row A panel (4 KiB) and B panel (12 KiB) stay in L1 for a tile.
// Without it a large B was re-read from L3 for every row pair (measured 3.6 vs 5.1 G MAC/s at 128x3072x768).
const KC: usize = 256;
const NC: usize = 42 * NR;

// Edge tiles (fewer than MR rows or NR columns left) are computed here, then their valid part is copied out.
const EDGE: usize = memory.data(<i32>(MR * NR * 8), 16);

// c[0..1] = lo-products of columns 0,1 plus the shifted cross sums; c[2..3] likewise for columns 2,3.
// With acc the tile is added to what c holds (a later block of k).
// @ts-ignore: decorator
@inline function finish(c: usize, l: v128, h: v128, x: v128, acc: bool): void {
  let lo = i64x2.add(l, i64x2.shl(i64x2.extend_low_i32x4_u(x), 32));
  let hi = i64x2.add(h, i64x2.shl(i64x2.extend_high_i32x4_u(x), 32));
  if (acc) {
    lo = i64x2.add(lo, v128.load(c));
    hi = i64x2.add(hi, v128.load(c, 16));
  }
  v128.store(c, lo);
  v128.store(c, hi, 16);
}

// ap: packed A [k][2]; bp: packed B panel [k][48 bytes]; writes (acc: adds) the full 2x6 tile at c (row
// stride ldc bytes).
// @ts-ignore: decorator
@inline function kernelPacked(ap: usize, bp: usize, k: usize, c: usize, ldc: usize, acc: bool): void {
  let l0 = i64x2.splat(0), h0 = i64x2.splat(0), x0 = i64x2.splat(0);
  let l1 = i64x2.splat(0), h1 = i64x2.splat(0), x1 = i64x2.splat(0);
  let s04: u64 = 0, s05: u64 = 0, s14: u64 = 0, s15: u64 = 0;
  const end = ap + (k << 4);
  while (ap < end) {
    const bl = v128.load(bp), bh = v128.load(bp, 16);
    const b4 = load<u64>(bp, 32), b5 = load<u64>(bp, 40);
    let al = v128.load32_splat(ap), ah = v128.load32_splat(ap, 4);
    l0 = i64x2.add(l0, i64x2.extmul_low_i32x4_u(al, bl));
    h0 = i64x2.add(h0, i64x2.extmul_high_i32x4_u(al, bl));
    x0 = i32x4.add(x0, i32x4.add(i32x4.mul(al, bh), i32x4.mul(ah, bl)));
    const a0 = load<u64>(ap);
    s04 += a0 * b4;
    s05 += a0 * b5;
    al = v128.load32_splat(ap, 8);
    ah = v128.load32_splat(ap, 12);
    l1 = i64x2.add(l1, i64x2.extmul_low_i32x4_u(al, bl));
    h1 = i64x2.add(h1, i64x2.extmul_high_i32x4_u(al, bl));
    x1 = i32x4.add(x1, i32x4.add(i32x4.mul(al, bh), i32x4.mul(ah, bl)));
    const a1 = load<u64>(ap, 8);
    s14 += a1 * b4;
    s15 += a1 * b5;
    ap += 16;
    bp += PANEL_ROW;
  }
  if (acc) {
    s04 += load<u64>(c, 32);
    s05 += load<u64>(c, 40);
    s14 += load<u64>(c + ldc, 32);
    s15 += load<u64>(c + ldc, 40);
  }
  finish(c, l0, h0, x0, acc);
  store<u64>(c, s04, 32);
  store<u64>(c, s05, 40);
  c += ldc;
  finish(c, l1, h1, x1, acc);
  store<u64>(c, s14, 32);
  store<u64>(c, s15, 40);
}

// One row of A (row 0 of a packed panel, [p][2]) against 6 plain u64 columns of B per row, read in place at b
// with row stride ldb bytes; the first four are split into halves with two shuffles per row.
// @ts-ignore: decorator
@inline function kernelRow(ap: usize, b: usize, ldb: usize, k: usize, c: usize): void {
  let l0 = i64x2.splat(0), h0 = i64x2.splat(0), x0 = i64x2.splat(0);
  let s04: u64 = 0, s05: u64 = 0;
  const end = ap + (k << 4);
  while (ap < end) {
    const v0 = v128.load(b), v1 = v128.load(b, 16);
    const bl = i32x4.shuffle(v0, v1, 0, 2, 4, 6);
    const bh = i32x4.shuffle(v0, v1, 1, 3, 5, 7);
    const al = v128.load32_splat(ap), ah = v128.load32_splat(ap, 4);
    l0 = i64x2.add(l0, i64x2.extmul_low_i32x4_u(al, bl));
    h0 = i64x2.add(h0, i64x2.extmul_high_i32x4_u(al, bl));
    x0 = i32x4.add(x0, i32x4.add(i32x4.mul(al, bh), i32x4.mul(ah, bl)));
    const a0 = load<u64>(ap);
    s04 += a0 * load<u64>(b, 32);
    s05 += a0 * load<u64>(b, 40);
    ap += 16;
    b += ldb;
  }
  finish(c, l0, h0, x0, false);
  store<u64>(c, s04, 32);
  store<u64>(c, s05, 40);
}

// Rows i0 and i0 + 1 of A into ap[p][2]; A(i, p) is at a + (i * sai + p * sap) * 8. A missing second row is zero.
function packA(a: usize, sai: usize, sap: usize, i0: usize, m: usize, k: usize, ap: usize): void {
  let s0 = a + ((i0 * sai) << 3);
  const step = sap << 3;
  const end = ap + (k << 4);
  if (i0 + 1 < m) {
    const d1 = sai << 3;
    while (ap < end) {
      store<u64>(ap, load<u64>(s0));
      store<u64>(ap, load<u64>(s0 + d1), 8);
      s0 += step;
      ap += 16;
    }
  } else {
    while (ap < end) {
      store<u64>(ap, load<u64>(s0));
      store<u64>(ap, 0, 8);
      s0 += step;
      ap += 16;
    }
  }
}

// One packed row (index p) of the panel starting at column jq with w valid columns, element by element.
function packRowAny(b: usize, sbp: usize, sbj: usize, jq: usize, w: usize, p: usize, d: usize): void {
  for (let j: usize = 0; j < NR; j++) {
    const v: u64 = j < w ? load<u64>(b + ((p * sbp + (jq + j) * sbj) << 3)) : 0;
    if (j < 4) {
      store<u32>(d + (j << 2), <u32>v);
      store<u32>(d + 16 + (j << 2), <u32>(v >> 32));
    } else {
      store<u64>(d + 32 + ((j - 4) << 3), v);
    }
  }
}

// Columns [j0, j0 + cols) of B into split panels (see top); B(p, j) is at b + (p * sbp + j * sbj) * 8.
// Columns past the last are zero, so edge panels run through the same kernel.
function packB(b: usize, sbp: usize, sbj: usize, j0: usize, cols: usize, k: usize, bp: usize): void {
  const panels = (cols + NR - 1) / NR;
  for (let q: usize = 0; q < panels; q++) {
    const jq = j0 + q * NR;
    const w = cols - q * NR < NR ? cols - q * NR : NR;
    let d = bp + q * k * PANEL_ROW;
    if (w == NR && sbj == 1) {
      // Rows of B: the six columns are adjacent; split the first four into low and high halves.
      let s = b + ((jq * sbj) << 3);
      const step = sbp << 3;
      for (let p: usize = 0; p < k; p++) {
        const v0 = v128.load(s), v1 = v128.load(s, 16);
        v128.store(d, i32x4.shuffle(v0, v1, 0, 2, 4, 6));
        v128.store(d, i32x4.shuffle(v0, v1, 1, 3, 5, 7), 16);
        v128.store(d, v128.load(s, 32), 32);
        s += step;
        d += PANEL_ROW;
      }
    } else if (w == NR && sbp == 1) {
      // Rows of B^T: six streams contiguous in p; two p at a time, transposed with shuffles.
      const r0 = b + ((jq * sbj) << 3);
      const rs = sbj << 3;
      let p: usize = 0;
      for (; p + 1 < k; p += 2) {
        const o = r0 + (p << 3);
        const v0 = v128.load(o), v1 = v128.load(o + rs), v2 = v128.load(o + 2 * rs), v3 = v128.load(o + 3 * rs);
        const v4 = v128.load(o + 4 * rs), v5 = v128.load(o + 5 * rs);
        // In i32 lanes v_s = [lo s(p), hi s(p), lo s(p+1), hi s(p+1)] for column s.
        const t01 = i32x4.shuffle(v0, v1, 0, 4, 1, 5);
        const t23 = i32x4.shuffle(v2, v3, 0, 4, 1, 5);
        const u01 = i32x4.shuffle(v0, v1, 2, 6, 3, 7);
        const u23 = i32x4.shuffle(v2, v3, 2, 6, 3, 7);
        v128.store(d, i32x4.shuffle(t01, t23, 0, 1, 4, 5));
        v128.store(d, i32x4.shuffle(t01, t23, 2, 3, 6, 7), 16);
        v128.store(d, i64x2.shuffle(v4, v5, 0, 2), 32);
        v128.store(d, i32x4.shuffle(u01, u23, 0, 1, 4, 5), 48);
        v128.store(d, i32x4.shuffle(u01, u23, 2, 3, 6, 7), 64);
        v128.store(d, i64x2.shuffle(v4, v5, 1, 3), 80);
        d += 2 * PANEL_ROW;
      }
      if (p < k) packRowAny(b, sbp, sbj, jq, w, p, d);
    } else {
      for (let p: usize = 0; p < k; p++) {
        packRowAny(b, sbp, sbj, jq, w, p, d);
        d += PANEL_ROW;
      }
    }
  }
}

// Copies (acc: adds) the valid rows x cols of the EDGE tile to c (row stride ldc bytes).
function storeEdge(c: usize, ldc: usize, rows: usize, cols: usize, acc: bool): void {
  for (let r: usize = 0; r < rows; r++) {
    const d = c + r * ldc;
    const s = EDGE + r * PANEL_ROW;
    if (acc) {
      for (let j: usize = 0; j < cols; j++) store<u64>(d + (j << 3), load<u64>(d + (j << 3)) + load<u64>(s + (j << 3)));
    } else {
      memory.copy(d, s, cols << 3);
    }
  }
}

function runPacked(
  a: usize, b: usize, c: usize, batch: usize, m: usize, k: usize, n: usize,
  sai: usize, sap: usize, sbp: usize, sbj: usize, aStep: usize, bStep: usize, scratch: usize,
): void {
  const ap = scratch;
  const bp = scratch + ((KC * MR) << 3);
  const ldc = n << 3;
  for (let jc: usize = 0; jc < n; jc += NC) {
    const cols = n - jc < NC ? n - jc : NC;
    for (let pc: usize = 0; pc < k; pc += KC) {
      const kb = k - pc < KC ? k - pc : KC;
      const acc = pc > 0;
      for (let t: usize = 0; t < batch; t++) {
        if (t == 0 || bStep != 0) packB(b + t * bStep + ((pc * sbp) << 3), sbp, sbj, jc, cols, kb, bp);
        const at = a + t * aStep + ((pc * sap) << 3);
        const ct = c + ((t * m * n) << 3);
        for (let i0: usize = 0; i0 < m; i0 += MR) {
          packA(at, sai, sap, i0, m, kb, ap);
          const rows = m - i0 < MR ? m - i0 : MR;
          for (let j: usize = 0; j < cols; j += NR) {
            const panel = bp + (j / NR) * kb * PANEL_ROW;
            const w = cols - j < NR ? cols - j : NR;
            const cij = ct + ((i0 * n + jc + j) << 3);
            if (rows == MR && w == NR) {
              kernelPacked(ap, panel, kb, cij, ldc, acc);
            } else {
              kernelPacked(ap, panel, kb, EDGE, PANEL_ROW, false);
              storeEdge(cij, ldc, rows, w, acc);
            }
          }
        }
      }
    }
  }
}

function runRow(
  a: usize, b: usize, c: usize, batch: usize, k: usize, n: usize, sap: usize, aStep: usize, bStep: usize, scratch: usize,
): void {
  const ap = scratch;
  const tailPanel = scratch + (k << 4);
  const full = n - n % NR;
  const ldb = n << 3;
  for (let t: usize = 0; t < batch; t++) {
    const bt = b + t * bStep;
    const ct = c + ((t * n) << 3);
    packA(a + t * aStep, 0, sap, 0, 1, k, ap);
    for (let j: usize = 0; j < full; j += NR) kernelRow(ap, bt + (j << 3), ldb, k, ct + (j << 3));
    if (full < n) {
      // The last, narrower strip is copied out zero-padded so the kernel never reads past B's end.
      for (let p: usize = 0; p < k; p++) {
        const d = tailPanel + p * PANEL_ROW;
        memory.fill(d, 0, PANEL_ROW);
        memory.copy(d, bt + ((p * n + full) << 3), (n - full) << 3);
      }
      kernelRow(ap, tailPanel, PANEL_ROW, k, EDGE);
      storeEdge(ct + (full << 3), 0, 1, n - full, false);
    }
  }
}

// Low and high halves of four B^T row entries at b, as two i32x4 vectors.
// @ts-ignore: decorator
@inline function splitLo(b: usize): v128 {
  return i32x4.shuffle(v128.load(b), v128.load(b, 16), 0, 2, 4, 6);
}
// @ts-ignore: decorator
@inline function splitHi(b: usize): v128 {
  return i32x4.shuffle(v128.load(b), v128.load(b, 16), 1, 3, 5, 7);
}

// Sum of the two u64 lanes of l plus the four u32 lanes of x shifted up by 32.
// @ts-ignore: decorator
@inline function reduce(l: v128, x: v128): u64 {
  const xs = <u32>(i32x4.extract_lane(x, 0) + i32x4.extract_lane(x, 1) + i32x4.extract_lane(x, 2) + i32x4.extract_lane(x, 3));
  return <u64>i64x2.extract_lane(l, 0) + <u64>i64x2.extract_lane(l, 1) + (<u64>xs << 32);
}

// Dot products of one split A row (arow, k4 entries) with B^T rows b0 and b1, plus the k - k4 tail entries
// taken unsplit from ai (A stride sap); results to c and c + 8.
// @ts-ignore: decorator
@inline function dot2(arow: usize, ai: usize, sap: usize, b0: usize, b1: usize, k4: usize, k: usize, c: usize): void {
  let l0 = i64x2.splat(0), x0 = i64x2.splat(0), l1 = i64x2.splat(0), x1 = i64x2.splat(0);
  const end = arow + (k4 << 3);
  while (arow < end) {
    const al = v128.load(arow), ah = v128.load(arow, 16);
    let bl = splitLo(b0), bh = splitHi(b0);
    l0 = i64x2.add(l0, i64x2.add(i64x2.extmul_low_i32x4_u(al, bl), i64x2.extmul_high_i32x4_u(al, bl)));
    x0 = i32x4.add(x0, i32x4.add(i32x4.mul(al, bh), i32x4.mul(ah, bl)));
    bl = splitLo(b1);
    bh = splitHi(b1);
    l1 = i64x2.add(l1, i64x2.add(i64x2.extmul_low_i32x4_u(al, bl), i64x2.extmul_high_i32x4_u(al, bl)));
    x1 = i32x4.add(x1, i32x4.add(i32x4.mul(al, bh), i32x4.mul(ah, bl)));
    arow += 32;
    b0 += 32;
    b1 += 32;
  }
  let s0 = reduce(l0, x0), s1 = reduce(l1, x1);
  for (let p = k4; p < k; p++) {
    const av = load<u64>(ai + ((p * sap) << 3));
    s0 += av * load<u64>(b0);
    s1 += av * load<u64>(b1);
    b0 += 8;
    b1 += 8;
  }
  store<u64>(c, s0);
  store<u64>(c, s1, 8);
}

// @ts-ignore: decorator
@inline function dot1(arow: usize, ai: usize, sap: usize, b0: usize, k4: usize, k: usize, c: usize): void {
  let l0 = i64x2.splat(0), x0 = i64x2.splat(0);
  const end = arow + (k4 << 3);
  while (arow < end) {
    const al = v128.load(arow), ah = v128.load(arow, 16);
    const bl = splitLo(b0), bh = splitHi(b0);
    l0 = i64x2.add(l0, i64x2.add(i64x2.extmul_low_i32x4_u(al, bl), i64x2.extmul_high_i32x4_u(al, bl)));
    x0 = i32x4.add(x0, i32x4.add(i32x4.mul(al, bh), i32x4.mul(ah, bl)));
    arow += 32;
    b0 += 32;
  }
  let s0 = reduce(l0, x0);
  for (let p = k4; p < k; p++) {
    s0 += load<u64>(ai + ((p * sap) << 3)) * load<u64>(b0);
    b0 += 8;
  }
  store<u64>(c, s0);
}

function runDot(
  a: usize, b: usize, c: usize, batch: usize, m: usize, k: usize, n: usize,
  sai: usize, sap: usize, aStep: usize, bStep: usize, scratch: usize,
): void {
  const k4 = k & ~(<usize>3);
  const rowBytes = k << 3;
  const splitBytes = k4 << 3;
  const ldc = n << 3;
  for (let t: usize = 0; t < batch; t++) {
    const bt = b + t * bStep;
    const at = a + t * aStep;
    const ct = c + ((t * m * n) << 3);
    // Every A row split into chunks of four p: [lo x4 | hi x4].
    for (let i: usize = 0; i < m; i++) {
      const ai = at + ((i * sai) << 3);
      const arow = scratch + i * splitBytes;
      for (let p: usize = 0; p < k4; p++) {
        const v = load<u64>(ai + ((p * sap) << 3));
        const d = arow + ((p >> 2) << 5) + ((p & 3) << 2);
        store<u32>(d, <u32>v);
        store<u32>(d + 16, <u32>(v >> 32));
      }
    }
    // Two B^T rows at a time against every A row, so those rows are read from memory once.
    let j: usize = 0;
    for (; j + 1 < n; j += 2) {
      const b0 = bt + j * rowBytes;
      for (let i: usize = 0; i < m; i++) {
        dot2(scratch + i * splitBytes, at + ((i * sai) << 3), sap, b0, b0 + rowBytes, k4, k, ct + i * ldc + (j << 3));
      }
    }
    if (j < n) {
      for (let i: usize = 0; i < m; i++) {
        dot1(scratch + i * splitBytes, at + ((i * sai) << 3), sap, bt + j * rowBytes, k4, k, ct + i * ldc + (j << 3));
      }
    }
  }
}

export const FLAG_TRANS_A: u32 = 1;
export const FLAG_TRANS_B: u32 = 2;
export const FLAG_BROADCAST_B: u32 = 4;

const PATH_PACKED = 0;
const PATH_ROW = 1;
const PATH_DOT = 2;

// Which path a product takes after folding (see matmul); scratch sizes depend on it.
function pathFor(m: usize, transB: bool): i32 {
  if (transB) return m > DOT_MAX_M ? PATH_PACKED : PATH_DOT;
  return m == 1 ? PATH_ROW : PATH_PACKED;
}

// Folds a broadcast B with untransposed A into one tall product: the batches of A are stacked rows.
function foldedM(batch: usize, m: usize, flags: u32): usize {
  return (flags & FLAG_BROADCAST_B) != 0 && (flags & FLAG_TRANS_A) == 0 ? batch * m : m;
}

// Bytes of scratch matmul needs for these dimensions.
export function matmulScratchBytes(batch: usize, m: usize, k: usize, n: usize, flags: u32): usize {
  const mm = foldedM(batch, m, flags);
  const path = pathFor(mm, (flags & FLAG_TRANS_B) != 0);
  if (path == PATH_PACKED) {
    const kb = k < KC ? k : KC;
    const cols = n < NC ? n : NC;
    return ((KC * MR) << 3) + ((cols + NR - 1) / NR) * kb * PANEL_ROW;
  }
  if (path == PATH_ROW) return (k << 4) + k * PANEL_ROW;
  return mm * ((k & ~(<usize>3)) << 3);
}

// c = a x b per batch; dims and layouts as MatmulDims in packages/backend/src/backend.ts. c must not overlap
// a or b; scratch holds matmulScratchBytes(...) bytes.
export function matmul(
  a: usize, b: usize, c: usize, batch: usize, m: usize, k: usize, n: usize, flags: u32, scratch: usize,
): void {
  const transA = (flags & FLAG_TRANS_A) != 0;
  const transB = (flags & FLAG_TRANS_B) != 0;
  const broadcast = (flags & FLAG_BROADCAST_B) != 0;
  const aStep = (m * k) << 3;
  const bStep: usize = broadcast ? 0 : (k * n) << 3;
  const mm = foldedM(batch, m, flags);
  if (mm != m) {
    batch = 1;
    m = mm;
  }
  if (m == 0 || n == 0) return;
  if (k == 0) {
    memory.fill(c, 0, (batch * m * n) << 3);
    return;
  }
  const sai: usize = transA ? 1 : k;
  const sap: usize = transA ? m : 1;
  const path = pathFor(m, transB);
  if (path == PATH_PACKED) {
    const sbp: usize = transB ? 1 : n;
    const sbj: usize = transB ? k : 1;
    runPacked(a, b, c, batch, m, k, n, sai, sap, sbp, sbj, aStep, bStep, scratch);
  } else if (path == PATH_ROW) {
    runRow(a, b, c, batch, k, n, sap, aStep, bStep, scratch);
  } else {
    runDot(a, b, c, batch, m, k, n, sai, sap, aStep, bStep, scratch);
  }
}
