import { describe, expect, it } from 'vitest';
import { chachaBlock, chachaWords } from './chacha20.ts';

const hexWords = (hex: string) => {
  const b = Uint8Array.from(hex.replace(/\s+/g, '').match(/../g)!.map((h) => parseInt(h, 16)));
  return new Uint32Array(b.buffer);
};

describe('ChaCha20 (RFC 8439)', () => {
  it('block function test vector, section 2.3.2', () => {
    const key = hexWords('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const nonce = hexWords('000000090000004a00000000');
    const out = new Uint32Array(16);
    chachaBlock(key, nonce, 1, out);
    expect(Array.from(out)).toEqual([
      0xe4e7f110, 0x15593bd1, 0x1fdd0f50, 0xc47120a3, 0xc7f4d1c7, 0x0368c033, 0x9aaa2204, 0x4e6cd4c3,
      0x466482d2, 0x09aa9f07, 0x05d7c214, 0xa2028bd9, 0xd19c12b5, 0xb94e16de, 0xe883d0cb, 0x4e3c50a2,
    ]);
  });
  it('keystream test vector, section 2.4.2 (first 64 bytes of counter 1)', () => {
    const key = hexWords('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const nonce = hexWords('000000000000004a00000000');
    const words = chachaWords(key, nonce, 8, 1);
    const bytes = new Uint8Array(words.buffer, words.byteOffset, 64);
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    // Keystream = ciphertext XOR plaintext of the RFC's "Ladies and Gentlemen" example, first block.
    const plain = new TextEncoder().encode("Ladies and Gentlemen of the class of '99: If I could offer you o");
    const cipher = '6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8';
    const expected = Array.from(plain, (p, i) => (p ^ parseInt(cipher.slice(2 * i, 2 * i + 2), 16)).toString(16).padStart(2, '0')).join('');
    expect(hex).toBe(expected);
  });
  it('u64 words are the keystream bytes little-endian, across block boundaries', () => {
    const key = new Uint32Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const nonce = new Uint32Array([9, 10, 11]);
    const long = chachaWords(key, nonce, 20);
    const tail = chachaWords(key, nonce, 4, 2);
    expect(Array.from(long.subarray(16, 20))).toEqual(Array.from(tail));
    const blk = new Uint32Array(16);
    chachaBlock(key, nonce, 0, blk);
    expect(long[0]).toBe(BigInt(blk[0]) | (BigInt(blk[1]) << 32n));
  });
  it('rejects bad key and nonce sizes', () => {
    expect(() => chachaWords(new Uint32Array(7), new Uint32Array(3), 1)).toThrow(/key must be 8/);
    expect(() => chachaWords(new Uint32Array(8), new Uint32Array(2), 1)).toThrow(/nonce must be 3/);
  });
});
