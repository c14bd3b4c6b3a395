import { describe, expect, it } from 'vitest';
import { mulPublicInt, revealRaw, type AShare, type Party } from '@puma/protocol';
import { expectCost, fixedInput, measureOp, randomFloats, runWithInputs } from '@puma/protocol/test-support';
import { assertNoLeak, describeReports, fixedViewInput, NoZeroShareParty, simulateViews } from '@puma/protocol/view-test-support';
import { productSumShift32, productSumShift32Cost } from './fused.ts';
import { quantize } from './test-support.ts';

const enc = (v: number): bigint => BigInt(Math.round(v * 2 ** 18));

describe('productSumShift32 (one-round downcast of a product sum into Z_2^32)', () => {
  // x y times 2^m sums to x y 2^(36 + m): with m = 20 and |x y| up to 64 the sum uses 62 of the 64 bits.
  for (const [bits, m] of [[1, 0], [18, 4], [32, 20], [32, 10]] as const) {
    it(`shift ${bits}, products scaled by 2^${m}: within (-1.5, 1.5] ulps of the exact sum / 2^${bits}, read modulo 2^32`, async () => {
      const n = 500;
      const hi = bits === 1 ? 2 ** -8 : 8;
      const x = quantize(randomFloats(n, -hi, hi, 11 + bits));
      const y = quantize(randomFloats(n, -hi, hi, 12 + m));
      const run = await runWithInputs({ x: fixedInput(x), y: fixedInput(y) }, async (p, s) =>
        revealRaw(p, await productSumShift32(p, [[s.x, mulPublicInt(p, s.y, 1n << BigInt(m))], [s.y, s.y]], bits, mulPublicInt(p, s.x, 3n))),
      );
      const got = run.results[0];
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const sum = (enc(x[i]) * enc(y[i]) << BigInt(m)) + enc(y[i]) * enc(y[i]) + 3n * enc(x[i]);
        const want = Number(sum) / 2 ** bits;
        expect(Math.abs(want)).toBeLessThan(2 ** 31);
        const err = Number(BigInt.asIntN(32, got[i])) - want;
        worst = Math.max(worst, Math.abs(err));
        expect(err).toBeGreaterThan(-1.5);
        expect(err).toBeLessThanOrEqual(1.5);
      }
      console.log(`productSumShift32 >> ${bits}: worst ${worst.toFixed(3)} ulps`);
    });
  }

  it('declared cost equals measured cost: 1 round, one 32-bit lane per output', async () => {
    for (const n of [1, 3, 200, 3079]) {
      const inputs = { x: fixedInput(randomFloats(n, -4, 4, n)), y: fixedInput(randomFloats(n, -4, 4, n + 1)) };
      expectCost(await measureOp(inputs, (p, s) => productSumShift32(p, [[s.x, s.y]], 22)), productSumShift32Cost(n));
    }
    expect(productSumShift32Cost(4096).rounds).toBe(1);
    expect(productSumShift32Cost(4096).bytes[0]).toBe(4 * 4096);
  });

  it('a shift outside [1, 32] is refused by name (the result would not be exact modulo 2^32)', async () => {
    for (const bits of [0, 33, 1.5]) {
      await expect(runWithInputs({ x: fixedInput([1, 2]) }, (p, s) => productSumShift32(p, [[s.x, s.x]], bits))).rejects.toThrow(/productSumShift32: a shift of .* outside \[1, 32\]/);
    }
  });
});

describe('productSumShift32: view simulation', () => {
  const inputs = { x: fixedViewInput([3100], -6, 6, 71), y: fixedViewInput([3100], -6, 6, 73) };
  const program = async (p: Party, s: Record<string, unknown>): Promise<AShare> => productSumShift32(p, [[s.x as AShare, s.y as AShare]], 32);

  it('no received word depends on the secret without fresh randomness', async () => {
    assertNoLeak(await simulateViews(inputs, program), 'every');
  }, 600_000);

  it('a resharing without the zero sharing (the shifted term sent unmasked) is reported at party 0', async () => {
    const [report] = await simulateViews(inputs, program, { party: (o) => new NoZeroShareParty(o), observers: [0], untilLeak: true });
    expect(report.leaks, describeReports([report])).toBeGreaterThan(0);
  }, 600_000);
});
