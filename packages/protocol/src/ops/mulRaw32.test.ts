import { describe, expect, it } from 'vitest';
import type { AShare } from '../share.ts';
import { expectCost, measureOp, randomFloats, runWithInputs } from '../test-support.ts';
import { assertNoLeak, describeReports, fixedViewInput, NoZeroShareParty, simulateViews, type ViewProgram } from '../view-test-support.ts';
import { revealRaw } from './reveal.ts';
import { mulRaw32, mulRaw32Cost } from './mulRaw32.ts';

const raw = (xs: readonly bigint[]) => ({ values: BigUint64Array.from(xs, (v) => BigInt.asUintN(64, v)), shape: [xs.length] });
const low32 = (v: bigint) => BigInt.asUintN(32, v);

describe('mulRaw32', () => {
  it('x * y modulo 2^32, whatever the operands\' upper halves hold (0/1 indicators, negative values, products that wrap)', async () => {
    const noise = Array.from(randomFloats(40, 0, 2 ** 31, 5), (f) => BigInt(Math.floor(f)) << 32n);
    const xs = [0n, 1n, 1n, 0n, -5n, 123456789n, (1n << 31n) + 7n, -(1n << 20n), ...Array.from(randomFloats(40, -(2 ** 31), 2 ** 31, 7), (f) => BigInt(Math.round(f)))];
    const ys = [-3n << 15n, -3n << 15n, 98765n, 98765n, 7n, 987654321n, 3n, 1n << 13n, ...Array.from(randomFloats(40, -(2 ** 31), 2 ** 31, 9), (f) => BigInt(Math.round(f)))];
    // Garbage above bit 31 in x (as truncateRing's Z_2^32 outputs may carry) must not matter.
    const xsNoisy = xs.map((v, i) => v + (noise[i % noise.length] ?? 0n));
    const run = await runWithInputs({ x: raw(xsNoisy), y: raw(ys) }, async (p, s) => revealRaw(p, await mulRaw32(p, s.x, s.y)));
    run.results[0].forEach((v, i) => expect(low32(v), `x=${xs[i]} y=${ys[i]}`).toBe(low32(xs[i] * ys[i])));
  });

  it('declared cost equals measured cost at odd and even sizes: 1 round, 4 bytes per element rounded up to whole words', async () => {
    for (const n of [1, 7, 64, 3073]) {
      const x = raw(Array.from({ length: n }, (_, i) => BigInt(i)));
      expectCost(await measureOp({ x, y: x }, (p, s) => mulRaw32(p, s.x, s.y)), mulRaw32Cost(n));
    }
    expect(mulRaw32Cost(7).bytes).toEqual([32, 32, 32]);
  });

  it('rejects operands of different shapes with an error naming the op', async () => {
    await expect(runWithInputs({ x: raw([1n, 2n]), y: raw([1n]) }, (p, s) => mulRaw32(p, s.x, s.y))).rejects.toThrow(/mulRaw32/);
  });

  const xy = { x: fixedViewInput([64], -40, 40, 11), y: fixedViewInput([64], -40, 40, 13) };
  const program: ViewProgram<AShare> = (p, s) => mulRaw32(p, s.x as AShare, s.y as AShare);

  it('view simulation: no received lane depends on the secret without the missing key', async () => {
    const reports = await simulateViews(xy, program);
    assertNoLeak(reports, 'every');
  });

  it('planted mutant: resharing without the zero sharing leaks to every party', async () => {
    const reports = await simulateViews(xy, program, { party: (o) => new NoZeroShareParty(o) });
    expect(reports.map((r) => r.leaks > 0), describeReports(reports)).toEqual([true, true, true]);
  });
});
