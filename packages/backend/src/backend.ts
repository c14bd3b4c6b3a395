/**
 * The kernels every protocol needs, over flat Z_2^64 vectors. A Buf is an opaque handle that lives where
 * the backend computes (WebAssembly memory or JS heap, or a GPU buffer), so shares stay on the device between
 * kernels and cross to the CPU only through `read` (when the protocol sends) and `upload` (when it receives).
 *
 * Kernels are synchronous to call: a GPU backend only records work; `read` waits for it. All arithmetic is
 * mod 2^64, all results are bit-identical across backends (checked by the conformance suite).
 * Shapes are the protocol layer's business: kernels take the dimensions they need explicitly.
 */
export interface Buf {
  /** Number of u64 elements. */
  readonly length: number;
}

export interface MatmulDims {
  /** Independent products: a is [batch, m, k] (or [batch, k, m] if transA), b is [batch, k, n] (or [batch, n, k] if transB). */
  batch?: number;
  m: number;
  k: number;
  n: number;
  transA?: boolean;
  transB?: boolean;
  /** When true, b has no batch dimension and is shared by every batch of a. */
  broadcastB?: boolean;
}

export interface Backend {
  /** 'wasm' or 'webgpu'. */
  readonly kind: string;
  /** Human-readable description (adapter name, etc.). */
  readonly description: string;

  upload(data: BigUint64Array): Buf;
  /**
   * n words written in place by `fill`, which gets exactly n words and must not call the backend: a stream made
   * on the host (a Node party's OpenSSL ChaCha20) lands where the backend computes with one copy fewer where the
   * backend can lend its memory (WebAssembly: a view of its heap), else through a staging array and upload.
   */
  uploadWith(n: number, fill: (into: BigUint64Array) => void): Buf;
  read(a: Buf): Promise<BigUint64Array>;
  zeros(n: number): Buf;
  /** Hands the buffer back to the pool; using it afterwards is an error. Optional to call. */
  release(a: Buf): void;

  // elementwise ring ops (lengths must match)
  add(a: Buf, b: Buf): Buf;
  sub(a: Buf, b: Buf): Buf;
  mul(a: Buf, b: Buf): Buf;
  neg(a: Buf): Buf;
  addScalar(a: Buf, s: bigint): Buf;
  mulScalar(a: Buf, s: bigint): Buf;

  // shifts (0 <= k <= 63)
  shl(a: Buf, k: number): Buf;
  shrLogical(a: Buf, k: number): Buf;
  shrArith(a: Buf, k: number): Buf;

  // bitwise
  and(a: Buf, b: Buf): Buf;
  or(a: Buf, b: Buf): Buf;
  xor(a: Buf, b: Buf): Buf;
  not(a: Buf): Buf;

  /**
   * Bit-slicing. toBitPlanes(a) for n words gives 64 planes, plane j (0 = least significant) holding bit j of
   * every element, packed: element e is bit (e % 64) of word j * W + floor(e / 64), W = ceil(n / 64); unused
   * tail bits are zero. fromBitPlanes inverts it for `planes` planes (missing high planes read as zero).
   */
  toBitPlanes(a: Buf): Buf;
  fromBitPlanes(planes: Buf, n: number, planeCount: number): Buf;

  /** Matrix product mod 2^64, row-major operands. */
  matmul(a: Buf, b: Buf, dims: MatmulDims): Buf;

  /** Sum over the last axis of a [rows, cols] matrix -> [rows]. */
  sumRows(a: Buf, rows: number, cols: number): Buf;

  /** Copies columns [start, start + count) of a [rows, cols] matrix -> [rows, count]. */
  sliceCols(a: Buf, rows: number, cols: number, start: number, count: number): Buf;
  /** Joins [rows, ca] and [rows, cb] side by side -> [rows, ca + cb]. */
  concatCols(a: Buf, ca: number, b: Buf, cb: number, rows: number): Buf;
  /** Contiguous copy of elements [start, start + count). */
  slice(a: Buf, start: number, count: number): Buf;
  /** Concatenation of whole buffers. */
  concat(parts: Buf[]): Buf;
  /** Each element repeated `times` in a row: [n] -> [n * times] (broadcast a column vector over columns). */
  repeatEach(a: Buf, times: number): Buf;
  /** The whole vector repeated: [n] -> [times * n] (broadcast a row vector over rows). */
  tile(a: Buf, times: number): Buf;
  /**
   * Reorders axes of a row-major tensor: out[idx permuted] = a[idx]. perm[i] names which input axis becomes
   * output axis i (as numpy.transpose).
   */
  transpose(a: Buf, shape: readonly number[], perm: readonly number[]): Buf;

  /** n words of the ChaCha20 stream (DESIGN.md) for key (8 u32) and nonce (3 u32) from block `counter`. */
  prg(key: Uint32Array, nonce: Uint32Array, n: number, counter?: number): Buf;
}
