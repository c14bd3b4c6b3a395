/**
 * The Node party's host kernels for stored weights: OpenSSL's ChaCha20 gives the PRG stream of the backends
 * (ring's reference chachaWords with the seed nonce) word for word, from any word offset, including offsets
 * inside a ChaCha20 block and lengths that end inside one; sha256 matches WebCrypto's.
 */
import { describe, expect, it } from 'vitest';
import { SEED_NONCE } from '@puma/protocol';
import { chachaWords } from '@puma/ring';
import { sha256Hex } from '@puma/worker/session';
import { nodeSeedExpander, nodeSha256 } from './node-weight-read.ts';

const seed = Uint32Array.from({ length: 8 }, (_, i) => (0x9e3779b9 * (i + 1)) >>> 0);

describe('Node weight read kernels', () => {
  it.each([
    [0, 8], [0, 1], [3, 5], [7, 1], [8, 33], [13, 1000], [8189, 8200], [1_048_573, 1_048_579],
  ])('expands words [%i, +%i) as the reference ChaCha20 stream', (offset, n) => {
    const skip = offset % 8;
    const want = chachaWords(seed, SEED_NONCE, skip + n, (offset - skip) / 8).subarray(skip);
    const got = new BigUint64Array(n);
    nodeSeedExpander()(seed, offset, n, got);
    expect(Buffer.compare(new Uint8Array(got.buffer, got.byteOffset, got.byteLength), new Uint8Array(want.buffer, want.byteOffset, want.byteLength))).toBe(0);
  });

  it('one expander serves requests of any size in any order, into views at any word offset', () => {
    const expand = nodeSeedExpander();
    const big = new BigUint64Array(4096);
    expand(seed, 5, 4096, big);
    const host = new BigUint64Array(40);
    expand(seed, 21, 10, host.subarray(7, 17));
    expect([...host.subarray(7, 17)]).toEqual([...big.subarray(16, 26)]);
    expect(host.subarray(0, 7).every((w) => w === 0n) && host.subarray(17).every((w) => w === 0n)).toBe(true);
    const again = new BigUint64Array(4096);
    expand(seed, 5, 4096, again);
    expect(Buffer.compare(Buffer.from(again.buffer), Buffer.from(big.buffer))).toBe(0);
  });

  it('names a bad seed, range or counter overflow', () => {
    const expand = nodeSeedExpander();
    const into = new BigUint64Array(9);
    expect(() => expand(new Uint32Array(7), 0, 4, into.subarray(0, 4))).toThrow('a seed is 8 words, got 7');
    expect(() => expand(seed, -1, 4, into.subarray(0, 4))).toThrow('are not a range');
    expect(() => expand(seed, 8 * (2 ** 32 - 1), 9, into)).toThrow('block counter would overflow');
    expect(() => expand(seed, 0, 4, into)).toThrow('4 words asked into 9');
  });

  it('sha256 equals WebCrypto\'s', async () => {
    const bytes = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 31) & 0xff);
    expect(nodeSha256(bytes)).toBe(await sha256Hex(bytes));
  });
});
