/**
 * View simulation of a whole nn function (@puma/protocol/view-test-support): GeLU chains comparisons, b2a,
 * fused products and truncations in parallel branches; for each party, nothing it receives from the others
 * depends on the secret input unless it also depends on the key that party lacks. At 64 elements and at 3072
 * (the truncation and b2a dealers rotate from 3072 up).
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '@puma/backend';
import { decodeOpNonce, opNonce, Party, type AShare, type PartyKeys } from '@puma/protocol';
import type { PartyId } from '@puma/transport';
import { baseWorld, describeReports, fixedViewInput, openWords, runWorld, simulateViews } from '@puma/protocol/view-test-support';
import { gelu } from './gelu.ts';
import { gelu as geluRef } from './reference.ts';
import { maxLastWide } from './max.ts';
import { softmaxLast } from './softmax.ts';

const program = (p: Party, s: Record<string, unknown>) => gelu(p, s.x as AShare);

/**
 * Mutant party-1 backend: every stream-1 draw under its keys.self (the key it shares with party 0) comes from
 * keys.next (shared with party 2) instead. In gelu that hits party 1's dealer chunks at n >= 3072: in b2a its
 * mask c0 of the bits it sends to party 2 becomes computable by party 2 (a leak); in the fused truncations
 * its mask r stays hidden behind its zero share (not a leak, and the simulation must not report one there).
 */
function party1MasksWithParty2sKey(id: PartyId, be: Backend, keys: PartyKeys): Backend {
  if (id !== 1) return be;
  const prg: Backend['prg'] = (key, nonce, n, counter) => {
    const { id: op, stream } = decodeOpNonce(nonce);
    return key === keys.self && stream === 1 ? be.prg(keys.next, opNonce(op, 4), n, counter) : be.prg(key, nonce, n, counter);
  };
  return new Proxy(be, {
    get(target, prop) {
      if (prop === 'prg') return prg;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('view simulation: gelu', () => {
  it.each([64, 3072])('n = %i: no received word depends on the secret without the missing key', async (n) => {
    const inputs = { x: fixedViewInput([n], -6, 6, 41) };
    const reports = await simulateViews(inputs, program);
    const summary = describeReports(reports);
    for (const r of reports) {
      expect(r.leaks, summary).toBe(0);
      expect(r.details, summary).toEqual([]);
      // Every party receives secret-dependent (masked) words here: the comparisons' AND gates reach all three.
      expect(r.secretDependent, summary).toBeGreaterThan(0);
    }
    // The run computes GeLU (the views are of a real evaluation, not of garbage).
    const { results } = await runWorld(baseWorld(inputs), inputs, async (p, s) => p.backend.read((await program(p, s)).s0));
    const got = openWords(results);
    inputs.x.base.forEach((v, j) => {
      const x = Number(BigInt.asIntN(64, v)) / 2 ** 18;
      expect(Math.abs(Number(BigInt.asIntN(64, got[j])) / 2 ** 18 - geluRef(x))).toBeLessThan(2e-3);
    });
  });

  it('mutant: a rotated b2a dealer chunk masked with the receiver\'s key is caught inside gelu (n = 3072), at party 2 only', async () => {
    const reports = await simulateViews({ x: fixedViewInput([3072], -6, 6, 41) }, program, { backend: party1MasksWithParty2sKey });
    const summary = describeReports(reports);
    expect(reports.map((r) => r.leaks > 0), summary).toEqual([false, false, true]);
    expect(reports[2].details.every((d) => d.includes('from party 1')), summary).toBe(true);
  });
});

/** Mutant party: boolean resharing (narrow comparisons' carries, the max's AND gates) without the XOR zero sharing. */
class NoZeroShareXorParty extends Party {
  override zeroShareXor(_tag: string, n: number) {
    return this.backend.zeros(n);
  }
}

describe('view simulation: the max of all-pairs groups on narrow comparisons, and softmax', () => {
  // 96 rows of 32: 3072 win bits, so the b2a dealers rotate.
  const maxProgram = (p: Party, s: Record<string, unknown>) => maxLastWide(p, s.x as AShare);
  it.each([[2, 32], [96, 32]])('max over %i rows of %i: no received word depends on the secret without the missing key', async (rows, cols) => {
    const reports = await simulateViews({ x: fixedViewInput([rows, cols], -30, 30, 43) }, maxProgram);
    const summary = describeReports(reports);
    for (const r of reports) {
      expect(r.leaks, summary).toBe(0);
      expect(r.details, summary).toEqual([]);
      expect(r.secretDependent, summary).toBeGreaterThan(0);
    }
  });

  it('causal softmax over 2 heads of 8 x 8: no received word depends on the secret without the missing key', async () => {
    const reports = await simulateViews({ x: fixedViewInput([2, 8, 8], -20, 20, 47) }, (p, s) => softmaxLast(p, s.x as AShare, { causal: { queryOffset: 0 } }));
    const summary = describeReports(reports);
    for (const r of reports) {
      expect(r.leaks, summary).toBe(0);
      expect(r.details, summary).toEqual([]);
    }
  });

  it('mutant: the max without the XOR zero sharing in its boolean resharing leaks to every party', async () => {
    const reports = await simulateViews({ x: fixedViewInput([2, 32], -30, 30, 43) }, maxProgram, { party: (o) => new NoZeroShareXorParty(o) });
    expect(reports.map((r) => r.leaks > 0), describeReports(reports)).toEqual([true, true, true]);
  });
});
