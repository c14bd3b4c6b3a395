/**
 * ChaCha20 block function (RFC 8439 section 2.3): 256-bit key, 96-bit nonce, 32-bit block counter.
 * The PRG stream of DESIGN.md is the keystream read as little-endian u64 words: block c gives words
 * 8c .. 8c+7. Every backend must reproduce this stream bit for bit.
 */
export const CHACHA_WORDS_PER_BLOCK = 8;

function rotl(x: number, n: number): number {
  return ((x << n) | (x >>> (32 - n))) >>> 0;
}

function quarter(s: Uint32Array, a: number, b: number, c: number, d: number): void {
  s[a] = (s[a] + s[b]) >>> 0; s[d] = rotl(s[d] ^ s[a], 16);
  s[c] = (s[c] + s[d]) >>> 0; s[b] = rotl(s[b] ^ s[c], 12);
  s[a] = (s[a] + s[b]) >>> 0; s[d] = rotl(s[d] ^ s[a], 8);
  s[c] = (s[c] + s[d]) >>> 0; s[b] = rotl(s[b] ^ s[c], 7);
}

export function checkKeyNonce(key: Uint32Array, nonce: Uint32Array): void {
  if (key.length !== 8) throw new Error(`ChaCha20 key must be 8 u32 words, got ${key.length}`);
  if (nonce.length !== 3) throw new Error(`ChaCha20 nonce must be 3 u32 words, got ${nonce.length}`);
}

/** Writes the 16-word block for `counter` into out[offset .. offset+16). */
export function chachaBlock(key: Uint32Array, nonce: Uint32Array, counter: number, out: Uint32Array, offset = 0): void {
  blockInto(key, nonce, counter, out, offset, new Uint32Array(16), new Uint32Array(16));
}

/** The block function with caller-owned scratch (`init`, `s`: 16 words each), so a stream allocates once. */
function blockInto(key: Uint32Array, nonce: Uint32Array, counter: number, out: Uint32Array, offset: number, init: Uint32Array, s: Uint32Array): void {
  init[0] = 0x61707865; init[1] = 0x3320646e; init[2] = 0x79622d32; init[3] = 0x6b206574;
  init.set(key, 4);
  init[12] = counter >>> 0;
  init.set(nonce, 13);
  s.set(init);
  for (let i = 0; i < 10; i++) {
    quarter(s, 0, 4, 8, 12); quarter(s, 1, 5, 9, 13); quarter(s, 2, 6, 10, 14); quarter(s, 3, 7, 11, 15);
    quarter(s, 0, 5, 10, 15); quarter(s, 1, 6, 11, 12); quarter(s, 2, 7, 8, 13); quarter(s, 3, 4, 9, 14);
  }
  for (let i = 0; i < 16; i++) out[offset + i] = (s[i] + init[i]) >>> 0;
}

/** n u64 words of the stream starting at block `counter`. */
export function chachaWords(key: Uint32Array, nonce: Uint32Array, n: number, counter = 0): BigUint64Array {
  checkKeyNonce(key, nonce);
  const blocks = Math.ceil(n / CHACHA_WORDS_PER_BLOCK);
  if (counter + blocks > 2 ** 32) throw new Error(`ChaCha20 block counter would overflow (${blocks} blocks from ${counter})`);
  const words = new Uint32Array(blocks * 16);
  const init = new Uint32Array(16);
  const s = new Uint32Array(16);
  for (let b = 0; b < blocks; b++) blockInto(key, nonce, counter + b, words, b * 16, init, s);
  return new BigUint64Array(words.buffer, 0, n);
}

/** Reads a 32-byte key given as bytes into the 8 little-endian words the block function takes. */
export function keyFromBytes(bytes: Uint8Array): Uint32Array {
  if (bytes.length !== 32) throw new Error(`key must be 32 bytes, got ${bytes.length}`);
  const k = new Uint32Array(8);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 32);
  for (let i = 0; i < 8; i++) k[i] = dv.getUint32(4 * i, true);
  return k;
}

export function randomKey(): Uint32Array {
  const k = new Uint32Array(8);
  crypto.getRandomValues(k);
  return k;
}
