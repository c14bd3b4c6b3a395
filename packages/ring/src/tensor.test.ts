import { describe, expect, it } from 'vitest';
import { asBytes, fromBytes, zeroWords } from './tensor.ts';

describe('u64 word arrays', () => {
  it('zeroWords: n zeroed words in a buffer of exactly 8 n bytes of their own', () => {
    for (const n of [0, 1, 5, 20_000]) {
      const w = zeroWords(n);
      expect(w).toBeInstanceOf(BigUint64Array);
      expect(w.length).toBe(n);
      expect(w.byteOffset).toBe(0);
      expect(w.buffer.byteLength).toBe(8 * n);
      expect(w.every((v) => v === 0n)).toBe(true);
    }
    const w = zeroWords(3);
    w.set([1n, 2n ** 64n - 1n, 2n ** 63n]);
    expect(Array.from(fromBytes(asBytes(w)))).toEqual([1n, 2n ** 64n - 1n, 2n ** 63n]);
  });

  it('zeroWords refuses a length that is not a word count', () => {
    expect(() => zeroWords(-1)).toThrow(RangeError);
    expect(() => zeroWords(1.5)).toThrow(RangeError);
  });
});
