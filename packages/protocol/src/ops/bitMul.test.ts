import { describe, expect, it } from 'vitest';
import { fixedInput, randomFloats, runWithInputs, measureOp, expectCost } from '../test-support.ts';
import { ROTATE_FROM } from '../dealers.ts';
import { lessThan } from './lessThan.ts';
import { mulBitMany, mulBitManyCost } from './bitMul.ts';
import { b2aCost } from './b2a.ts';
import { mulRawCost } from './mul.ts';
import { seq } from '../cost.ts';
import { revealRaw } from './reveal.ts';
import { encodeFixed } from '@puma/ring';
import type { Party } from '../party.ts';
import type { AShare, BShare } from '../share.ts';

describe('mulBitMany (bit times values in 2 rounds)', () => {
  for (const n of [1, 130, ROTATE_FROM + 7]) {
    it(`n = ${n}: b * x_k exactly for 3 values, with b from a comparison${n >= ROTATE_FROM ? ' (rotating dealers)' : ''}`, async () => {
      const x = randomFloats(n, -5, 5, n);
      const y = randomFloats(n, -5, 5, n + 1);
      const u = randomFloats(n, -1e6, 1e6, n + 2);
      const run = await runWithInputs({ x: fixedInput(x), y: fixedInput(y), u: fixedInput(u) }, async (p, s) => {
        const bit = await lessThan(p, s.x, s.y);
        const out = await mulBitMany(p, bit, [s.x, s.u, s.y]);
        return Promise.all(out.map((o) => revealRaw(p, o)));
      });
      const [xe, ue, ye] = [encodeFixed(x), encodeFixed(u), encodeFixed(y)];
      for (let i = 0; i < n; i++) {
        const b = BigInt.asIntN(64, xe[i]) < BigInt.asIntN(64, ye[i]) ? 1n : 0n;
        expect(run.results[0][0][i]).toBe(b * xe[i]);
        expect(run.results[0][1][i]).toBe(b * ue[i]);
        expect(run.results[0][2][i]).toBe(b * ye[i]);
      }
    });
  }

  it('declared cost equals measured cost: 2 rounds, 2n words per party for one value (b2a + a product: 3 rounds)', async () => {
    for (const n of [1, 200, ROTATE_FROM + 1]) {
      const xy = { x: fixedInput(randomFloats(n, -3, 3, 5)), y: fixedInput(randomFloats(n, -3, 3, 6)) };
      const bit = (p: Party, s: Record<string, AShare>) => lessThan(p, s.x, s.y);
      for (const k of [1, 2, 3]) {
        expectCost(await measureOp(xy, (p, s, b: BShare) => mulBitMany(p, b, Array.from({ length: k }, (_, j) => (j % 2 ? s.y : s.x))), bit), mulBitManyCost(n, k));
      }
    }
    expect(mulBitManyCost(4096, 1)).toEqual({ rounds: 2, bytes: [2 * 4096 * 8, 2 * 4096 * 8, 2 * 4096 * 8] });
    expect(seq(b2aCost(4096), mulRawCost(4096)).rounds).toBe(3);
  });

  it('rejects no values and size mismatches', async () => {
    const inputs = { x: fixedInput([1, 2, 3]), y: fixedInput([3, 2, 1]) };
    await expect(runWithInputs(inputs, async (p, s) => mulBitMany(p, await lessThan(p, s.x, s.y), []))).rejects.toThrow(/no values/);
    await expect(runWithInputs({ ...inputs, z: fixedInput([1, 2]) }, async (p, s) => mulBitMany(p, await lessThan(p, s.x, s.y), [s.z]))).rejects.toThrow(/3 bits but a value of 2/);
  });
});
