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
    const got = nodeSeedExpander()(seed, offset, n);
    expect(got.length).toBe(n);
    expect(Buffer.compare(new Uint8Array(got.buffer, got.byteOffset, got.byteLength), new Uint8Array(want.buffer, want.byteOffset, want.byteLength))).toBe(0);
  });

  it('one expander serves requests of any size in any order, each valid until the next', () => {
    const expand = nodeSeedExpander();
    const big = expand(seed, 5, 4096).slice();
    const small = expand(seed, 21, 10);
    expect([...small]).toEqual([...big.subarray(16, 26)]);
    const again = expand(seed, 5, 4096);
    expect(Buffer.compare(Buffer.from(again.buffer, again.byteOffset, again.byteLength), Buffer.from(big.buffer))).toBe(0);
  });

  it('names a bad seed, range or counter overflow', () => {
    const expand = nodeSeedExpander();
    expect(() => expand(new Uint32Array(7), 0, 4)).toThrow('a seed is 8 words, got 7');
    expect(() => expand(seed, -1, 4)).toThrow('are not a range');
    expect(() => expand(seed, 8 * (2 ** 32 - 1), 9)).toThrow('block counter would overflow');
  });

  it('sha256 equals WebCrypto\'s', async () => {
    const bytes = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 31) & 0xff);
    expect(nodeSha256(bytes)).toBe(await sha256Hex(bytes));
  });
});
