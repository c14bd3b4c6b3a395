/**
 * Wire packing for messages that mix Z_2^32 and Z_2^64 values (truncateRing.ts). A value of Z_2^32 is kept in
 * a 64-bit backend word whose upper half is ignored; on the wire it takes one 32-bit lane, a Z_2^64 value two
 * (low, high). The lanes of a message's parts are laid end to end and sent as ceil(lanes / 2) u64 words
 * (the channel carries u64 words; an odd lane count pads one zero lane). Packing happens on CPU-side copies
 * that the protocol reads anyway before sending, so no backend kernel is involved.
 * Cost: packedBytes(lanes) = 8 ceil(lanes / 2) bytes per message.
 */
import { zeroWords } from '@puma/ring';

export type RingBits = 32 | 64;

/** One part of a message: `count` values of Z_2^bits. */
export interface LanePart {
  readonly count: number;
  readonly bits: RingBits;
}

const lanesPer = (bits: RingBits): number => (bits === 32 ? 1 : 2);

/** Lanes of a message made of these parts. */
export function laneCount(parts: readonly LanePart[]): number {
  return parts.reduce((s, q) => s + q.count * lanesPer(q.bits), 0);
}

/** Bytes on the wire for a message of `lanes` 32-bit lanes. */
export const packedBytes = (lanes: number): number => 8 * Math.ceil(lanes / 2);

/** Packs each part's words (a value per word) into lanes: one per Z_2^32 value (its low half), two per Z_2^64. */
export function packLanes(parts: ReadonlyArray<{ words: BigUint64Array; bits: RingBits }>): BigUint64Array {
  const lanes = laneCount(parts.map((q) => ({ count: q.words.length, bits: q.bits })));
  const out = zeroWords(Math.ceil(lanes / 2));
  const dst = new Uint32Array(out.buffer);
  let at = 0;
  for (const { words, bits } of parts) {
    const src = new Uint32Array(words.buffer, words.byteOffset, words.length * 2);
    if (bits === 64) {
      dst.set(src, at);
      at += src.length;
    } else {
      for (let j = 0; j < words.length; j++) dst[at + j] = src[2 * j];
      at += words.length;
    }
  }
  return out;
}

/** Inverse of packLanes for a message laid out as `layout`: Z_2^32 values come back with a zero upper half. */
export function unpackLanes(msg: BigUint64Array, layout: readonly LanePart[]): BigUint64Array[] {
  const lanes = laneCount(layout);
  if (msg.length !== Math.ceil(lanes / 2)) throw new Error(`packed message of ${msg.length} words does not hold ${lanes} lanes`);
  const src = new Uint32Array(msg.buffer, msg.byteOffset, msg.length * 2);
  let at = 0;
  return layout.map(({ count, bits }) => {
    const out = zeroWords(count);
    const dst = new Uint32Array(out.buffer);
    if (bits === 64) {
      dst.set(src.subarray(at, at + 2 * count));
      at += 2 * count;
    } else {
      for (let j = 0; j < count; j++) dst[2 * j] = src[at + j];
      at += count;
    }
    return out;
  });
}
