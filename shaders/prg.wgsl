// ChaCha20 keystream (RFC 8439 section 2.3) as little-endian u64 words: block c yields words 8c .. 8c + 7.
// One invocation per 64-byte block. The state is kept as four row vectors, so a column round is one vector
// quarter round and a diagonal round is the same after rotating rows b, c, d by 1, 2, 3 lanes.

struct Params {
  key: array<vec4<u32>, 2>,
  // nonce in x, y, z
  nonce: vec4<u32>,
  // block counter of dst[0]
  counter: u32,
  // words written by this dispatch
  n: u32,
  _pad0: u32,
  _pad1: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read_write> dst: array<vec2<u32>>;

fn rotl(v: vec4<u32>, n: u32) -> vec4<u32> {
  return (v << vec4<u32>(n)) | (v >> vec4<u32>(32u - n));
}

struct State {
  a: vec4<u32>,
  b: vec4<u32>,
  c: vec4<u32>,
  d: vec4<u32>,
}

fn quarter(s: State) -> State {
  var r = s;
  r.a += r.b; r.d = rotl(r.d ^ r.a, 16u);
  r.c += r.d; r.b = rotl(r.b ^ r.c, 12u);
  r.a += r.b; r.d = rotl(r.d ^ r.a, 8u);
  r.c += r.d; r.b = rotl(r.b ^ r.c, 7u);
  return r;
}

@compute @workgroup_size(WG)
fn chacha20(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let blk = linear_index(wid, nwg, lid, WG);
  let first = blk * 8u;
  if (first >= params.n) {
    return;
  }
  var init: State;
  init.a = vec4<u32>(0x61707865u, 0x3320646eu, 0x79622d32u, 0x6b206574u);
  init.b = params.key[0];
  init.c = params.key[1];
  init.d = vec4<u32>(params.counter + blk, params.nonce.x, params.nonce.y, params.nonce.z);
  var s = init;
  for (var i = 0u; i < 10u; i++) {
    s = quarter(s);
    s.b = s.b.yzwx;
    s.c = s.c.zwxy;
    s.d = s.d.wxyz;
    s = quarter(s);
    s.b = s.b.wxyz;
    s.c = s.c.zwxy;
    s.d = s.d.yzwx;
  }
  s.a += init.a;
  s.b += init.b;
  s.c += init.c;
  s.d += init.d;
  var words = array<vec2<u32>, 8>(s.a.xy, s.a.zw, s.b.xy, s.b.zw, s.c.xy, s.c.zw, s.d.xy, s.d.zw);
  let count = min(8u, params.n - first);
  for (var j = 0u; j < count; j++) {
    dst[first + j] = words[j];
  }
}
