/**
 * Reference backend: plain TypeScript with BigInt, written for obviousness, not speed. It is the oracle the
 * conformance suite compares every real backend with, bit for bit.
 */
import { chachaWords } from '@puma/ring';
import type { Backend, Buf, MatmulDims } from './backend.ts';

const M = (1n << 64n) - 1n;

class RefBuf implements Buf {
  constructor(public data: BigUint64Array | null) {}
  get length(): number {
    return this.live().length;
  }
  live(): BigUint64Array {
    if (!this.data) throw new Error('reference backend: buffer used after release');
    return this.data;
  }
}

const d = (a: Buf): BigUint64Array => (a as RefBuf).live();
const wrap = (x: BigUint64Array): Buf => new RefBuf(x);

function same(a: Buf, b: Buf, op: string): void {
  if (a.length !== b.length) throw new Error(`${op}: length mismatch ${a.length} vs ${b.length}`);
}
function map1(a: Buf, f: (x: bigint) => bigint): Buf {
  return wrap(d(a).map((x) => f(x) & M));
}
function map2(a: Buf, b: Buf, op: string, f: (x: bigint, y: bigint) => bigint): Buf {
  same(a, b, op);
  const bb = d(b);
  return wrap(d(a).map((x, i) => f(x, bb[i]) & M));
}
function shiftCheck(k: number): bigint {
  if (!Number.isInteger(k) || k < 0 || k > 63) throw new Error(`shift ${k} out of range [0, 63]`);
  return BigInt(k);
}

