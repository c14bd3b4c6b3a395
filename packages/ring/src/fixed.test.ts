import { describe, expect, it } from 'vitest';
import { decodeFixed, decodeFixedScalar, encodeFixed, encodeFixedScalar } from './fixed.ts';

describe('fixed point', () => {
  it('rounds to nearest with 18 fraction bits by default', () => {
    expect(encodeFixedScalar(1)).toBe(1n << 18n);
    expect(encodeFixedScalar(-1)).toBe(BigInt.asUintN(64, -(1n << 18n)));
    expect(decodeFixedScalar(encodeFixedScalar(0.1))).toBeCloseTo(0.1, 5);
  });
  it('array and scalar encodings agree, including negatives and saturation', () => {
    const xs = [0, 1e-9, -1e-9, 2 ** -19, 3.75, -3.75, 1e6, -1e6, 2 ** 50, -(2 ** 50), 1e300, -1e300];
    const arr = encodeFixed(xs);
    xs.forEach((x, i) => expect(arr[i]).toBe(encodeFixedScalar(x)));
    expect(BigInt.asIntN(64, arr[10])).toBe((1n << 62n) - 1n);
    expect(BigInt.asIntN(64, arr[11])).toBe(-(1n << 62n));
    const back = decodeFixed(arr);
    expect(back[5]).toBe(-3.75);
  });
  it('configurable fraction bits', () => {
    expect(encodeFixedScalar(1, 12)).toBe(4096n);
    expect(decodeFixed(encodeFixed([2.5], 8), 8)[0]).toBe(2.5);
  });
  it('rejects NaN and infinities with the position', () => {
    expect(() => encodeFixed([1, NaN], 18, 'weight')).toThrow(/weight\[1\] = NaN/);
    expect(() => encodeFixedScalar(Infinity)).toThrow(/Infinity/);
    expect(() => encodeFixed([1], 99)).toThrow(/fraction bits/);
  });
});
