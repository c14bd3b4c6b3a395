import { beforeAll, describe, expect, it } from 'vitest';
import { referenceBackend, type Backend, type Buf, type MatmulDims } from '@puma/backend';
import { randomWords } from '@puma/backend/conformance';
import { chachaWords } from '@puma/ring';
import { createWasmBackend, type WasmBackend } from './index.ts';

const ref = referenceBackend();
let be: WasmBackend;

beforeAll(async () => {
  be = await createWasmBackend();
});

async function same(got: Buf, want: Buf): Promise<void> {
  expect(Array.from(await be.read(got))).toEqual(Array.from(await ref.read(want)));
}

/** a x b entry (t, i, j) straight from the definition, for spot checks of products too big for the reference. */
function entry(a: BigUint64Array, b: BigUint64Array, d: MatmulDims, t: number, i: number, j: number): bigint {
  let s = 0n;
  const bo = d.broadcastB ? 0 : t * d.k * d.n;
  for (let p = 0; p < d.k; p++) {
    const av = d.transA ? a[t * d.m * d.k + p * d.m + i] : a[t * d.m * d.k + i * d.k + p];
    const bv = d.transB ? b[bo + j * d.k + p] : b[bo + p * d.n + j];
    s += av * bv;
  }
  return BigInt.asUintN(64, s);
}

async function spotCheck(d: MatmulDims, samples: number, seed: number): Promise<void> {
  const batch = d.batch ?? 1;
  const a = randomWords(batch * d.m * d.k, seed);
  const b = randomWords((d.broadcastB ? 1 : batch) * d.k * d.n, seed + 1);
  const c = await be.read(be.matmul(be.upload(a), be.upload(b), d));
  expect(c.length).toBe(batch * d.m * d.n);
  // Corners and edges of every tile boundary kind, then pseudo-random interior entries.
  const picks: Array<[number, number, number]> = [
    [0, 0, 0],
    [batch - 1, d.m - 1, d.n - 1],
    [0, d.m - 1, 0],
    [batch - 1, 0, d.n - 1],
  ];
  for (let s = 0; s < samples; s++) picks.push([(s * 7) % batch, (s * 7919) % d.m, (s * 104729) % d.n]);
  for (const [t, i, j] of picks) expect(c[(t * d.m + i) * d.n + j], `entry ${t},${i},${j}`).toBe(entry(a, b, d, t, i, j));
}

describe('wasm matmul', () => {
  // Every path (row, dot, packed), edge tiles in both directions, k below and above the 4-wide dot chunks,
  // and all flag combinations, against the reference.
  const ms = [1, 2, 3, 4, 5, 8, 9];
  const ks = [0, 1, 3, 4, 9];
  const ns = [1, 5, 6, 7, 13];
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      for (const broadcastB of [false, true]) {
        it(`small shapes transA=${transA} transB=${transB} broadcastB=${broadcastB}`, async () => {
          let seed = 1;
          for (const m of ms) {
            for (const k of ks) {
              for (const n of ns) {
                const d: MatmulDims = { batch: 2, m, k, n, transA, transB, broadcastB };
                const a = randomWords(2 * m * k, seed++);
                const b = randomWords((broadcastB ? 1 : 2) * k * n, seed++);
                await same(be.matmul(be.upload(a), be.upload(b), d), ref.matmul(ref.upload(a), ref.upload(b), d));
              }
            }
          }
        });
      }
    }
  }

  it('200x300x100 matches the definition', () => spotCheck({ m: 200, k: 300, n: 100 }, 200, 1));
  it('200x300x100 transA transB matches the definition', () => spotCheck({ m: 200, k: 300, n: 100, transA: true, transB: true }, 200, 3));
  it('one row against a wide B (row path)', () => spotCheck({ m: 1, k: 700, n: 601 }, 100, 5));
  it('short A against a transposed B (dot path)', () => spotCheck({ m: 3, k: 701, n: 255, transB: true }, 100, 7));
  it('batched broadcast B folded into one tall product', () => spotCheck({ batch: 5, m: 7, k: 33, n: 29, broadcastB: true }, 100, 9));
  // Several cache blocks of packed B in both k and n, with edge tiles at each block's end.
  it('cache-blocked product, k and n over one block', () => spotCheck({ m: 9, k: 600, n: 520 }, 200, 11));
  it('cache-blocked product, transposed operands', () => spotCheck({ batch: 2, m: 7, k: 513, n: 255, transA: true, transB: true }, 200, 13));
  it('long k accumulates across many blocks', () => spotCheck({ m: 5, k: 20000, n: 61 }, 40, 15));
  it('k = 0 gives zeros', async () => {
    expect(Array.from(await be.read(be.matmul(be.zeros(0), be.zeros(0), { m: 3, k: 0, n: 4 })))).toEqual(new Array(12).fill(0n));
  });
});

