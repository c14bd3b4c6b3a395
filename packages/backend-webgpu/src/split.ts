/**
 * Planning of dispatches that must stay within one storage binding each. A GPU buffer may be larger than
 * maxStorageBufferBindingSize (and the backend may be told to pretend a smaller one, for tests), so long
 * kernels are cut into pieces, each binding only the range of every operand it touches. Binding offsets must
 * be multiples of minStorageBufferOffsetAlignment, so a range that starts unaligned costs up to
 * `alignElems - 1` extra elements. Everything here counts u64 elements and is pure, so it is tested without
 * a GPU.
 */

export interface BindingLimits {
  /** Largest binding, in u64 elements. */
  maxElems: number;
  /** Binding offset alignment, in u64 elements. */
  alignElems: number;
}

/** Elements a binding spans to cover [start, start + count) when its offset is rounded down to alignment. */
export function alignedRange(start: number, count: number, alignElems: number): { base: number; size: number } {
  const base = Math.floor(start / alignElems) * alignElems;
  return { base, size: start - base + count };
}

/** Whether a range of `span` elements fits one binding wherever it starts. */
export function fits(span: number, limits: BindingLimits): boolean {
  return span + limits.alignElems - 1 <= limits.maxElems;
}

/** Largest c in [1, upper] with ok(c), for ok true up to some point and false after; 0 when ok(1) fails. */
export function largest(upper: number, ok: (c: number) => boolean): number {
  if (upper < 1 || !ok(1)) return 0;
  let lo = 1;
  let hi = upper;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** [start, count] pieces of at most `size` covering [0, total). */
export function pieces(total: number, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let s = 0; s < total; s += size) out.push([s, Math.min(size, total - s)]);
  return out;
}

/**
 * Piece length for kernels that read and write the same indices of equally long vectors: pieces start at
 * multiples of the alignment, so they need no slack.
 */
export function alignedChunk(limits: BindingLimits, multipleOf = 1): number {
  const step = lcm(limits.alignElems, multipleOf);
  const chunk = Math.floor(limits.maxElems / step) * step;
  if (chunk < 1) throw new Error(`storage binding limit of ${limits.maxElems} elements is below one aligned piece of ${step}`);
  return chunk;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

/** Strides of A, B and C of a batched matmul as the WGSL kernel addresses them (see shaders/matmul.wgsl). */
export interface MatmulStrides {
  aBs: number;
  aRs: number;
  aPs: number;
  bBs: number;
  bPs: number;
  bCs: number;
  cBs: number;
}

export function matmulStrides(m: number, k: number, n: number, transA: boolean, transB: boolean, broadcastB: boolean): MatmulStrides {
  return {
    aBs: m * k,
    aRs: transA ? 1 : k,
    aPs: transA ? m : 1,
    bBs: broadcastB ? 0 : k * n,
    bPs: transB ? 1 : n,
    bCs: transB ? k : 1,
    cBs: m * n,
  };
}

/** One dispatch of a split matmul: batches [t0, t0 + bz), output rows [i0, i0 + mc) of each. */
export interface MatmulPiece {
  t0: number;
  bz: number;
  i0: number;
  mc: number;
}

/** Rows and columns of C one workgroup computes (shaders/matmul.wgsl). */
export const MATMUL_TILE = 64;

/**
 * Splits a matmul into dispatches whose operand ranges each fit one binding and whose grids respect the
 * per-dimension workgroup limit: whole batches when they fit, else rows of one batch's output.
 */
export function planMatmul(
  batch: number,
  m: number,
  k: number,
  n: number,
  s: MatmulStrides,
  limits: BindingLimits,
  maxGroups: number,
): MatmulPiece[] {
  if (Math.ceil(n / MATMUL_TILE) > maxGroups) throw new Error(`matmul: n = ${n} needs more than ${maxGroups} workgroups along x`);
  const spanA = (bz: number, mc: number) => (bz - 1) * s.aBs + (mc - 1) * s.aRs + (k - 1) * s.aPs + 1;
  const spanB = (bz: number) => (bz - 1) * s.bBs + (k - 1) * s.bPs + (n - 1) * s.bCs + 1;
  const spanC = (bz: number, mc: number) => (bz - 1) * s.cBs + (mc - 1) * n + n;
  const ok = (bz: number, mc: number) => fits(spanA(bz, mc), limits) && fits(spanB(bz), limits) && fits(spanC(bz, mc), limits);
  const rowCap = Math.min(m, maxGroups * MATMUL_TILE);
  const out: MatmulPiece[] = [];
  if (rowCap === m && ok(1, m)) {
    const bz = largest(Math.min(batch, maxGroups), (b) => ok(b, m));
    for (const [t0, count] of pieces(batch, bz)) out.push({ t0, bz: count, i0: 0, mc: m });
    return out;
  }
  if (!fits(spanB(1), limits)) throw new Error(`matmul: operand b (${k} x ${n} per batch) does not fit one storage binding of ${limits.maxElems} elements`);
  if (!fits(spanA(1, 1), limits)) throw new Error(`matmul: operand a (${m} x ${k} per batch, transposed) does not fit one storage binding of ${limits.maxElems} elements`);
  // An output row (n elements) is never longer than one batch of b, so a single row now fits.
  const mc = largest(rowCap, (r) => ok(1, r));
  for (let t = 0; t < batch; t++) for (const [i0, count] of pieces(m, mc)) out.push({ t0: t, bz: 1, i0, mc: count });
  return out;
}

/**
 * Splits `rows` rows into pieces whose operand spans (given per piece row count) each fit one binding.
 * Throws naming the kernel when not even one row fits.
 */
export function planRows(kernel: string, rows: number, spans: (rc: number) => number[], limits: BindingLimits, maxRows = rows): Array<[number, number]> {
  const rc = largest(Math.min(rows, maxRows), (r) => spans(r).every((sp) => fits(sp, limits)));
  if (rc === 0) throw new Error(`${kernel}: one row does not fit one storage binding of ${limits.maxElems} elements`);
  return pieces(rows, rc);
}

/** Workgroup grid for `groups` workgroups, spread over x and y when x alone would exceed the limit. */
export function grid2d(groups: number, maxGroups: number): [number, number] {
  if (groups <= maxGroups) return [groups, 1];
  const y = Math.ceil(groups / maxGroups);
  if (y > maxGroups) throw new Error(`${groups} workgroups exceed a ${maxGroups} x ${maxGroups} grid`);
  return [maxGroups, y];
}
