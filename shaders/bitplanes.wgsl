// Bit-slicing (Backend.toBitPlanes / fromBitPlanes). One workgroup of 64 invocations per block of 64
// elements: the block is staged in workgroup memory and each invocation assembles one word of the output,
// so every input word is read from global memory once.

struct Params {
  // number of elements
  n: u32,
  // words per plane, ceil(n / 64)
  w: u32,
  // planes present in the input of from_bit_planes
  planes: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<vec2<u32>>;

var<workgroup> block: array<vec2<u32>, 64>;

fn bit_of(v: vec2<u32>, j: u32) -> u32 {
  if (j < 32u) {
    return (v.x >> j) & 1u;
  }
  return (v.y >> (j - 32u)) & 1u;
}

// Workgroup w turns elements 64w .. 64w + 63 into word w of each of the 64 planes.
@compute @workgroup_size(64)
fn to_bit_planes(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = wid.y * nwg.x + wid.x;
  if (w >= params.w) {
    return;
  }
  let e = w * 64u + lid;
  var v = vec2<u32>(0u, 0u);
  if (e < params.n) {
    v = src[e];
  }
  block[lid] = v;
  workgroupBarrier();
  // Invocation j gathers bit j of the 64 elements; elements past n were staged as zero.
  var lo = 0u;
  var hi = 0u;
  for (var b = 0u; b < 32u; b++) {
    lo |= bit_of(block[b], lid) << b;
    hi |= bit_of(block[b + 32u], lid) << b;
  }
  dst[lid * params.w + w] = vec2<u32>(lo, hi);
}

// Workgroup w rebuilds elements 64w .. 64w + 63 from word w of the first `planes` planes.
@compute @workgroup_size(64)
fn from_bit_planes(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = wid.y * nwg.x + wid.x;
  if (w >= params.w) {
    return;
  }
  var p = vec2<u32>(0u, 0u);
  if (lid < params.planes) {
    p = src[lid * params.w + w];
  }
  block[lid] = p;
  workgroupBarrier();
  let e = w * 64u + lid;
  if (e >= params.n) {
    return;
  }
  var lo = 0u;
  var hi = 0u;
  for (var j = 0u; j < 32u; j++) {
    lo |= bit_of(block[j], lid) << j;
    hi |= bit_of(block[j + 32u], lid) << j;
  }
  dst[e] = vec2<u32>(lo, hi);
}