describe('wasm prg', () => {
  const key = new Uint32Array([0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c, 0x13121110, 0x17161514, 0x1b1a1918, 0x1f1e1d1c]);
  const nonce = new Uint32Array([0x09000000, 0x4a000000, 0]);
  // Lengths around the 8-word block and the 32-word group of four blocks the kernel computes at once.
  for (const counter of [0, 1, 7, 2 ** 32 - 40]) {
    it(`matches chachaWords from counter ${counter}`, async () => {
      for (const n of [0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 100, 257]) {
        const got = await be.read(be.prg(key, nonce, n, counter));
        expect(Array.from(got), `n=${n}`).toEqual(Array.from(chachaWords(key, nonce, n, counter)));
      }
    });
  }
  it('reaches exactly the last block counter', async () => {
    const got = await be.read(be.prg(key, nonce, 16, 2 ** 32 - 2));
    expect(Array.from(got)).toEqual(Array.from(chachaWords(key, nonce, 16, 2 ** 32 - 2)));
    expect(() => be.prg(key, nonce, 17, 2 ** 32 - 2)).toThrow(/wasm prg: .*overflow/);
  });
});

describe('wasm layout kernels', () => {
  it('transposes, including tiled 2-D blocks, unit and empty axes', async () => {
    const cases: Array<[number[], number[]]> = [
      [[300, 200], [1, 0]],
      [[17, 1, 33], [2, 1, 0]],
      [[4, 5, 6, 7], [0, 1, 2, 3]],
      [[4, 5, 6, 7], [3, 2, 1, 0]],
      [[4, 5, 6, 7], [1, 0, 3, 2]],
      [[3, 4, 5, 2, 3], [4, 0, 3, 1, 2]],
      [[6], [0]],
      [[], []],
      [[3, 0, 2], [2, 1, 0]],
    ];
    for (const [shape, perm] of cases) {
      const x = randomWords(shape.reduce((s, v) => s * v, 1), shape.length);
      await same(be.transpose(be.upload(x), shape, perm), ref.transpose(ref.upload(x), shape, perm));
    }
  });

  it('bit planes: partial last block, fewer planes, longer plane buffer', async () => {
    for (const n of [0, 1, 63, 64, 65, 200]) {
      const x = randomWords(n, n + 3);
      await same(be.toBitPlanes(be.upload(x)), ref.toBitPlanes(ref.upload(x)));
      const p = randomWords(7 * Math.ceil(n / 64) + 5, n);
      for (const planes of [0, 1, 6]) await same(be.fromBitPlanes(be.upload(p), n, planes), ref.fromBitPlanes(ref.upload(p), n, planes));
    }
  });

  it('empty buffers pass through every kernel', async () => {
    const e = be.zeros(0);
    const key = new Uint32Array(8);
    const nonce = new Uint32Array(3);
    const outs = [be.add(e, e), be.neg(e), be.shl(e, 3), be.concat([]), be.concat([e, e])];
    outs.push(be.tile(e, 4), be.repeatEach(e, 2), be.prg(key, nonce, 0));
    for (const r of outs) {
      expect(r.length).toBe(0);
      expect((await be.read(r)).length).toBe(0);
    }
    expect(Array.from(await be.read(be.sumRows(e, 3, 0)))).toEqual([0n, 0n, 0n]);
  });
});

