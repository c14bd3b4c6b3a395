import { describe, expect, it } from 'vitest';
import { referenceBackend } from '@puma/backend';
import { elementwiseMulTiming, matmulTiming } from './rate.ts';

describe('kernel timings for the backend bench', () => {
  it('report finite medians and the rate implied by the kernel time', async () => {
    const be = referenceBackend();
    for (const [t, ops] of [
      [await matmulTiming(be, 12, 3), 12 ** 3],
      [await elementwiseMulTiming(be, 1000, 3), 1000],
    ] as const) {
      for (const ms of [t.kernelMs, t.uploadMs, t.readbackMs]) expect(Number.isFinite(ms) && ms >= 0).toBe(true);
      expect(t.kernelMs).toBeGreaterThan(0);
      expect(t.gops).toBeCloseTo(ops / (t.kernelMs * 1e6), 12);
      expect(t.runs).toBe(3);
    }
  });

  it('rejects sizes and run counts that cannot be timed', async () => {
    const be = referenceBackend();
    await expect(matmulTiming(be, 0)).rejects.toThrow(/matmul size must be a positive integer, got 0/);
    await expect(elementwiseMulTiming(be, 2.5)).rejects.toThrow(/elementwise size must be a positive integer, got 2.5/);
    await expect(elementwiseMulTiming(be, 8, 0)).rejects.toThrow(/runs must be a positive integer, got 0/);
  });
});