export function referenceBackend(): Backend {
  return {
    kind: 'reference',
    description: 'TypeScript BigInt reference',
    upload: (x) => wrap(x.slice()),
    uploadWith: (n, fill) => {
      const x = new BigUint64Array(n);
      fill(x);
      return wrap(x);
    },
    read: async (a) => d(a).slice(),
    zeros: (n) => wrap(new BigUint64Array(n)),
    release: (a) => {
      (a as RefBuf).data = null;
    },
    add: (a, b) => map2(a, b, 'add', (x, y) => x + y),
    sub: (a, b) => map2(a, b, 'sub', (x, y) => x - y),
    mul: (a, b) => map2(a, b, 'mul', (x, y) => x * y),
    neg: (a) => map1(a, (x) => -x),
    addScalar: (a, s) => map1(a, (x) => x + s),
    mulScalar: (a, s) => map1(a, (x) => x * s),
    shl: (a, k) => {
      const s = shiftCheck(k);
      return map1(a, (x) => x << s);
    },
    shrLogical: (a, k) => {
      const s = shiftCheck(k);
      return map1(a, (x) => x >> s);
    },
    shrArith: (a, k) => {
      const s = shiftCheck(k);
      return map1(a, (x) => BigInt.asIntN(64, x) >> s);
    },
    and: (a, b) => map2(a, b, 'and', (x, y) => x & y),
    or: (a, b) => map2(a, b, 'or', (x, y) => x | y),
    xor: (a, b) => map2(a, b, 'xor', (x, y) => x ^ y),
    not: (a) => map1(a, (x) => ~x),
    toBitPlanes: (a) => {
      const x = d(a);
      const w = Math.ceil(x.length / 64);
      const out = new BigUint64Array(64 * w);
      for (let e = 0; e < x.length; e++) {
        for (let j = 0; j < 64; j++) {
          if ((x[e] >> BigInt(j)) & 1n) out[j * w + Math.floor(e / 64)] |= 1n << BigInt(e % 64);
        }
      }
      return wrap(out);
    },
    fromBitPlanes: (planes, n, planeCount) => {
      const p = d(planes);
      const w = Math.ceil(n / 64);
      if (p.length < planeCount * w) throw new Error(`fromBitPlanes: ${planeCount} planes of ${w} words need ${planeCount * w}, got ${p.length}`);
      const out = new BigUint64Array(n);
      for (let e = 0; e < n; e++) {
        let v = 0n;
        for (let j = 0; j < planeCount; j++) {
          if ((p[j * w + Math.floor(e / 64)] >> BigInt(e % 64)) & 1n) v |= 1n << BigInt(j);
        }
        out[e] = v;
      }
      return wrap(out);
    },
    matmul: (a, b, dims: MatmulDims) => {
      const { m, k, n } = dims;
      const batch = dims.batch ?? 1;
      const A = d(a);
      const B = d(b);
      const bBatch = dims.broadcastB ? 1 : batch;
      if (A.length !== batch * m * k) throw new Error(`matmul: a has ${A.length} elements, expected ${batch}x${m}x${k}`);
      if (B.length !== bBatch * k * n) throw new Error(`matmul: b has ${B.length} elements, expected ${bBatch}x${k}x${n}`);
      const out = new BigUint64Array(batch * m * n);
      for (let t = 0; t < batch; t++) {
        const ao = t * m * k;
        const bo = dims.broadcastB ? 0 : t * k * n;
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let acc = 0n;
            for (let p = 0; p < k; p++) {
              const av = dims.transA ? A[ao + p * m + i] : A[ao + i * k + p];
              const bv = dims.transB ? B[bo + j * k + p] : B[bo + p * n + j];
              acc += av * bv;
            }
            out[t * m * n + i * n + j] = acc & M;
          }
        }
      }
      return wrap(out);
    },
    sumRows: (a, rows, cols) => {
      const x = d(a);
      if (x.length !== rows * cols) throw new Error(`sumRows: ${x.length} elements is not ${rows}x${cols}`);
      const out = new BigUint64Array(rows);
      for (let r = 0; r < rows; r++) {
        let s = 0n;
        for (let c = 0; c < cols; c++) s += x[r * cols + c];
        out[r] = s & M;
      }
      return wrap(out);
    },
    sliceCols: (a, rows, cols, start, count) => {
      const x = d(a);
      if (x.length !== rows * cols || start < 0 || start + count > cols) throw new Error(`sliceCols: bad range [${start}, ${start + count}) of ${rows}x${cols}`);
      const out = new BigUint64Array(rows * count);
      for (let r = 0; r < rows; r++) out.set(x.subarray(r * cols + start, r * cols + start + count), r * count);
      return wrap(out);
    },
    concatCols: (a, ca, b, cb, rows) => {
      const x = d(a);
      const y = d(b);
      if (x.length !== rows * ca || y.length !== rows * cb) throw new Error('concatCols: shapes do not match');
      const out = new BigUint64Array(rows * (ca + cb));
      for (let r = 0; r < rows; r++) {
        out.set(x.subarray(r * ca, (r + 1) * ca), r * (ca + cb));
        out.set(y.subarray(r * cb, (r + 1) * cb), r * (ca + cb) + ca);
      }
      return wrap(out);
    },
    slice: (a, start, count) => {
      const x = d(a);
      if (start < 0 || count < 0 || start + count > x.length) throw new Error(`slice: [${start}, ${start + count}) out of ${x.length}`);
      return wrap(x.slice(start, start + count));
    },
    concat: (parts) => {
      const total = parts.reduce((s, p) => s + p.length, 0);
      const out = new BigUint64Array(total);
      let o = 0;
      for (const p of parts) {
        out.set(d(p), o);
        o += p.length;
      }
      return wrap(out);
    },
    repeatEach: (a, times) => {
      const x = d(a);
      const out = new BigUint64Array(x.length * times);
      for (let i = 0; i < x.length; i++) out.fill(x[i], i * times, (i + 1) * times);
      return wrap(out);
    },
    tile: (a, times) => {
      const x = d(a);
      const out = new BigUint64Array(x.length * times);
      for (let t = 0; t < times; t++) out.set(x, t * x.length);
      return wrap(out);
    },
    transpose: (a, shape, perm) => {
      const x = d(a);
      const rank = shape.length;
      if (perm.length !== rank || [...perm].sort().some((p, i) => p !== i)) throw new Error(`transpose: bad permutation [${perm.join(', ')}]`);
      const n = shape.reduce((s, v) => s * v, 1);
      if (n !== x.length) throw new Error(`transpose: shape [${shape.join(', ')}] does not hold ${x.length} elements`);
      const outShape = perm.map((p) => shape[p]);
      const inStride = new Array<number>(rank);
      let s = 1;
      for (let i = rank - 1; i >= 0; i--) {
        inStride[i] = s;
        s *= shape[i];
      }
      const out = new BigUint64Array(n);
      const idx = new Array<number>(rank).fill(0);
      for (let o = 0; o < n; o++) {
        let src = 0;
        for (let i = 0; i < rank; i++) src += idx[i] * inStride[perm[i]];
        out[o] = x[src];
        for (let i = rank - 1; i >= 0; i--) {
          if (++idx[i] < outShape[i]) break;
          idx[i] = 0;
        }
      }
      return wrap(out);
    },
    prg: (key, nonce, n, counter = 0) => wrap(chachaWords(key, nonce, n, counter)),
  };
}
