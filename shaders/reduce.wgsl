// Row sums (Backend.sumRows): one workgroup per row. Each invocation adds a strided subset of the row, then
// the partial sums are combined in workgroup memory. Addition mod 2^64 is associative and commutative, so
// the order does not change the result.

struct Params {
  rows: u32,
  cols: u32,
  // where the first row starts in the bound range of src, and its sum goes in dst (the host may split the
  // rows over several dispatches with unaligned starts)
  src_off: u32,
  dst_off: u32,
}

const RWG: u32 = 64u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<vec2<u32>>;

var<workgroup> partial: array<vec2<u32>, RWG>;

@compute @workgroup_size(RWG)
fn sum_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.rows) {
    return;
  }
  let base = params.src_off + row * params.cols;
  var acc = vec2<u32>(0u, 0u);
  for (var c = lid; c < params.cols; c += RWG) {
    acc = u64_add(acc, src[base + c]);
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var span = RWG / 2u; span > 0u; span >>= 1u) {
    if (lid < span) {
      partial[lid] = u64_add(partial[lid], partial[lid + span]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    dst[params.dst_off + row] = partial[0];
  }
}
