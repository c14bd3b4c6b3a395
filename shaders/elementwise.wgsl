// Elementwise ring and bit ops over flat vectors. One invocation per element; the host may split a long
// vector into several dispatches over sub-ranges of the same buffers (each within one storage binding).

struct Params {
  n: u32,
  // shift amount, 0..63
  k: u32,
  // public scalar for add_scalar / mul_scalar
  s: vec2<u32>,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> b: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec2<u32>>;

@compute @workgroup_size(WG)
fn add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < params.n) {
    out[i] = u64_add(a[i], b[i]);
  }
}

@compute @workgroup_size(WG)
fn sub(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < params.n) {
    out[i] = u64_sub(a[i], b[i]);
  }
}

@compute @workgroup_size(WG)
fn mul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < params.n) {
    out[i] = u64_mul(a[i], b[i]);
  }
}

@compute @workgroup_size(WG)
fn bit_and(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < params.n) {
    out[i] = a[i] & b[i];
  }
}

@compute @workgroup_size(WG)
fn bit_or(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < params.n) {
    out[i] = a[i] | b[i];
  }
}

@compute @workgroup_size(WG)
fn bit_xor(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < params.n) {
    out[i] = a[i] ^ b[i];
  }
}

@compute @workgroup_size(WG)
fn neg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < params.n) {
    out[i] = u64_neg(a[i]);
  }
}

@compute @workgroup_size(WG)
fn bit_not(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < params.n) {
    out[i] = ~a[i];
  }
}

@compute @workgroup_size(WG)
fn add_scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < params.n) {
    out[i] = u64_add(a[i], params.s);
  }
}

@compute @workgroup_size(WG)
fn mul_scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < params.n) {
    out[i] = u64_mul(a[i], params.s);
  }
}

@compute @workgroup_size(WG)
fn shl(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < params.n) {
    out[i] = u64_shl(a[i], params.k);
  }
}

@compute @workgroup_size(WG)
fn shr_logical(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < params.n) {
    out[i] = u64_shr_logical(a[i], params.k);
  }
}

@compute @workgroup_size(WG)
fn shr_arith(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < params.n) {
    out[i] = u64_shr_arith(a[i], params.k);
  }
}
