/**
 * Wire helpers of the dealer-table ops (tableCompare.ts, tableMax.ts): 32-bit views of u64 messages, bit fields
 * packed across word boundaries, messages concatenated per peer and read back in chunk order.
 */
import type { PartyId } from '@puma/transport';
import { zeroWords } from '@puma/ring';
import type { Party } from '../party.ts';

/** u64 words holding `bits` bits. */
export const words64 = (bits: number): number => Math.ceil(bits / 64);

/** `count` words of the PRG stream `stream` under the key this party shares with `peer`, read back from the backend. */
export async function drawWords(p: Party, peer: PartyId, tag: string, count: number, stream: number): Promise<BigUint64Array> {
  const buf = p.prgWith(peer, tag, count, stream);
  const words = await p.backend.read(buf);
  p.drop(buf);
  return words;
}

/** The u32 view of u64 words (word i is u32s 2i and 2i + 1, little-endian). */
export const u32 = (w: BigUint64Array): Uint32Array => new Uint32Array(w.buffer, w.byteOffset, w.length * 2);

/** A window of `width` bits (at most 32): its wrap mask and the mask of its bits below the top one. */
export function windowMasks(width: number): { mask: number; lowMask: number } {
  return { mask: width === 32 ? 0xffffffff : 2 ** width - 1, lowMask: 2 ** (width - 1) - 1 };
}

/** Components [start, start + count) of a u64 vector (`comp`: its u32 view, low words used), cut to the window's bits. */
export function windowLows(comp: Uint32Array, start: number, count: number, width: number): Uint32Array {
  const { mask } = windowMasks(width);
  const v = new Uint32Array(count);
  for (let e = 0; e < count; e++) v[e] = comp[2 * (start + e)] & mask;
  return v;
}

/** dst = a ^ b over dst's length. */
export function xorTo(dst: Uint32Array, a: Uint32Array, b: Uint32Array): Uint32Array {
  for (let i = 0; i < dst.length; i++) dst[i] = a[i] ^ b[i];
  return dst;
}

/** a ^ b into a new array (a's length). */
export const xorOf = (a: Uint32Array, b: Uint32Array): Uint32Array => xorTo(new Uint32Array(a.length), a, b);

/** dst ^= pad over dst's length. */
export function xorInto(dst: Uint32Array, pad: Uint32Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] ^= pad[i];
}

/** ORs `value` (below 2^bits, bits <= 32) into the field at bit `pos` (zero before). */
export function putBits(buf: Uint32Array, pos: number, value: number, bits: number): void {
  const w = pos >>> 5;
  const off = pos & 31;
  buf[w] |= value << off;
  if (off + bits > 32) buf[w + 1] |= value >>> (32 - off);
}

/** The `bits`-bit field (bits <= 32) at bit `pos`. */
export function getBits(buf: Uint32Array, pos: number, bits: number): number {
  const w = pos >>> 5;
  const off = pos & 31;
  let v = buf[w] >>> off;
  if (off + bits > 32) v |= buf[w + 1] << (32 - off);
  return bits >= 32 ? v >>> 0 : v & ((1 << bits) - 1);
}

/** Messages from each peer, read in chunk order. */
export class Inbox {
  private readonly boxes = new Map<PartyId, { words: BigUint64Array; at: number }>();

  constructor(private readonly op: string, from: readonly PartyId[], got: BigUint64Array[]) {
    from.forEach((f, i) => this.boxes.set(f, { words: got[i], at: 0 }));
  }

  words(peer: PartyId, count: number): BigUint64Array {
    const box = this.boxes.get(peer)!;
    const part = box.words.subarray(box.at, box.at + count);
    box.at += count;
    if (part.length !== count) throw new Error(`${this.op}: message from party ${peer} is ${box.words.length} words, too short`);
    return part;
  }

  take(peer: PartyId, count: number): Uint32Array {
    return u32(this.words(peer, count));
  }
}

/** Messages to one peer, in chunk order, as one message. */
export function concatWords(parts: BigUint64Array[]): BigUint64Array {
  if (parts.length === 1) return parts[0];
  const out = zeroWords(parts.reduce((s, q) => s + q.length, 0));
  let at = 0;
  for (const q of parts) {
    out.set(q, at);
    at += q.length;
  }
  return out;
}

