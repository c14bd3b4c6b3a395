// Batched matrix product mod 2^64. A workgroup of 16 x 16 invocations computes a 64 x 64 tile of the
// output, each invocation a 4 x 4 sub-grid (rows ty + 16 i, columns tx + 16 j, so neighbouring invocations
// touch neighbouring workgroup-memory words). The K axis is walked in slabs of 16 staged in workgroup memory.
//
// Operands are addressed through strides, which covers transA, transB and broadcastB with one kernel:
//   A(t, i, p) = a_off + t * a_bs + i * a_rs + p * a_ps
//   B(t, p, j) = b_off + t * b_bs + p * b_ps + j * b_cs
//   C(t, i, j) = c_off + t * c_bs + i * n + j
// with t the batch within this dispatch (workgroup z) and i the row within this dispatch. The host splits
// large products along output rows and batches and binds each piece's ranges separately.

struct Params {
  // rows of C computed per batch by this dispatch
  m: u32,
  k: u32,
  n: u32,
  _pad0: u32,
  a_off: u32,
  a_bs: u32,
  a_rs: u32,
  a_ps: u32,
  b_off: u32,
  b_bs: u32,
  b_ps: u32,
  b_cs: u32,
  c_off: u32,
  c_bs: u32,
  _pad1: u32,
  _pad2: u32,
}

const TILE: u32 = 64u;
const SLAB: u32 = 16u;
const THREADS: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> b: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec2<u32>>;

// a_tile[p][i] = A(row0 + i, p0 + p), b_tile[p][j] = B(p0 + p, col0 + j); 8 KiB each.
var<workgroup> a_tile: array<array<vec2<u32>, TILE>, SLAB>;
var<workgroup> b_tile: array<array<vec2<u32>, TILE>, SLAB>;

@compute @workgroup_size(16, 16)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = wid.z;
  let row0 = wid.y * TILE;
  let col0 = wid.x * TILE;
  let tx = local.x;
  let ty = local.y;
  let a_base = params.a_off + t * params.a_bs;
  let b_base = params.b_off + t * params.b_bs;
  // Load so that consecutive invocations read consecutive addresses: along p when A's rows are contiguous,
  // along i when A is transposed (and likewise for B's columns).
  let a_p_fast = params.a_ps == 1u;
  let b_j_fast = params.b_cs == 1u;

  var acc: array<vec2<u32>, 16>;
  for (var q = 0u; q < 16u; q++) {
    acc[q] = vec2<u32>(0u, 0u);
  }

  for (var p0 = 0u; p0 < params.k; p0 += SLAB) {
    for (var q = 0u; q < 4u; q++) {
      let idx = lid + q * THREADS;
      var i: u32;
      var p: u32;
      if (a_p_fast) {
        i = idx / SLAB;
        p = idx % SLAB;
      } else {
        i = idx % TILE;
        p = idx / TILE;
      }
      var v = vec2<u32>(0u, 0u);
      if (row0 + i < params.m && p0 + p < params.k) {
        v = a[a_base + (row0 + i) * params.a_rs + (p0 + p) * params.a_ps];
      }
      a_tile[p][i] = v;

      var j: u32;
      var pb: u32;
      if (b_j_fast) {
        j = idx % TILE;
        pb = idx / TILE;
      } else {
        j = idx / SLAB;
        pb = idx % SLAB;
      }
      var w = vec2<u32>(0u, 0u);
      if (col0 + j < params.n && p0 + pb < params.k) {
        w = b[b_base + (p0 + pb) * params.b_ps + (col0 + j) * params.b_cs];
      }
      b_tile[pb][j] = w;
    }
    workgroupBarrier();

    for (var p = 0u; p < SLAB; p++) {
      let a0 = a_tile[p][ty];
      let a1 = a_tile[p][ty + 16u];
      let a2 = a_tile[p][ty + 32u];
      let a3 = a_tile[p][ty + 48u];
      let b0 = b_tile[p][tx];
      let b1 = b_tile[p][tx + 16u];
      let b2 = b_tile[p][tx + 32u];
      let b3 = b_tile[p][tx + 48u];
      acc[0] = u64_mul_add(acc[0], a0, b0);
      acc[1] = u64_mul_add(acc[1], a0, b1);
      acc[2] = u64_mul_add(acc[2], a0, b2);
      acc[3] = u64_mul_add(acc[3], a0, b3);
      acc[4] = u64_mul_add(acc[4], a1, b0);
      acc[5] = u64_mul_add(acc[5], a1, b1);
      acc[6] = u64_mul_add(acc[6], a1, b2);
      acc[7] = u64_mul_add(acc[7], a1, b3);
      acc[8] = u64_mul_add(acc[8], a2, b0);
      acc[9] = u64_mul_add(acc[9], a2, b1);
      acc[10] = u64_mul_add(acc[10], a2, b2);
      acc[11] = u64_mul_add(acc[11], a2, b3);
      acc[12] = u64_mul_add(acc[12], a3, b0);
      acc[13] = u64_mul_add(acc[13], a3, b1);
      acc[14] = u64_mul_add(acc[14], a3, b2);
      acc[15] = u64_mul_add(acc[15], a3, b3);
    }
    workgroupBarrier();
  }

  let c_base = params.c_off + t * params.c_bs;
  for (var q = 0u; q < 16u; q++) {
    let i = row0 + ty + 16u * (q / 4u);
    let j = col0 + tx + 16u * (q % 4u);
    if (i < params.m && j < params.n) {
      c[c_base + i * params.n + j] = acc[q];
    }
  }
}
