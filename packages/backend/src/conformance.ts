/**
 * Conformance cases for any Backend: each case runs a kernel on the backend under test and on the reference
 * backend with the same random inputs (awkward sizes included) and demands bit-exact equality.
 * Framework-agnostic on purpose: vitest wraps the cases for Node backends, and a browser page runs the same
 * cases for WebGPU.
 */
import { chachaWords } from '@puma/ring';
import type { Backend, Buf, MatmulDims } from './backend.ts';
import { referenceBackend } from './reference.ts';

export interface ConformanceCase {
  name: string;
  run(backend: Backend): Promise<void>;
}

/** Deterministic xorshift-based u64 source so failures reproduce. */
export function randomWords(n: number, seed: number): BigUint64Array {
  const key = new Uint32Array(8);
  key[0] = seed >>> 0;
  key[1] = 0x9e3779b9;
  return chachaWords(key, new Uint32Array(3), n).slice();
}

/** Random words with edge values (0, 1, -1, 2^63, 2^63-1, 2^64-2) mixed in at the start. */
function edgyWords(n: number, seed: number): BigUint64Array {
  const w = randomWords(n, seed);
  const edges = [0n, 1n, (1n << 64n) - 1n, 1n << 63n, (1n << 63n) - 1n, (1n << 64n) - 2n];
  for (let i = 0; i < Math.min(n, edges.length); i++) w[i] = edges[i];
  return w;
}

const SIZES = [1, 7, 64, 255, 1000];