describe('wasm memory', () => {
  it('released buffers throw clear errors', async () => {
    const a = be.upload(new BigUint64Array([1n, 2n, 3n]));
    const b = be.upload(new BigUint64Array([4n, 5n, 6n]));
    be.release(a);
    expect(() => a.length).toThrow(/used after release/);
    expect(() => be.add(a, b)).toThrow(/wasm add: buffer used after release/);
    expect(() => be.add(b, a)).toThrow(/wasm add: buffer used after release/);
    expect(() => be.matmul(a, b, { m: 1, k: 3, n: 1 })).toThrow(/wasm matmul: buffer used after release/);
    expect(() => be.concat([b, a])).toThrow(/wasm concat: buffer used after release/);
    await expect(be.read(a)).rejects.toThrow(/wasm read: buffer used after release/);
    expect(() => be.release(a)).toThrow(/already released/);
    expect(Array.from(await be.read(b))).toEqual([4n, 5n, 6n]);
  });

  it('rejects buffers of another backend', async () => {
    const other = await createWasmBackend();
    const x = other.upload(new BigUint64Array(2));
    expect(() => be.neg(x)).toThrow(/wasm neg: argument is not a buffer of this wasm backend/);
    expect(() => be.neg(ref.upload(new BigUint64Array(2)))).toThrow(/not a buffer of this wasm backend/);
    expect(() => be.release(x)).toThrow(/not a buffer of this wasm backend/);
  });

  it('uploadWith hands a view of exactly n heap words, and releases the buffer when the producer throws', async () => {
    const x = randomWords(1000, 77);
    const b = be.uploadWith(1000, (into) => {
      expect(into.length).toBe(1000);
      into.set(x);
    });
    expect(Array.from(await be.read(b))).toEqual(Array.from(x));
    be.release(b);
    const before = be.stats().liveBytes;
    expect(() => be.uploadWith(4096, () => {
      throw new Error('producer failed');
    })).toThrow('producer failed');
    expect(be.stats().liveBytes).toBe(before);
    expect(() => be.uploadWith(-1, () => undefined)).toThrow(/uploadWith/);
  });

  it('reuses freed memory instead of growing', () => {
    const n = 1 << 16;
    be.release(be.zeros(n));
    const before = be.stats();
    for (let i = 0; i < 200; i++) {
      const x = be.zeros(n + (i % 7) * 100);
      const y = be.addScalar(x, 1n);
      be.release(x);
      be.release(be.mul(y, y));
      be.release(y);
    }
    const after = be.stats();
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(after.memoryBytes).toBeLessThanOrEqual(before.memoryBytes + 8 * 4 * n);
  });

  it('frees dropped buffers through finalization, and never frees a released one twice', async () => {
    const mine = await createWasmBackend();
    const kept = Array.from({ length: 8 }, (_, i) => randomWords(1000, 100 + i));
    const keptBufs = kept.map((x) => mine.upload(x));
    const words = 1 << 18; // 2 MiB per buffer, 2 GiB allocated in all: only reclaimed memory keeps this bounded
    const held: Buf[] = [];
    for (let i = 0; i < 1024; i++) {
      const t = mine.zeros(words);
      // Released while new (in the nursery), released after 560 more allocations (registered by then), or dropped.
      if (i % 4 === 0) mine.release(t);
      if (i % 8 === 1) held.push(t);
      if (held.length > 70) mine.release(held.shift() as Buf);
      if (i % 16 === 15) await new Promise((r) => setTimeout(r, 0));
    }
    held.forEach((t) => mine.release(t));
    await new Promise((r) => setTimeout(r, 10));
    const stats = mine.stats();
    expect(stats.memoryBytes).toBeLessThan(2 ** 30);
    expect(stats.liveBytes).toBeGreaterThanOrEqual(8 * 8000);
    for (let i = 0; i < kept.length; i++) expect(Array.from(await mine.read(keptBufs[i]))).toEqual(Array.from(kept[i]));
  });

  it('keeps buffers intact when memory grows', async () => {
    const x = randomWords(1000, 42);
    const a = be.upload(x);
    const grow = be.zeros(4 << 20);
    const b = be.addScalar(a, 0n);
    expect(Array.from(await be.read(b))).toEqual(Array.from(x));
    expect(Array.from(await be.read(a))).toEqual(Array.from(x));
    be.release(grow);
  });
});

