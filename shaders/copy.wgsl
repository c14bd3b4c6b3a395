// Data movement kernels: strided 2-D copies (sliceCols, concatCols), repeatEach, tile and transpose.
// The host may split an output into several dispatches, each binding its own ranges of dst and src. For
// repeat_each, tile_vec and transpose_nd invocation i writes element out_base + i of the whole output into
// dst[i], and src[0] is element in_base of the whole input.

struct CopyParams {
  // elements written by this dispatch
  count: u32,
  // global index of dst[0] in the whole output
  out_base: u32,
  // global index of src[0] in the whole input
  in_base: u32,
  // copy_2d: columns copied per row; repeat_each: repetitions; tile_vec: input length
  cols: u32,
  // copy_2d: row lengths of the input and the output, and where the block's first element sits in the
  // bound ranges of src and dst
  in_stride: u32,
  out_stride: u32,
  in_off: u32,
  out_off: u32,
}

struct TransposeParams {
  count: u32,
  out_base: u32,
  in_base: u32,
  rank: u32,
  // output shape, and for each output axis the input stride of the axis it comes from (up to 8 axes)
  shape: array<vec4<u32>, 2>,
  stride: array<vec4<u32>, 2>,
}

override WG: u32 = 256u;

// Both parameter blocks sit at binding 0; each entry point uses only one of them.
@group(0) @binding(0) var<uniform> params: CopyParams;
@group(0) @binding(0) var<uniform> tparams: TransposeParams;
@group(0) @binding(1) var<storage, read> src: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<vec2<u32>>;

// copy_2d copies a block of `count / cols` rows and `cols` columns between two row-major matrices whose rows
// are in_stride and out_stride long (sliceCols, concatCols).
@compute @workgroup_size(WG)
fn copy_2d(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= params.count) {
    return;
  }
  let r = i / params.cols;
  let c = i % params.cols;
  dst[r * params.out_stride + c + params.out_off] = src[r * params.in_stride + c + params.in_off];
}

@compute @workgroup_size(WG)
fn repeat_each(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= params.count) {
    return;
  }
  dst[i] = src[(params.out_base + i) / params.cols - params.in_base];
}

@compute @workgroup_size(WG)
fn tile_vec(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= params.count) {
    return;
  }
  dst[i] = src[(params.out_base + i) % params.cols - params.in_base];
}

@compute @workgroup_size(WG)
fn transpose_nd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= tparams.count) {
    return;
  }
  // Peel output coordinates off from the last axis and accumulate the matching input offset.
  var rem = tparams.out_base + i;
  var src_index = 0u;
  for (var ax = tparams.rank; ax > 0u; ax--) {
    let d = ax - 1u;
    let extent = tparams.shape[d / 4u][d % 4u];
    src_index += (rem % extent) * tparams.stride[d / 4u][d % 4u];
    rem /= extent;
  }
  dst[i] = src[src_index - tparams.in_base];
}
