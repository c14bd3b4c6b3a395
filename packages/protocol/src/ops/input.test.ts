import { describe, expect, it } from 'vitest';
import { CLIENT, type Channel } from '@puma/transport';
import { chachaWords, decodeFixed, encodeFixed } from '@puma/ring';
import { runLocal } from '../runner.ts';
import { testBackend } from '../test-support.ts';
import { receiveInput, sendInput, splitInput, encodeBundle, decodeBundle, SEED_NONCE } from './input.ts';
import { reveal, revealToClient, receiveFromParties, revealCost } from './reveal.ts';
import { add, addPublic, mulPublicInt, subPublic, sumLast, sliceLast, concatLast, transpose, broadcastLast } from './linear.ts';

describe('input sharing, reveal and local ops', () => {
  it('client input -> parties -> local ops -> reveal to client only; parties send n words each', async () => {
    const x = [1.5, -2.25, 3, 0, -7.125, 8];
    const run = await runLocal(testBackend(), async (p) => {
      const s = await receiveInput(p, CLIENT, 'x', [2, 3]);
      const y = addPublic(p, mulPublicInt(p, add(p, s, s), 3), 1);
      const b0 = p.channel.stats.bytesSent;
      await revealToClient(p, y, 'y');
      expect(p.channel.stats.bytesSent - b0).toBe(revealCost(6).bytes[p.id]);
      return p.channel.stats.bytesSent;
    }, {
      client: async (c: Channel) => {
        sendInput(c, 'x', encodeFixed(x));
        return decodeFixed(await receiveFromParties(c, 'y'));
      },
    });
    expect(Array.from(run.client as Float64Array)).toEqual(x.map((v) => 6 * v + 1));
  });

  it('subPublic: x - c for a public scalar and for per-element constants (a typed array or a plain one)', async () => {
    const x = [1.5, -2.25, 3, 0, -7.125, 8];
    const c = [0.5, -1, 2.75, -3, 0, 100];
    const run = await runLocal(testBackend(), async (p) => {
      const s = await receiveInput(p, CLIENT, 'x', [6]);
      await revealToClient(p, subPublic(p, s, 2.5), 'scalar');
      await revealToClient(p, subPublic(p, s, Float64Array.from(c)), 'typed');
      await revealToClient(p, subPublic(p, s, c), 'plain');
    }, {
      client: async (ch: Channel) => {
        sendInput(ch, 'x', encodeFixed(x));
        return Promise.all(['scalar', 'typed', 'plain'].map(async (t) => Array.from(decodeFixed(await receiveFromParties(ch, t)))));
      },
    });
    const [scalar, typed, plain] = run.client as number[][];
    expect(scalar).toEqual(x.map((v) => v - 2.5));
    expect(typed).toEqual(x.map((v, i) => v - c[i]));
    expect(plain).toEqual(typed);
  });

  it('splitInput: the three components add up to x mod 2^64, borrows across the 32-bit halves included', () => {
    const x = new BigUint64Array([0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 64n - 1n, 2n ** 63n, 12345678901234567890n, ...Array.from({ length: 993 }, (_, i) => BigInt(i) * 0x9e3779b97f4a7c15n % 2n ** 64n)]);
    const [b0, b1] = splitInput(x);
    const x0 = chachaWords(b0.seed0!, SEED_NONCE, x.length);
    const x1 = chachaWords(b0.seed1!, SEED_NONCE, x.length);
    x.forEach((v, i) => expect(BigInt.asUintN(64, x0[i] + x1[i] + b1.dense![i])).toBe(v));
  });

  it('PRG compression: party 0 gets two seeds, parties 1 and 2 one seed and the one dense component', () => {
    const n = 1000;
    const [b0, b1, b2] = splitInput(encodeFixed(new Array(n).fill(1)));
    expect(encodeBundle(b0).byteLength).toBe(8 + 64);
    expect(encodeBundle(b1).byteLength).toBe(8 + 32 + 8 * n);
    expect(b1.dense).toBe(b2.dense);
    const round = decodeBundle(encodeBundle(b1));
    expect(Array.from(round.seed0!)).toEqual(Array.from(b1.seed0!));
    expect(Array.from(round.dense!)).toEqual(Array.from(b1.dense!));
    expect(() => decodeBundle(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 5]))).toThrow(/truncated/);
  });

  it('shape ops: sum, slice, concat, transpose, broadcast', async () => {
    const v = [1, 2, 3, 4, 5, 6];
    const run = await runLocal(testBackend(), async (p) => {
      const s = await receiveInput(p, CLIENT, 'v', [2, 3]);
      return Promise.all([
        reveal(p, sumLast(p, s)),
        reveal(p, concatLast(p, sliceLast(p, s, 1, 2), sliceLast(p, s, 0, 1))),
        reveal(p, transpose(p, s, [1, 0])),
        reveal(p, broadcastLast(p, sumLast(p, s), 2)),
      ].map((x) => x));
    }, { client: async (c) => sendInput(c, 'v', encodeFixed(v)) });
    const [sum, rot, tr, bc] = run.results[0].map((a) => Array.from(a));
    expect(sum).toEqual([6, 15]);
    expect(rot).toEqual([2, 3, 1, 5, 6, 4]);
    expect(tr).toEqual([1, 4, 2, 5, 3, 6]);
    expect(bc).toEqual([6, 6, 15, 15]);
  });
});