describe('wasm argument errors', () => {
  const x = (n: number): Buf => be.upload(new BigUint64Array(n));

  it('names the kernel and the problem', () => {
    expect(() => be.add(x(3), x(4))).toThrow(/wasm add: length mismatch 3 vs 4/);
    expect(() => be.xor(x(3), x(4))).toThrow(/wasm xor: length mismatch/);
    for (const k of [-1, 64, 1.5, NaN]) {
      expect(() => be.shl(x(2), k)).toThrow(/wasm shl: shift .* out of range \[0, 63\]/);
      expect(() => be.shrArith(x(2), k)).toThrow(/wasm shrArith: shift/);
    }
    expect(() => be.addScalar(x(2), 3 as unknown as bigint)).toThrow(/wasm addScalar: scalar must be a bigint/);
    expect(() => be.matmul(x(6), x(6), { m: 2, k: 2, n: 3 })).toThrow(/wasm matmul: a has 6 elements, expected 1x2x2/);
    expect(() => be.matmul(x(4), x(5), { m: 2, k: 2, n: 3 })).toThrow(/wasm matmul: b has 5 elements, expected 1x2x3/);
    expect(() => be.matmul(x(4), x(6), { m: 2, k: 2, n: -3 })).toThrow(/wasm matmul: n must be a non-negative integer/);
    expect(() => be.matmul(x(8), x(6), { batch: 2, m: 2, k: 2, n: 3 })).toThrow(/wasm matmul: b has 6 elements, expected 2x2x3/);
    expect(() => be.sumRows(x(6), 4, 2)).toThrow(/wasm sumRows: 6 elements is not 4x2/);
    expect(() => be.sliceCols(x(6), 2, 3, 2, 2)).toThrow(/wasm sliceCols: columns \[2, 4\) out of 3/);
    expect(() => be.concatCols(x(6), 3, x(3), 2, 2)).toThrow(/wasm concatCols: shapes do not match/);
    expect(() => be.slice(x(6), 4, 3)).toThrow(/wasm slice: \[4, 7\) out of 6/);
    expect(() => be.repeatEach(x(2), -1)).toThrow(/wasm repeatEach: times must be a non-negative integer/);
    expect(() => be.transpose(x(6), [2, 3], [0, 0])).toThrow(/wasm transpose: bad permutation/);
    expect(() => be.transpose(x(6), [2, 4], [1, 0])).toThrow(/wasm transpose: shape \[2, 4\] does not hold 6 elements/);
    expect(() => be.fromBitPlanes(x(5), 64, 6)).toThrow(/wasm fromBitPlanes: 6 planes of 1 words need 6, got 5/);
    expect(() => be.fromBitPlanes(x(65), 64, 65)).toThrow(/wasm fromBitPlanes: planeCount 65 out of range/);
    expect(() => be.prg(new Uint32Array(7), new Uint32Array(3), 4)).toThrow(/wasm prg: key must be/);
    expect(() => be.prg(new Uint32Array(8), new Uint32Array(2), 4)).toThrow(/wasm prg: nonce must be/);
    expect(() => be.prg(new Uint32Array(8), new Uint32Array(3), 4, -1)).toThrow(/wasm prg: counter -1 out of range/);
    expect(() => be.zeros(-1)).toThrow(/wasm zeros: n must be a non-negative integer/);
    expect(() => be.upload([1n] as unknown as BigUint64Array)).toThrow(/wasm upload: data must be a BigUint64Array/);
  });

  it('fails cleanly when memory cannot grow', () => {
    expect(() => be.zeros(2 ** 30)).toThrow(/wasm zeros: out of WebAssembly memory/);
    const y = be.upload(new BigUint64Array([7n]));
    expect(be.stats().liveBytes).toBeGreaterThan(0);
    be.release(y);
  });
});

describe('wasm backend identity', () => {
  it('reports its kind', () => {
    const b: Backend = be;
    expect(b.kind).toBe('wasm');
  });
});
