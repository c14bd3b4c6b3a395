/**
 * The two host-side kernels a Node party's streamed weights spend most of their time in, on node:crypto
 * (OpenSSL, with the CPU's SHA and vector extensions) instead of the portable paths: sha256 of every stored
 * part read (WebCrypto in Node measured about 2.5x slower here) and the ChaCha20 expansion of PRG-derived
 * weight components (the WebAssembly kernel is 4-wide SIMD; OpenSSL's is several times faster on this CPU).
 * The expansion is the backends' prg stream (RFC 8439 section 2.4 keystream, counter = word offset / 8, the
 * seed nonce, DESIGN.md) bit for bit: OpenSSL's "chacha20" takes the 32-bit block counter (little-endian)
 * followed by the 96-bit nonce as its 16-byte IV, and encrypting zeros yields the keystream.
 *
 * Why 64 KiB updates: node:crypto returns every update's output in a buffer of its own, and a fresh multi-MiB
 * buffer is mapped afresh by the allocator, so the first write to each page faults. On this repo's 2-core
 * benchmark machine that cost about 27 ms per 8 MiB block on the main thread and 75-81 ms in two worker threads at
 * once (the parties), against 2.3-2.4 ms for the same keystream taken in 64 KiB updates (small buffers the
 * allocator recycles) and copied into place (median of 60 blocks, scratch micro-benchmark, 2026-12-05). The place
 * is the caller's: the weight stream passes the backend's own words (Backend.uploadWith: WebAssembly lends its
 * heap), so each update is copied once, where the pass reads it.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { SEED_NONCE } from '@puma/protocol';
import type { SeedExpander } from '@puma/models/secure';
import type { StoredWeightOptions } from '@puma/worker/session';

const WORDS_PER_CHACHA_BLOCK = 8;
/** Keystream bytes per OpenSSL update: well under glibc's smallest mmap threshold (128 KiB), so recycled. */
const UPDATE_BYTES = 64 * 1024;

export function nodeSha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A SeedExpander on OpenSSL's ChaCha20, writing each 64 KiB update into the caller's words. */
export function nodeSeedExpander(): SeedExpander {
  const zeros = new Uint8Array(UPDATE_BYTES);
  return (seed, offset, n, into) => {
    if (seed.length !== 8) throw new Error(`seed expansion: a seed is 8 words, got ${seed.length}`);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(n) || n < 0) throw new Error(`seed expansion: words [${offset}, ${offset} + ${n}) are not a range`);
    if (into.length !== n) throw new Error(`seed expansion: ${n} words asked into ${into.length}`);
    const skip = offset % WORDS_PER_CHACHA_BLOCK;
    const counter = (offset - skip) / WORDS_PER_CHACHA_BLOCK;
    if (counter + Math.ceil((skip + n) / WORDS_PER_CHACHA_BLOCK) > 2 ** 32) throw new Error(`seed expansion: ChaCha20 block counter would overflow at word ${offset + n}`);
    const iv = new Uint8Array(16);
    new DataView(iv.buffer).setUint32(0, counter, true);
    iv.set(new Uint8Array(SEED_NONCE.buffer, SEED_NONCE.byteOffset, 12), 4);
    const cipher = createCipheriv('chacha20', new Uint8Array(seed.buffer, seed.byteOffset, 32), iv);
    // The words of the first block before `offset` are generated and dropped.
    if (skip > 0) cipher.update(zeros.subarray(0, 8 * skip));
    const out = new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
    for (let at = 0; at < out.length; at += UPDATE_BYTES) out.set(cipher.update(zeros.subarray(0, Math.min(UPDATE_BYTES, out.length - at))), at);
  };
}

/** How a Node party reads its stored weights: OpenSSL's sha256 and ChaCha20, and the weight cache's cap. */
export function nodeWeightRead(weightCacheBytes?: number): StoredWeightOptions {
  return { weightCacheBytes, sha256: nodeSha256, expand: nodeSeedExpander() };
}
