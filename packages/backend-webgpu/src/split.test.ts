import { describe, expect, it } from 'vitest';
import { alignedChunk, alignedRange, fits, grid2d, largest, MATMUL_TILE, matmulStrides, pieces, planMatmul, planRows } from './split.ts';

describe('dispatch splitting (pure planning)', () => {
  it('alignedRange rounds the offset down and grows the size to match', () => {
    expect(alignedRange(0, 10, 32)).toEqual({ base: 0, size: 10 });
    expect(alignedRange(33, 10, 32)).toEqual({ base: 32, size: 11 });
    expect(alignedRange(64, 1, 32)).toEqual({ base: 64, size: 1 });
  });

  it('largest finds the last c where a monotone predicate holds', () => {
    expect(largest(100, (c) => c <= 37)).toBe(37);
    expect(largest(100, () => true)).toBe(100);
    expect(largest(100, () => false)).toBe(0);
    expect(largest(0, () => true)).toBe(0);
  });

  it('pieces cover [0, total) exactly', () => {
    expect(pieces(10, 4)).toEqual([[0, 4], [4, 4], [8, 2]]);
    expect(pieces(0, 4)).toEqual([]);
  });

  it('alignedChunk is a multiple of the alignment and of the requested unit', () => {
    const limits = { maxElems: 1000, alignElems: 32 };
    expect(alignedChunk(limits)).toBe(992);
    expect(alignedChunk(limits, 8)).toBe(992);
    expect(alignedChunk({ maxElems: 1000, alignElems: 12 }, 8)).toBe(984);
    expect(() => alignedChunk({ maxElems: 16, alignElems: 32 })).toThrow(/below one aligned piece/);
  });

  it('grid2d stays within the per-dimension limit and covers every workgroup', () => {
    expect(grid2d(5, 65535)).toEqual([5, 1]);
    const [x, y] = grid2d(200_000, 65535);
    expect(x).toBeLessThanOrEqual(65535);
    expect(x * y).toBeGreaterThanOrEqual(200_000);
    expect(() => grid2d(10, 3)).toThrow(/exceed/);
  });

  it('planRows splits so every span fits, and names the kernel when a row cannot', () => {
    const limits = { maxElems: 100, alignElems: 4 };
    const plan = planRows('k', 10, (rc) => [rc * 30], limits);
    expect(plan).toEqual([[0, 3], [3, 3], [6, 3], [9, 1]]);
    expect(() => planRows('sumRows', 2, (rc) => [rc * 200], limits)).toThrow(/sumRows: one row/);
  });

  // Every element of every operand a piece touches must lie in that piece's binding, the pieces must cover
  // every (batch, row) of the output once, and the grid must respect the workgroup limit.
  it('planMatmul covers the output exactly with pieces that fit', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return 1 + (seed % n);
    };
    for (let trial = 0; trial < 300; trial++) {
      const batch = rand(6);
      const m = rand(300);
      const k = rand(40);
      const n = rand(40);
      const transA = rand(2) === 1;
      const transB = rand(2) === 1;
      const broadcastB = rand(2) === 1;
      const limits = { maxElems: 32 * rand(100), alignElems: 32 };
      const maxGroups = rand(8);
      const s = matmulStrides(m, k, n, transA, transB, broadcastB);
      let plan;
      try {
        plan = planMatmul(batch, m, k, n, s, limits, maxGroups);
      } catch (e) {
        expect((e as Error).message).toMatch(/does not fit|workgroups along x/);
        continue;
      }
      const seen = new Uint8Array(batch * m);
      for (const { t0, bz, i0, mc } of plan) {
        expect(bz).toBeLessThanOrEqual(maxGroups);
        expect(Math.ceil(mc / MATMUL_TILE)).toBeLessThanOrEqual(maxGroups);
        expect(fits((bz - 1) * s.aBs + (mc - 1) * s.aRs + (k - 1) * s.aPs + 1, limits)).toBe(true);
        expect(fits((bz - 1) * s.bBs + (k - 1) * s.bPs + (n - 1) * s.bCs + 1, limits)).toBe(true);
        expect(fits((bz - 1) * s.cBs + (mc - 1) * n + n, limits)).toBe(true);
        for (let t = t0; t < t0 + bz; t++) for (let i = i0; i < i0 + mc; i++) seen[t * m + i]++;
      }
      expect(seen.every((v) => v === 1)).toBe(true);
    }
  });

  it('planMatmul explains which operand is too large', () => {
    const limits = { maxElems: 1024, alignElems: 32 };
    expect(() => planMatmul(1, 3, 1000, 2, matmulStrides(3, 1000, 2, false, false, false), limits, 65535)).toThrow(/operand b/);
    expect(() => planMatmul(1, 1000, 3, 2, matmulStrides(1000, 3, 2, true, false, false), limits, 65535)).toThrow(/operand a/);
  });
});
