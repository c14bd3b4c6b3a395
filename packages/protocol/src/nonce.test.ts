/**
 * PRG nonces from op ids (nonce.ts): injective by construction (decoding gives the op id and stream back),
 * exact layout, and clear refusals for ids that are not structured or do not fit.
 */
import { describe, expect, it } from 'vitest';
import { referenceBackend } from '@puma/backend';
import { memoryNetwork } from '@puma/transport';
import { decodeOpNonce, opIdBits, opNonce, PATH_BITS } from './nonce.ts';
import { Party } from './party.ts';

const hex = (n: Uint32Array) => Array.from(n, (w) => w.toString(16).padStart(8, '0')).join('');

/**
 * The encoding spelled out with bit strings and BigInt, straight from nonce.ts's header (Elias delta code of
 * each counter + 1, a closing 1, zero padding to 92 bits, 4 stream bits), as the encoding every build shares.
 */
function referenceNonce(id: string, stream: number): string {
  const delta = (n: bigint) => {
    const bits = n.toString(2);
    const len = BigInt(bits.length).toString(2);
    return '0'.repeat(len.length - 1) + len + bits.slice(1);
  };
  const code = id.split('.').map((c) => delta(BigInt(c) + 1n)).join('') + '1';
  const v = ((BigInt(`0b${code}`) << BigInt(PATH_BITS - code.length)) << 4n) | BigInt(stream);
  return v.toString(16).padStart(24, '0');
}

describe('op nonces', () => {
  it('lay out the path codes, the closing bit and the stream as documented', () => {
    // "0": delta(1) = "1", closing "1" -> field 0b11 << 90; stream 5 in the low 4 bits.
    expect(hex(opNonce('0', 5))).toBe('c0000000' + '00000000' + '00000005');
    // "1.2": delta(2) = "0100", delta(3) = "0101", closing "1" -> field 0b010001011 << 83.
    expect(hex(opNonce('1.2', 0))).toBe(hex(new Uint32Array([0b010001011 << 23, 0, 0])));
  });

  it('match the bit-string encoding exactly (nonces are shared between parties of different builds)', () => {
    // Counters at every code-length boundary (2^j - 2, 2^j - 1 after the +1) up to 2^53 - 1, in paths of 1 to 4.
    const edges = [0, 1, 2, 5, 6, 13, 14, 126, 127, 254, 255, 65_534, 65_535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1, 2 ** 32, 2 ** 52, Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER];
    let state = 12345;
    const rand = (bound: number) => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % bound;
    };
    const ids: string[] = edges.map(String);
    for (let i = 0; i < 3000; i++) {
      const depth = 1 + rand(4);
      const path = Array.from({ length: depth }, () => (rand(3) === 0 ? edges[rand(edges.length)] : rand(1 + 2 ** rand(20))));
      ids.push(path.join('.'));
    }
    let compared = 0;
    for (const id of ids) {
      const stream = rand(16);
      if (opIdBits(id) > PATH_BITS) {
        expect(() => opNonce(id, stream), id).toThrow(/more than the nonce's 92/);
        continue;
      }
      expect(hex(opNonce(id, stream)), id).toBe(referenceNonce(id, stream));
      compared++;
    }
    expect(compared).toBeGreaterThan(2000);
  });

  it('decode back to the op id and stream, and never collide (all paths of up to 3 counters from a set that fit)', () => {
    const counters = [0, 1, 2, 3, 6, 7, 14, 15, 254, 255, 65_535, 2 ** 24, 2 ** 32 - 1];
    const one = counters.map(String);
    const two = one.flatMap((a) => counters.map((c) => `${a}.${c}`));
    const ids = [...one, ...two, ...two.flatMap((a) => counters.map((c) => `${a}.${c}`))];
    const seen = new Map<string, string>();
    let refused = 0;
    for (const id of ids) {
      if (opIdBits(id) > PATH_BITS) {
        expect(() => opNonce(id, 0)).toThrow(/more than the nonce's 92/);
        refused++;
        continue;
      }
      for (const stream of [0, 1, 3, 15]) {
        const n = opNonce(id, stream);
        expect(decodeOpNonce(n)).toEqual({ id, stream });
        const key = hex(n);
        expect(seen.get(key), `${id}/${stream}`).toBeUndefined();
        seen.set(key, `${id}/${stream}`);
      }
    }
    expect(refused).toBeLessThan(50);
    expect(seen.size).toBe((13 + 13 ** 2 + 13 ** 3 - refused) * 4);
  });

  it('fit any root counter up to 2^53 and deep parallel paths; refuse, not collide, beyond 92 bits', () => {
    expect(opIdBits(String(Number.MAX_SAFE_INTEGER))).toBe(65);
    expect(decodeOpNonce(opNonce(String(Number.MAX_SAFE_INTEGER - 1), 2))).toEqual({ id: String(Number.MAX_SAFE_INTEGER - 1), stream: 2 });
    // A root counter below 2^32 plus three nested parallel levels (branch < 7, counter < 127): 42 + 3 * (5 + 11) + 1 bits.
    const deep = `${2 ** 32 - 2}.6.126.6.126.6.126`;
    expect(opIdBits(deep)).toBe(PATH_BITS - 1);
    expect(decodeOpNonce(opNonce(deep, 1)).id).toBe(deep);
    const tooDeep = Array(23).fill('1').join('.');
    expect(opIdBits(tooDeep)).toBe(93);
    expect(() => opNonce(tooDeep, 0)).toThrow(/needs 93 bits, more than the nonce's 92/);
  });

  it('refuse ids that are not dot-separated counters, and streams outside 0..15', () => {
    for (const bad of ['', 'tok:3', '01', '1..2', '1.', '.1', '-1', '1e3', 'job-1.4']) {
      expect(() => opNonce(bad, 0), bad).toThrow(/is not a structured op id/);
    }
    expect(() => opNonce('1'.repeat(17), 0)).toThrow(/beyond 2\^53/);
    expect(() => opNonce('3', 16)).toThrow(/stream index 16 out of range \[0, 15\]/);
    expect(() => opNonce('3', 1.5)).toThrow(/stream index 1.5/);
    expect(() => decodeOpNonce(new Uint32Array(3))).toThrow(/path field is all zeros/);
  });

  it('come from the tags Party hands out, including parallel branches; a free-text prefix is refused', async () => {
    const channel = memoryNetwork([0]).get(0)!;
    const keys = { self: new Uint32Array(8), next: new Uint32Array(8) };
    const p = new Party({ id: 0, backend: referenceBackend(), channel, keys, fracBits: 18 });
    expect(p.nextTag()).toBe('0');
    const tags = await p.parallel(async (q) => [q.nextTag(), q.nextTag()], async (q) => {
      const [inner] = await q.parallel(async (r) => r.nextTag());
      return [q.nextTag(), inner];
    });
    expect(tags).toEqual([['1.0.0', '1.0.1'], ['1.1.1', '1.1.0.0.0']]);
    for (const t of tags.flat()) expect(decodeOpNonce(opNonce(t, 0)).id).toBe(t);
    expect(() => new Party(p, 'job3:')).toThrow(/op id prefix "job3:" must be counters each followed by a dot/);
  });
});
