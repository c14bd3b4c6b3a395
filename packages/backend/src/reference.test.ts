import { describe, expect, it } from 'vitest';
import { referenceBackend } from './reference.ts';

// The reference is the oracle, so it is checked against hand-computed values rather than itself.
describe('reference backend', () => {
  const be = referenceBackend();
  const up = (xs: bigint[]) => be.upload(BigUint64Array.from(xs));
  it('wraps mod 2^64', async () => {
    const max = (1n << 64n) - 1n;
    expect(Array.from(await be.read(be.add(up([max, 5n]), up([1n, 7n]))))).toEqual([0n, 12n]);
    expect(Array.from(await be.read(be.mul(up([1n << 63n]), up([2n]))))).toEqual([0n]);
    expect(Array.from(await be.read(be.shrArith(up([max - 7n]), 2)))).toEqual([max - 1n]);
  });
  it('matmul 2x2', async () => {
    const c = be.matmul(up([1n, 2n, 3n, 4n]), up([5n, 6n, 7n, 8n]), { m: 2, k: 2, n: 2 });
    expect(Array.from(await be.read(c))).toEqual([19n, 22n, 43n, 50n]);
    const ct = be.matmul(up([1n, 2n, 3n, 4n]), up([5n, 6n, 7n, 8n]), { m: 2, k: 2, n: 2, transB: true });
    expect(Array.from(await be.read(ct))).toEqual([17n, 23n, 39n, 53n]);
  });
  it('bit planes of 3 elements', async () => {
    const p = await be.read(be.toBitPlanes(up([1n, 2n, 3n])));
    expect(p[0]).toBe(0b101n);
    expect(p[1]).toBe(0b110n);
    expect(p[2]).toBe(0n);
  });
  it('transpose 2x3', async () => {
    const t = be.transpose(up([1n, 2n, 3n, 4n, 5n, 6n]), [2, 3], [1, 0]);
    expect(Array.from(await be.read(t))).toEqual([1n, 4n, 2n, 5n, 3n, 6n]);
  });
});