function firstDiff(a: BigUint64Array, b: BigUint64Array): string | null {
  if (a.length !== b.length) return `length ${a.length} != ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `element ${i}: got ${a[i]}, expected ${b[i]}`;
  return null;
}

async function compare(name: string, backend: Backend, f: (be: Backend, up: (x: BigUint64Array) => Buf) => Buf): Promise<void> {
  const ref = referenceBackend();
  const got = await backend.read(f(backend, (x) => backend.upload(x)));
  const want = await ref.read(f(ref, (x) => ref.upload(x)));
  const diff = firstDiff(got, want);
  if (diff) throw new Error(`${backend.kind} ${name}: ${diff}`);
}

export function conformanceCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const add = (name: string, f: (be: Backend, up: (x: BigUint64Array) => Buf) => Buf) =>
    cases.push({ name, run: (backend) => compare(name, backend, f) });

  for (const n of SIZES) {
    const x = edgyWords(n, 11 + n);
    const y = edgyWords(n, 23 + n).reverse();
    add(`add n=${n}`, (be, up) => be.add(up(x), up(y)));
    add(`sub n=${n}`, (be, up) => be.sub(up(x), up(y)));
    add(`mul n=${n}`, (be, up) => be.mul(up(x), up(y)));
    add(`neg n=${n}`, (be, up) => be.neg(up(x)));
    add(`addScalar n=${n}`, (be, up) => be.addScalar(up(x), 0xfedcba9876543210n));
    add(`mulScalar n=${n}`, (be, up) => be.mulScalar(up(x), (1n << 64n) - 3n));
    for (const k of [0, 1, 18, 31, 32, 33, 63]) {
      add(`shl ${k} n=${n}`, (be, up) => be.shl(up(x), k));
      add(`shrLogical ${k} n=${n}`, (be, up) => be.shrLogical(up(x), k));
      add(`shrArith ${k} n=${n}`, (be, up) => be.shrArith(up(x), k));
    }
    add(`and n=${n}`, (be, up) => be.and(up(x), up(y)));
    add(`or n=${n}`, (be, up) => be.or(up(x), up(y)));
    add(`xor n=${n}`, (be, up) => be.xor(up(x), up(y)));
    add(`not n=${n}`, (be, up) => be.not(up(x)));
    add(`toBitPlanes n=${n}`, (be, up) => be.toBitPlanes(up(x)));
    add(`bitPlanes roundtrip n=${n}`, (be, up) => be.fromBitPlanes(be.toBitPlanes(up(x)), n, 64));
    add(`fromBitPlanes 5 planes n=${n}`, (be, up) => be.fromBitPlanes(up(randomWords(5 * Math.ceil(n / 64), n)), n, 5));
    add(`repeatEach n=${n}`, (be, up) => be.repeatEach(up(x), 3));
    add(`tile n=${n}`, (be, up) => be.tile(up(x), 3));
    add(`slice n=${n}`, (be, up) => be.slice(up(x), Math.floor(n / 3), n - Math.floor(n / 3)));
    add(`concat n=${n}`, (be, up) => be.concat([up(x), up(y.subarray(0, Math.ceil(n / 2))), up(x)]));
    add(`prg n=${n}`, (be) => be.prg(new Uint32Array([1, 2, 3, 4, 5, 6, 7, 8]), new Uint32Array([9, 10, 11]), n, 5));
    add(`uploadWith n=${n}`, (be, up) => be.add(be.uploadWith(n, (into) => {
      if (into.length !== n) throw new Error(`uploadWith handed ${into.length} words for ${n}`);
      into.set(x);
    }), up(y)));
  }

  const mats: Array<[string, MatmulDims]> = [
    ['1x1x1', { m: 1, k: 1, n: 1 }],
    ['7x5x3', { m: 7, k: 5, n: 3 }],
    ['1000x3x2', { m: 1000, k: 3, n: 2 }],
    ['3x1000x2', { m: 3, k: 1000, n: 2 }],
    ['33x65x17', { m: 33, k: 65, n: 17 }],
    ['64x64x64', { m: 64, k: 64, n: 64 }],
    ['transA 9x6x5', { m: 9, k: 6, n: 5, transA: true }],
    ['transB 9x6x5', { m: 9, k: 6, n: 5, transB: true }],
    ['transA transB 8x7x6', { m: 8, k: 7, n: 6, transA: true, transB: true }],
    ['batched 4x(5x7x3)', { batch: 4, m: 5, k: 7, n: 3 }],
    ['batched transB 3x(6x4x5)', { batch: 3, m: 6, k: 4, n: 5, transB: true }],
    ['broadcastB 3x(6x4x5)', { batch: 3, m: 6, k: 4, n: 5, broadcastB: true }],
  ];
  for (const [label, dims] of mats) {
    const batch = dims.batch ?? 1;
    const a = edgyWords(batch * dims.m * dims.k, 101);
    const b = edgyWords((dims.broadcastB ? 1 : batch) * dims.k * dims.n, 202);
    add(`matmul ${label}`, (be, up) => be.matmul(up(a), up(b), dims));
  }

  for (const [rows, cols] of [[1, 1], [3, 7], [255, 3], [2, 1000]]) {
    const x = edgyWords(rows * cols, rows * 31 + cols);
    const y = edgyWords(rows * 2, rows);
    add(`sumRows ${rows}x${cols}`, (be, up) => be.sumRows(up(x), rows, cols));
    add(`sliceCols ${rows}x${cols}`, (be, up) => be.sliceCols(up(x), rows, cols, Math.floor(cols / 2), cols - Math.floor(cols / 2)));
    add(`concatCols ${rows}x${cols}`, (be, up) => be.concatCols(up(x), cols, up(y), 2, rows));
  }
  const t = edgyWords(2 * 3 * 5 * 7, 9);
  add('transpose [2,3,5,7] perm [0,2,1,3]', (be, up) => be.transpose(up(t), [2, 3, 5, 7], [0, 2, 1, 3]));
  add('transpose [2,3,5,7] perm [3,1,0,2]', (be, up) => be.transpose(up(t), [2, 3, 5, 7], [3, 1, 0, 2]));
  add('transpose [1000,3] perm [1,0]', (be, up) => be.transpose(up(t.subarray(0, 210)), [70, 3], [1, 0]));
  add('chained kernels stay on the device', (be, up) => {
    const x = up(edgyWords(300, 5));
    const y = up(edgyWords(300, 6));
    return be.shrArith(be.add(be.mul(x, y), be.xor(x, be.shl(y, 3))), 18);
  });
  return cases;
}
