/**
 * The two host-side kernels a Node party's streamed weights spend most of their time in, on node:crypto
 * (OpenSSL, with the CPU's SHA and vector extensions) instead of the portable paths: sha256 of every stored
 * part read (WebCrypto in Node measured about 2.5x slower here) and the ChaCha20 expansion of PRG-derived
 * weight components (the WebAssembly kernel is 4-wide SIMD; OpenSSL's is several times faster on this CPU).
 * The expansion is the backends' prg stream (RFC 8439 section 2.4 keystream, counter = word offset / 8, the
 * seed nonce, DESIGN.md) bit for bit: OpenSSL's "chacha20" takes the 32-bit block counter (little-endian)
 * followed by the 96-bit nonce as its 16-byte IV, and encrypting zeros yields the keystream.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { SEED_NONCE } from '@puma/protocol';
import type { SeedExpander } from '@puma/models/secure';
import type { StoredWeightOptions } from '@puma/worker/session';

const WORDS_PER_CHACHA_BLOCK = 8;

export function nodeSha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A SeedExpander on OpenSSL's ChaCha20; it keeps one zero buffer of the largest request for its inputs. */
export function nodeSeedExpander(): SeedExpander {
  let zeros = new Uint8Array(0);
  return (seed, offset, n) => {
    if (seed.length !== 8) throw new Error(`seed expansion: a seed is 8 words, got ${seed.length}`);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(n) || n < 0) throw new Error(`seed expansion: words [${offset}, ${offset} + ${n}) are not a range`);
    const skip = offset % WORDS_PER_CHACHA_BLOCK;
    const counter = (offset - skip) / WORDS_PER_CHACHA_BLOCK;
    if (counter + Math.ceil((skip + n) / WORDS_PER_CHACHA_BLOCK) > 2 ** 32) throw new Error(`seed expansion: ChaCha20 block counter would overflow at word ${offset + n}`);
    const bytes = 8 * (skip + n);
    if (zeros.byteLength < bytes) zeros = new Uint8Array(bytes);
    const iv = new Uint8Array(16);
    new DataView(iv.buffer).setUint32(0, counter, true);
    iv.set(new Uint8Array(SEED_NONCE.buffer, SEED_NONCE.byteOffset, 12), 4);
    const key = new Uint8Array(seed.buffer, seed.byteOffset, 32);
    const stream = createCipheriv('chacha20', key, iv).update(zeros.subarray(0, bytes));
    const start = stream.byteOffset + 8 * skip;
    // OpenSSL's output of a large request is a buffer of its own at offset 0: viewed, not copied.
    if (start % 8 === 0) return new BigUint64Array(stream.buffer, start, n);
    return new BigUint64Array(new Uint8Array(stream.subarray(8 * skip)).buffer);
  };
}

/** How a Node party reads its stored weights: OpenSSL's sha256 and ChaCha20, and the weight cache's cap. */
export function nodeWeightRead(weightCacheBytes?: number): StoredWeightOptions {
  return { weightCacheBytes, sha256: nodeSha256, expand: nodeSeedExpander() };
}
