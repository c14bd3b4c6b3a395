import { describe, expect, it } from 'vitest';
import { fromBytes } from '@puma/ring';
import type { Channel } from '@puma/transport';
import { expectCost, fixedInput, measureOp, randomFloats, runWithInputs } from '../test-support.ts';
import { baseWorld, fixedViewInput, keyChangedFor, NoZeroShareParty, runWorld, type ViewRunOptions, type World } from '../view-test-support.ts';
import { ROTATE_FROM } from '../dealers.ts';
import type { AShare } from '../share.ts';
import { sliceFlat } from './linear.ts';
import { matmul, matmulTerm } from './matmul.ts';
import { receiveFromParties, revealToClient } from './reveal.ts';
import { receiveTermFromParties, revealTermToClient, revealTermToClientCost } from './revealTerm.ts';

function matmulF64(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) c[i * n + j] += a[i * k + p] * b[p * n + j];
  return c;
}
const q = (xs: Float64Array) => Float64Array.from(xs, (v) => Math.round(v * 2 ** 18) / 2 ** 18);

describe('revealTermToClient: an untruncated product straight to the client', () => {
  const [M, K, N] = [3, 64, 50];
  const a = randomFloats(M * K, -4, 4, 11);
  const b = randomFloats(K * N, -4, 4, 12);
  const inputs = { a: fixedInput(a, [M, K]), b: fixedInput(b, [K, N]) };

  it('x in [-4, 4]: the client gets X @ W exactly at 2f bits (float64 of the encoded inputs within 2^-40), the truncated path within 2^-17', async () => {
    const run = await runWithInputs(inputs, async (p, xs) => {
      await revealTermToClient(p, matmulTerm(p, xs.a, xs.b), 'y');
      await revealToClient(p, await matmul(p, xs.a, xs.b), 'y1');
    }, { client: async (c: Channel) => ({ term: await receiveTermFromParties(c, 'y'), truncated: await receiveFromParties(c, 'y1') }) });
    const { term, truncated } = run.client as { term: Float64Array; truncated: BigUint64Array };
    const want = matmulF64(q(a), q(b), M, K, N);
    expect(term.length).toBe(M * N);
    let worst = 0;
    let worstTruncated = 0;
    term.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - want[i]));
      worstTruncated = Math.max(worstTruncated, Math.abs(Number(BigInt.asIntN(64, truncated[i])) / 2 ** 18 - want[i]));
    });
    expect(worst).toBeLessThanOrEqual(2 ** -40);
    expect(worstTruncated).toBeGreaterThan(0);
    expect(worstTruncated).toBeLessThanOrEqual(2 ** -17);
  });

  it('declared cost equals measured: 1 round, n + 1 words per party (the header carries the fraction bits)', async () => {
    const measured = await measureOp(inputs, (p, xs) => revealTermToClient(p, matmulTerm(p, xs.a, xs.b), 'y'));
    expectCost(measured, revealTermToClientCost(M * N));
    expect(measured.rounds).toBe(1);
  });

  it('the client refuses terms whose parties disagree on the fraction bits or the length, naming the problem', async () => {
    const clientOf = async (c: Channel) => receiveTermFromParties(c, 'y').then(() => 'accepted', (e: Error) => e.message);
    const bits = await runWithInputs(inputs, async (p, xs) => {
      const t = matmulTerm(p, xs.a, xs.b);
      await revealTermToClient(p, { ...t, fracBits: p.id === 2 ? 18 : t.fracBits }, 'y');
    }, { client: clientOf });
    expect(bits.client).toBe('output y: parties announce different fraction bits (36, 36, 18)');
    const length = await runWithInputs(inputs, async (p, xs) => {
      const t = matmulTerm(p, p.id === 1 ? sliceFlat(p, xs.a, 0, [1, K]) : xs.a, xs.b);
      await revealTermToClient(p, t, 'y');
    }, { client: clientOf });
    expect(length.client).toBe('output y: parties sent terms of different lengths');
    await expect(runWithInputs(inputs, async (p, xs) => revealTermToClient(p, { ...matmulTerm(p, xs.a, xs.b), fracBits: 63 }, 'y'))).rejects.toThrow(
      "an output term's fraction bits must be an integer in [0, 62], got 63",
    );
  });
});

/**
 * The client's view: three terms whose sum is the product it is owed. Any one or two of them must be uniform,
 * so every ordered pair (i, j) needs a key the client lacks whose change moves every word of term i and no word
 * of term j (alpha_i = F(k_i) - F(k_{i+1}): key k_{j-1} moves the two terms other than j). The sum must not move.
 */
/** x [n / 64, 64] and W [64, 64]: the product the client's view tests reveal. */
const termInputs = (n: number) => ({ x: fixedViewInput([n / 64, 64], -4, 4, 5), w: fixedViewInput([64, 64], -1, 1, 7) });

async function clientTerms(world: World, n: number, o: ViewRunOptions = {}): Promise<BigUint64Array[]> {
  let terms: BigUint64Array[] = [];
  await runWorld(world, termInputs(n), async (p, s) => revealTermToClient(p, matmulTerm(p, s.x as AShare, s.w as AShare), 'y'), {
    ...o,
    client: async (c) => {
      terms = await Promise.all(([0, 1, 2] as const).map(async (i) => fromBytes(await c.recv(i, 'term:y')).subarray(1)));
    },
  });
  return terms;
}

function clientViewProblems(base: BigUint64Array[], byKey: BigUint64Array[][]): string[] {
  const problems: string[] = [];
  const sum = (t: BigUint64Array[], j: number) => BigInt.asUintN(64, t[0][j] + t[1][j] + t[2][j]);
  byKey.forEach((t, k) => {
    for (let j = 0; j < base[0].length; j++) if (sum(t, j) !== sum(base, j)) return void problems.push(`changing key k_${k} changed the revealed value`);
  });
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      if (i === j) continue;
      const masks = byKey.some((t) => t[i].every((v, w) => v !== base[i][w]) && t[j].every((v, w) => v === base[j][w]));
      if (!masks) problems.push(`no key the client lacks masks term ${i} independently of term ${j}`);
    }
  }
  return problems;
}

/** The client's view of the honest run and of one run per key changed, judged by clientViewProblems. */
async function clientViewOf(n: number, o: ViewRunOptions = {}): Promise<string[]> {
  const world = baseWorld(termInputs(n));
  const base = await clientTerms(world, n, o);
  // keyChangedFor(world, observer) changes k_{observer + 2}: observer k + 1 changes k_k.
  const byKey = await Promise.all(([0, 1, 2] as const).map((k) => clientTerms(keyChangedFor(world, ((k + 1) % 3) as 0 | 1 | 2), n, o)));
  return clientViewProblems(base, byKey);
}

describe('revealTermToClient: the client view', () => {
  for (const n of [64, ROTATE_FROM]) {
    it(`n = ${n}: any two of the three terms are masked by keys the client lacks; the sum is the output`, async () => {
      expect(await clientViewOf(n)).toEqual([]);
    });
  }

  it('mutant: terms sent without the zero sharing are caught (the client would see each party\'s product of shares)', async () => {
    expect(await clientViewOf(64, { party: (opts) => new NoZeroShareParty(opts) })).toHaveLength(6);
  });
});
